"""Officers sign in at the counter in tests as they do at a desk: with their passkey, through its real pages.

Over HTTP (no browser) the passkey is a ``tests.webauthn.SoftPasskey``: enrolled once per sandbox through the
counter's /enrol pages with the officer's one-time code (``linkage init`` issued the counter's officers one;
``linkage.cli.officers.enrolment_code`` renews it), then answering /signin/passkey's challenge. It claims the
origin the hub trusts for the test's counter (``RunningStack.counter_origin``), whichever counter enrolled it.

In the browser, Chromium's virtual authenticator (Chrome DevTools' WebAuthn domain) is given that same passkey
(``WebAuthn.addCredential``), and the officer signs in on the passkey page as a person would.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from linkage.cli.officers import enrolment_code
from linkage.config import Home, Settings
from linkage.enrolments import ENROLMENTS, add_code
from tests.webauthn import SoftPasskey

__all__ = ["HttpClient", "add_virtual_passkey", "browser_passkey", "counter_origin", "enrolled", "http_sign_in",
           "virtual_authenticator"]

_ENROLLED: dict[tuple[str, str, str], SoftPasskey] = {}  # (sandbox folder, agency, officer) -> their passkey


HttpClient = aiohttp.ClientSession | TestClient[Any, Any]
"""An HTTP client of the counter that keeps its cookies: aiohttp's test client (paths), or a session (URLs)."""


def counter_origin(settings: Settings) -> str:
    """The counter origin whose passkey assertions a hub of these settings accepts: http://localhost:PORT of
    [counter], or the first of [hub] webauthn_origins."""
    return (settings.hub.webauthn_origins or (f"http://localhost:{settings.counter.port}",))[0]


async def _csrf(client: HttpClient, path: str) -> str:
    async with client.get(path) as resp:  # path may be a whole URL
        assert resp.status == 200, (path, resp.status)
        found = re.search(r'name="csrf" value="([^"]+)"', await resp.text())
    assert found, f"no CSRF field in {path}"
    return found.group(1)


async def _post_json(client: HttpClient, path: str, data: dict[str, str]) -> dict[str, Any]:
    async with client.post(path, data=data) as resp:
        body: dict[str, Any] = await resp.json()
        assert resp.status == 200, (path, resp.status, body)
    return body


async def enrolled(client: HttpClient, home: Home, agency: str, officer: str, origin: str,
                   base: str = "") -> SoftPasskey:
    """The officer's passkey in this sandbox: enrolled through the counter's /enrol pages the first time (at
    ``base``, the counter's URL, for a client that has none of its own)."""
    known = _ENROLLED.get((str(home.root), agency, officer))
    if known is not None:
        return known
    # The code `linkage init` issued (renewed when expired); one of their own for an officer who already holds a
    # passkey made elsewhere (a browser's): an officer may hold several.
    code = enrolment_code(home, agency, officer) or add_code(home.pki / ENROLMENTS, officer, agency)
    passkey = SoftPasskey()
    token = await _csrf(client, f"{base}/enrol")
    begun = await _post_json(client, f"{base}/enrol/begin", {"csrf": token, "officer_id": officer, "code": code})
    await _post_json(client, f"{base}/enrol/finish", {"csrf": token, "officer_id": officer, "code": code,
                                                      "credential": passkey.register(begun["options"], origin)})
    _ENROLLED[str(home.root), agency, officer] = passkey
    return passkey


async def http_sign_in(client: HttpClient, home: Home, agency: str, officer: str, origin: str,
                       target: str = "/", base: str = "") -> str:
    """Sign the officer in at the counter (at ``base``, as for ``enrolled``) with their passkey, enrolled first
    when needed; returns where the counter sends them next. The client then holds the session cookie."""
    passkey = await enrolled(client, home, agency, officer, origin, base)
    token = await _csrf(client, f"{base}/signin/passkey")
    begun = await _post_json(client, f"{base}/signin/passkey/begin", {"csrf": token, "officer_id": officer})
    done = await _post_json(client, f"{base}/signin/passkey/finish", {
        "csrf": token, "officer_id": officer, "statement": begun["statement"], "next": target,
        "assertion": passkey.assert_(begun["options"], origin)})
    return str(done["next"])


async def virtual_authenticator(ctx: Any, page: Any) -> tuple[Any, str]:
    """A CDP session on page and a virtual platform authenticator in it that always finds the user present and
    verified: (session, authenticator id)."""
    cdp = await ctx.new_cdp_session(page)
    await cdp.send("WebAuthn.enable")
    added = await cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True}})
    return cdp, str(added["authenticatorId"])


async def add_virtual_passkey(cdp: Any, authenticator: str, passkey: SoftPasskey) -> None:
    """Put the officer's passkey in the browser's virtual authenticator."""
    await cdp.send("WebAuthn.addCredential", {"authenticatorId": authenticator, "credential": {
        "credentialId": base64.b64encode(passkey.credential_id).decode("ascii"), "isResidentCredential": False,
        "rpId": passkey.rp_id, "privateKey": passkey.pkcs8(), "signCount": passkey.sign_count,
        "userHandle": base64.b64encode(passkey.user_handle).decode("ascii")}})


async def browser_passkey(ctx: Any, page: Any, base_url: str, home: Home, agency: str, officer: str,
                          origin: str) -> None:
    """Give page's browser the officer's passkey (enrolled first, over HTTP at the counter of base_url, when
    needed), in a virtual authenticator: the officer then signs in on the passkey page as a person would (/signin
    leads there), typing their ID and confirming."""
    known = _ENROLLED.get((str(home.root), agency, officer))
    if known is None:
        async with aiohttp.ClientSession(base_url.replace("//localhost:", "//127.0.0.1:"),
                                         cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            known = await enrolled(http, home, agency, officer, origin)
    cdp, authenticator = await virtual_authenticator(ctx, page)
    await add_virtual_passkey(cdp, authenticator, known)
