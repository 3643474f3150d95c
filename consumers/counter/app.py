"""The counter desk: an aiohttp app where an officer fetches documents instead of asking for copies.

    create_app(settings)          the Application; raises ManualError / ConfigError at start
    serve(home, port, ready)      run it until cancelled (``linkage up`` calls this)

State lives under typed ``web.AppKey``s; the hub client and the SQLite store are
opened and closed in ``cleanup_ctx``; every route is listed in routes.py; one
middleware turns every failure into a Thai / English page, never exception text.

    settings.py      CounterSettings, read once ([counter] of linkage.toml, LINKAGE_COUNTER_* variables)
    state.py         CounterState and the typed keys of app and request state
    app.py           the factory and serve
    routes.py        every route, and which need no sign-in
    middlewares.py   error pages, sessions, CSRF, security headers
    pages.py         what every view shares: rendering, language, session, cookies, 404s
    views/           the views, one module per group: signin, manuals, cases, reports, complaints, me, verify,
                     fonts, applications, disbursements
    allowances/      the allowances paid through PromptPay: the monthly payment run, its batches and report
    applications/    application forms prefilled from the case's printouts, stored and printed signed
    display.py       printout data as the counter shows it: labelled rows, Thai dates, masked IDs
    reasons.py       why a document could not be fetched, in Thai and English, and whether a retry helps
    printout.py      the certified PDF (typeset.py: its Thai text; paper.py: its QR code); store.py the
                     SQLite store; sessions.py, throttle.py (failed sign-ins), manuals.py, errors.py
    follow-through   queue.py (booking, walk-ins, calling), tracking.py (status timeline, outbox), feedback.py,
                     complaint_desk.py (owner, replies, escalation), cut.py with charts.py and replay.py (the cut
                     measured); their tables in ledger.py
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import jinja2
from aiohttp import web
from cryptography import x509

from consumers.client import HubClient
from consumers.counter.allowances.rules import load_rules
from consumers.counter.applications.forms import FORMS, load_forms
from consumers.counter.complaint_desk import ComplaintDesk, SpamGuard
from consumers.counter.display import masked_id
from consumers.counter.english import ENGLISH, load_english
from consumers.counter.feedback import Feedback
from consumers.counter.manuals import load_manuals
from consumers.counter.middlewares import csrf_middleware, error_middleware, security_headers, session_middleware
from consumers.counter.printout import CounterSigner
from consumers.counter.queue import Queue, load_hours
from consumers.counter.routes import add_routes
from consumers.counter.sessions import Limiter, SessionStore
from consumers.counter.settings import CounterSettings
from consumers.counter.state import COMPLAINTS, FEEDBACK, HUB, QUEUE, RULES, STATE, STORE, TRACKER, CounterState
from consumers.counter.store import CounterStore
from consumers.counter.throttle import SigninThrottle
from consumers.counter.tracking import Tracker
from linkage.config import ConfigError, Home, load_settings
from linkage.metrics import add_http_metrics

__all__ = ["CounterSettings", "create_app", "serve"]

_TEMPLATES = Path(__file__).resolve().parent / "templates"


def create_app(settings: CounterSettings) -> web.Application:
    """The counter app. Raises ManualError for a bad manual file, ConfigError for an unknown agency and
    SignerUnavailable when the agency's signing certificate cannot be loaded."""
    manuals = load_manuals(settings.manuals)
    linkage_settings = load_settings(settings.home)
    agency = linkage_settings.agencies.get(settings.agency)
    if agency is None:
        raise ConfigError(f"{settings.home.config_file}: no agency {settings.agency!r};"
                          f" known: {', '.join(sorted(linkage_settings.agencies))}")
    templates = jinja2.Environment(loader=jinja2.FileSystemLoader(_TEMPLATES),
                                   autoescape=True, undefined=jinja2.StrictUndefined)
    templates.filters["masked_id"] = masked_id
    state = CounterState(
        settings=settings, agency=agency, manuals=manuals, templates=templates,
        ca_root=x509.load_pem_x509_certificate(settings.home.ca.cert.read_bytes()),
        sessions=SessionStore(settings.session_ttl),
        limiter=Limiter(settings.card_check_attempts),
        throttle=SigninThrottle(settings.signin_per_id, settings.signin_per_address),
        verify_limiter=Limiter(settings.verify_limit),
        signer=CounterSigner.from_home(settings.home, settings.agency, tsa_url=settings.tsa_url),
        agency_titles={name: a.title or name for name, a in linkage_settings.agencies.items()},
        sessions_required=linkage_settings.hub.officer_sessions == "required",
    )
    app = web.Application(middlewares=[error_middleware, session_middleware, csrf_middleware],
                          client_max_size=64 * 1024)
    app[STATE] = state
    app[FORMS] = load_forms(settings.manuals / "forms", manuals)  # each service's application form
    app[ENGLISH] = load_english(settings.manuals / "en", manuals)  # the manuals' English text
    rates = settings.manuals / "allowances" / "rates.toml"
    if rates.exists():  # the allowances paid through PromptPay (allowances/): a wrong file stops the start
        app[RULES] = load_rules(rates, manuals)
    hours = load_hours(settings.manuals / "queue" / "hours.toml", list(manuals))
    app.cleanup_ctx.append(_hub_ctx)
    app.cleanup_ctx.append(_store_ctx)

    async def _follow_up(app: web.Application) -> None:  # after the store is open
        app[QUEUE] = Queue(app[STORE], hours)
        app[TRACKER] = Tracker(app[STORE], manuals)
        app[FEEDBACK] = Feedback(app[STORE])
        app[COMPLAINTS] = ComplaintDesk(app[STORE], settings.complaint_escalate_days,
                                        SpamGuard(settings.complaints_per_address))
        app[SWEEP] = asyncio.create_task(_sweep(app, settings.followup_sweep_s), name="counter-follow-up")

    async def _stop_sweep(app: web.Application) -> None:
        app[SWEEP].cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await app[SWEEP]
    app.on_startup.append(_follow_up)
    app.on_cleanup.insert(0, _stop_sweep)  # before the store closes
    app.on_response_prepare.append(security_headers)
    add_http_metrics(app)  # GET /metrics: requests by route name and status, nothing about a person
    add_routes(app)
    return app


_log = logging.getLogger("linkage.counter")
SWEEP = web.AppKey("sweep", asyncio.Task[None])


async def _sweep(app: web.Application, every: float) -> None:
    """On time, whether or not anyone opens a page: unanswered complaints go to the OPDC, cases past the manual's
    deadline are flagged to the office head. A failed round is logged and tried again next time."""
    while True:
        try:
            app[COMPLAINTS].escalate_due()
            app[TRACKER].open_tracks(app[STATE].agency.name)
        except Exception:
            _log.exception("the follow-up round failed; trying again in %.0f s", every)
        await asyncio.sleep(every)


async def _hub_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[STATE].settings
    # LINKAGE_COUNTER_HUB may name several hub replicas, comma-separated: calls are spread round-robin.
    addresses = [a.strip() for a in settings.hub_address.split(",") if a.strip()]
    hub = HubClient.connect(addresses, settings.home.ca.cert, settings.home.client_cert(settings.agency))
    app[HUB] = hub
    try:
        yield
    finally:
        await hub.close()


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[STATE].settings
    store = CounterStore(settings.database or settings.home.data / "counter.sqlite", case_ttl=settings.case_ttl)
    app[STORE] = store
    try:
        yield
    finally:
        store.close()


async def serve(home: Home, port: int | None, ready: Callable[[int], None]) -> None:
    """Run the counter for home until cancelled, on its settings' host and on ``port`` (None: the settings' port,
    0: any free one); ready(bound_port) once listening."""
    settings = CounterSettings.from_env(home)
    if port is None:
        port = settings.port
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, port)
        await site.start()
        ready(int(runner.addresses[0][1]))
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
