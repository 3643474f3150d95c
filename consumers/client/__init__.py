"""The async client library agencies embed to call the linkage hub.

    card = open_card(Path("officer.card.json"), pin)     # linkage.officercard: on the officer's side
    async with HubClient.from_home("~/.linkage", "phrae-municipality") as hub:
        officer = hub.officer(card)                         # signs in when needed, again before the end
        printout = await officer.fetch_document("dopa.person", "1101700230708", purpose="ขึ้นทะเบียนผู้สูงอายุ")
        printout.data["first_name_th"], printout.log_index, printout.checkpoint

or ``HubClient.connect(addresses, ca_cert, CertPaths(cert, key))`` without a sandbox.

- Errors: refusals raise the hub's own classes (``linkage.errors``: ``InvalidRequest``,
  ``PermissionDenied``, ``NotFound``, ``ProviderUnavailable``, …), rebuilt from the status
  details, so callers branch on ``err.code``, never on text. ``PrintoutRejected`` is the
  client's own: an answer that failed verification on receipt.
- Deadlines: ``timeout=`` on every call (default the client's), one deadline for all attempts.
- Retries (``RetryPolicy``): exponential backoff with jitter, on UNAVAILABLE only, for
  idempotent reads; a fetch is sent again only when the hub said it issued nothing.
- Officers sign in with their own key: ``officer(signer)`` keeps their session live and fetches under it;
  underneath, ``sign_in_officer(officer_id, signer)`` (the signer being their officer card or device) gives
  a session that fetches carry as ``officer_session=``, and each printout names it. The hub refuses a bare
  ``officer_id`` unless it runs with ``[hub] officer_sessions = "optional"``.
- Several hub addresses: gRPC's ``round_robin`` over all of them.
- Verification on receipt, on by default: seal and chain to the CA, log proof (with the log
  key), and that the printout answers the request sent. ``insecure_skip_verification=True``
  turns it off.
"""

from __future__ import annotations

from consumers.client.client import HUB_TLS_NAME, HubClient
from consumers.client.errors import ClientSetupError, PrintoutRejected
from consumers.client.officer import OfficerSession, OfficerSigner, SignedInOfficer
from consumers.client.printout import Printout, receive
from consumers.client.retry import DEFAULT_RETRY, NO_RETRY, RetryPolicy
from linkage.seal import FetchRequest

__all__ = [
    "DEFAULT_RETRY",
    "HUB_TLS_NAME",
    "NO_RETRY",
    "ClientSetupError",
    "FetchRequest",
    "HubClient",
    "OfficerSession",
    "OfficerSigner",
    "Printout",
    "PrintoutRejected",
    "RetryPolicy",
    "SignedInOfficer",
    "receive",
]
