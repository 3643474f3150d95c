"""The witness's HTTP server: an aiohttp app from a factory, serving C2SP tlog-witness on plain HTTP.

    create_app(witness)                  the Application: POST /add-checkpoint, GET /<origin hash>/checkpoint,
                                         GET /metrics
    serve(witness, host, port, ready)    run it until cancelled; ready(bound_port) once it listens
    witness_from_home(home, name)        the sandbox's witness NAME: DIR/pki/witnesses/NAME.key, its state in
                                         DIR/data/witness-NAME.json, the hub's log and its published keys

No TLS and no authentication, as the spec has it: the witness trusts only signatures, and what it returns is
a signature anyone can check. One middleware turns every refusal into its status and a one-line text body
(never exception text); a 409 carries the witness's size as ``text/x.tlog.size``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from linkage.checkpoint import CheckpointError, KeyWindow, NoteVerifier
from linkage.config import ConfigError, Home, file_stamp, load_settings
from linkage.cosignature import Cosigner, parse_witness_key
from linkage.keyset import LOG_KEYS, KeySetError, log_key_set
from linkage.metrics import REASON, add_http_metrics
from linkage.witness.state import WitnessState
from linkage.witness.witness import KnownLog, SizeConflict, Witness, WitnessRefusal
from linkage.witness_protocol import ADD_CHECKPOINT, MAX_BODY, SIZE_CONTENT_TYPE

__all__ = ["WITNESS", "FollowedLogKeys", "create_app", "load_cosigner", "serve", "witness_from_home"]

_log = logging.getLogger("linkage.witness")

WITNESS = web.AppKey("witness", Witness)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _refusals(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except SizeConflict as exc:
        request[REASON] = exc.code
        return web.Response(status=exc.status, text=f"{exc.size}\n", content_type=SIZE_CONTENT_TYPE)
    except WitnessRefusal as exc:
        request[REASON] = exc.code
        return web.Response(status=exc.status, text=f"{exc.code}: {exc.message}\n")
    except web.HTTPException:
        raise
    except Exception:
        _log.exception("unexpected error on %s %s", request.method, request.path)
        return web.Response(status=500, text="internal error; the witness's log has the details\n")


async def _add_checkpoint(request: web.Request) -> web.Response:
    body = await request.read()
    # Synchronous on purpose: from the size check to the state on disk, no other request may run (witness.py).
    line = request.app[WITNESS].add_checkpoint(body)
    return web.Response(text=line, content_type="text/plain")


async def _checkpoint(request: web.Request) -> web.Response:
    note = request.app[WITNESS].latest(request.match_info["origin_hash"])
    if note is None:
        raise web.HTTPNotFound(text="this witness cosigned no checkpoint of that log\n")
    return web.Response(text=note, content_type="text/plain")


def create_app(witness: Witness) -> web.Application:
    """The witness's app; every route is here."""
    app = web.Application(middlewares=[_refusals], client_max_size=MAX_BODY)
    app[WITNESS] = witness
    add_http_metrics(app)
    app.router.add_post(ADD_CHECKPOINT, _add_checkpoint, name="add_checkpoint")
    app.router.add_get(r"/{origin_hash:[0-9a-f]{64}}/checkpoint", _checkpoint, name="checkpoint")
    return app


async def serve(witness: Witness, host: str, port: int, ready: Callable[[int], None]) -> None:
    """Run the witness on host:port (0: any free port) until cancelled; ready(bound_port) once listening.
    Raises OSError when the port is taken."""
    runner = web.AppRunner(create_app(witness), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        ready(int(runner.addresses[0][1]))
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


class FollowedLogKeys:
    """The hub log's keys as published in a sandbox (DIR/pki/log-keys.json, else DIR/pki/log-note.vkey), read
    again when either file changes (one stat of each per call), so the witness follows ``linkage keys rotate``.
    A key set that does not load keeps the keys loaded before (and says so in the log)."""

    def __init__(self, home: Home) -> None:
        self._home = home
        self._stamp: tuple[object, object] | None = None
        self._keys: tuple[KeyWindow, ...] = ()

    def __call__(self) -> Sequence[NoteVerifier | KeyWindow]:
        stamp = (file_stamp(self._home.pki / LOG_KEYS), file_stamp(self._home.log_note_vkey))
        if stamp != self._stamp:
            try:
                self._keys = log_key_set(self._home)
                self._stamp = stamp
            except KeySetError as exc:
                _log.error("the log's key set did not load, keeping the keys known before: %s", exc.message)
        return self._keys


def load_cosigner(home: Home, name: str) -> Cosigner:
    """The signing key of the sandbox's witness ``name``: DIR/pki/witnesses/NAME.key (PEM, PKCS 8, Ed25519),
    under the key name of DIR/pki/witnesses/NAME.vkey, which must be its public key. Raises ConfigError."""
    try:
        published = parse_witness_key(home.witness_vkey(name).read_text(encoding="ascii"))
        key = serialization.load_pem_private_key(home.witness_key(name).read_bytes(), password=None)
    except (OSError, UnicodeDecodeError, ValueError, CheckpointError) as exc:
        raise ConfigError(f"witness {name}: cannot read its key in {home.witness_key(name).parent} ({exc}); "
                          f"`linkage init` makes it") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{home.witness_key(name)}: a witness's key must be an Ed25519 private key")
    cosigner = Cosigner(published.name, key)
    if cosigner.witness_key() != published:
        raise ConfigError(f"{home.witness_key(name)} is not the key of {home.witness_vkey(name)}")
    return cosigner


def witness_from_home(home: Home, name: str) -> Witness:
    """The sandbox's witness ``name`` (``[witnesses.NAME]`` in linkage.toml). Raises ConfigError for an unknown
    name or a key that cannot be read, BadWitnessState for a state file that is not a witness's."""
    settings = load_settings(home)
    if name not in settings.witnesses:
        raise ConfigError(f"{home.config_file}: no witness {name!r}; configured: "
                          f"{', '.join(settings.witnesses) or 'none'}")
    cosigner = load_cosigner(home, name)
    state = WitnessState.load(home.witness_state(name))
    return Witness(cosigner, state, [KnownLog(settings.hub.log_origin, FollowedLogKeys(home))])
