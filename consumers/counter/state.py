"""The app's state under typed keys: ``STATE`` (CounterState), ``HUB`` (the hub client), ``STORE`` (the
SQLite store), ``QUEUE`` (the queue), ``RULES`` (the allowances' rates, when the manuals have them), and per
request the officer's ``SESSION`` and the anonymous CSRF token (``ANON``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import jinja2
from aiohttp import web
from cryptography import x509

from consumers.client import HubClient
from consumers.counter.allowances.rules import Rules
from consumers.counter.citizens import CitizenTokens
from consumers.counter.complaint_desk import ComplaintDesk
from consumers.counter.feedback import Feedback
from consumers.counter.manuals import Manual
from consumers.counter.printout import CounterSigner
from consumers.counter.queue import Queue
from consumers.counter.sessions import Limiter, Session, SessionStore
from consumers.counter.settings import CounterSettings
from consumers.counter.store import CounterStore
from consumers.counter.throttle import SigninThrottle
from consumers.counter.tracking import Tracker
from linkage.config import AgencyConfig
from linkage.errors import LinkageError
from linkage.v1 import common_pb2

__all__ = ["ANON", "COMPLAINTS", "FEEDBACK", "HUB", "QUEUE", "RULES", "SESSION", "SET_ANON", "STATE", "STORE",
           "TRACKER", "CounterState", "hub_doc_types"]

_log = logging.getLogger("consumers.counter")


@dataclass
class CounterState:
    settings: CounterSettings
    agency: AgencyConfig
    manuals: dict[str, Manual]
    templates: jinja2.Environment
    ca_root: x509.Certificate
    sessions: SessionStore
    limiter: Limiter
    throttle: SigninThrottle
    verify_limiter: Limiter
    signer: CounterSigner
    agency_titles: dict[str, str]
    doc_types: dict[str, common_pb2.DocumentType] = field(default_factory=dict)
    citizens: CitizenTokens = field(default_factory=CitizenTokens)
    # [hub] officer_sessions = "required" (the default): officers sign in with their passkey only, not the ID form.
    sessions_required: bool = True


STATE = web.AppKey("counter_state", CounterState)
HUB = web.AppKey("counter_hub", HubClient)
STORE = web.AppKey("counter_store", CounterStore)
SESSION = web.RequestKey("counter_session", Session)
ANON = web.RequestKey("counter_anon_csrf", str)
SET_ANON = web.RequestKey("counter_set_anon", bool)
QUEUE = web.AppKey("counter_queue", Queue)  # the queue (queue.py), on the store, set at start
TRACKER = web.AppKey("counter_tracker", Tracker)  # case tracking (tracking.py)
FEEDBACK = web.AppKey("counter_feedback", Feedback)  # citizens' ratings (feedback.py)
COMPLAINTS = web.AppKey("counter_complaints", ComplaintDesk)  # complaints' follow-up (complaint_desk.py)
RULES = web.AppKey("counter_allowance_rules", Rules)  # the allowances' rates and area (allowances/rules.py), if any


async def hub_doc_types(app: web.Application) -> Mapping[str, common_pb2.DocumentType]:
    """The document types the agency may fetch (field titles for labels), asked of the hub once."""
    state = app[STATE]
    if not state.doc_types:
        try:
            answer = await app[HUB].list_services()
        except LinkageError as err:
            _log.warning("ListServices failed: %s", err.code)
            return {}
        state.doc_types = {s.doc_type.code: s.doc_type for s in answer.services}
    return state.doc_types
