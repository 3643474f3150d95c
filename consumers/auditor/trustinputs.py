"""Where the auditor's trust comes from: the linkage CA, the log's verifier key (or pinned key set) and origin,
the seal and officer key sets, the witnesses' keys, the agency certificates, the CA's CRL and the card issuer's key,
each read from a sandbox folder (``--home DIR``) unless given explicitly (explicit wins).

TrustInputs.load reads them into a consumers.auditor.verify.Trust, raising BadTrustRoot naming the input that is
missing or unreadable. The commands that use them are consumers/auditor/cli.py.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding

from consumers.auditor.errors import BadTrustRoot
from consumers.auditor.verify import Trust, load_trust_root
from consumers.auditor.witnesses import WitnessTrust
from linkage.cards import CardError, load_issuer_public
from linkage.checkpoint import CheckpointError, KeyWindow, NoteVerifier, parse_verifier_key
from linkage.config import Home
from linkage.cosignature import WitnessKey, parse_witness_key
from linkage.keyset import LOG_KEYS, SEAL_KEYS, KeySetError, SealKey, load_log_keys, load_seal_keys
from linkage.officers import OFFICER_KEYS, OfficerKey, OfficerKeyError, load_officer_keys

__all__ = ["TrustInputs", "sandbox_endpoints"]

_K = TypeVar("_K")


@dataclass(frozen=True)
class TrustInputs:
    """Where the trust comes from: a sandbox folder, or each input explicitly (explicit wins)."""

    home: Path | None = None
    ca: Path | None = None
    log_key: str | None = None  # a file holding the verifier key, or the key text itself
    origin: str | None = None
    agencies: Path | None = None  # a folder of agency certificates (*.pem), for QR summaries
    seal_keys: Path | None = None  # a seal-keys.json to pin (default DIR/pki/seal-keys.json when it exists)
    witnesses: tuple[str, ...] = ()  # witnesses' verifier keys, each a file or the key text
    witness_quorum: int | None = None  # how many must have cosigned (None: a majority)
    crl: Path | None = None  # the linkage CA's CRL for check 12 (default DIR/pki/ca.crl when it exists)
    card_issuer: Path | None = None  # the civil registry's card-issuer key (default DIR/pki/card-issuer.pub)

    def load(self, *, agencies: bool = False) -> Trust:
        """The trust inputs; raises BadTrustRoot. The log key and origin may be None (a bare JWS needs neither).

        With ``agencies``, the agency certificates too (a QR summary names its signer by fingerprint only).
        """
        home = Home(self.home.resolve()) if self.home else None
        if self.ca is None and home is None:
            raise BadTrustRoot("no trust root: pass --ca FILE or --home DIR")
        ca = load_trust_root(self.ca or home.ca.cert)  # type: ignore[union-attr]
        certs = self._agencies(home) if agencies else ()
        log_keys = self._log_keys(home)
        log_key = log_keys[-1].verifier if log_keys else self._log_key(home)
        witnesses = self._witnesses(home)
        if self.witness_quorum is not None and not 1 <= self.witness_quorum <= len(witnesses):
            raise BadTrustRoot(f"--witness-quorum {self.witness_quorum}: it must be between 1 and the "
                               f"{len(witnesses)} witness key(s) given")
        return Trust(ca, log_key, self.origin or (_home_origin(home) if home else None), certs, log_keys,
                     self._seal_keys(home), WitnessTrust(witnesses, self.witness_quorum or 0) if witnesses else None,
                     _officer_keys(home), self._crls(home),
                     card_issuer=self._card_issuer(home))

    def _crls(self, home: Home | None) -> tuple[bytes, ...]:
        """--crl as DER, else the sandbox's DIR/pki/ca.crl when there is one; raises BadTrustRoot."""
        from linkage.crl import crl_path, load_crl

        path = self.crl or (crl_path(home.ca) if home is not None else None)
        if path is None or (self.crl is None and not path.exists()):
            return ()
        try:
            return (load_crl(path).public_bytes(Encoding.DER),)
        except (OSError, ValueError) as exc:
            raise BadTrustRoot(f"{path}: not a readable CRL ({exc})") from exc

    def _card_issuer(self, home: Home | None) -> Ed25519PublicKey | None:
        """--card-issuer-key, else the sandbox's DIR/pki/card-issuer.pub when there is one (check 11)."""
        path = self.card_issuer or (home.card_issuer if home is not None else None)
        if path is None or (self.card_issuer is None and not path.is_file()):
            return None
        try:
            return load_issuer_public(path)
        except (OSError, CardError) as exc:
            raise BadTrustRoot(f"--card-issuer-key {path}: {exc}") from None

    def _witnesses(self, home: Home | None) -> tuple[WitnessKey, ...]:
        """--witness keys (a file or the text each), else those of the witnesses the sandbox runs (``witnesses``
        in DIR/endpoints.json, which `linkage up` writes); each key once."""
        if self.witnesses:
            given = [(w, Path(w)) for w in self.witnesses]
        elif home is not None:
            listed = sandbox_endpoints(home).get("witnesses")
            given = [(str(w["vkey"]), Path(str(w.get("vkey_file", "")))) for w in listed.values()
                     if isinstance(w, dict) and isinstance(w.get("vkey"), str)] if isinstance(listed, dict) else []
        else:
            return ()
        keys: dict[WitnessKey, None] = {}
        for text, path in given:
            try:
                vkey = path.read_text(encoding="utf-8") if path.is_file() else text
                keys[parse_witness_key(vkey)] = None
            except (OSError, UnicodeDecodeError, CheckpointError) as exc:
                raise BadTrustRoot(f"{text[:120]}: not a witness's verifier key (cosignature/v1 vkey: {exc})") from exc
        return tuple(keys)

    def _log_keys(self, home: Home | None) -> tuple[KeyWindow, ...]:
        """A pinned log key set: --log-key naming a log-keys.json, else DIR/pki/log-keys.json when it exists."""
        if self.log_key is not None:
            path = Path(self.log_key)
            try:
                is_set = path.is_file() and path.read_text(encoding="utf-8").lstrip().startswith("{")
            except (OSError, UnicodeDecodeError):
                is_set = False  # _log_key says why it cannot be read
            return _key_set(load_log_keys, path) if is_set else ()
        if home is not None and (home.pki / LOG_KEYS).exists():
            return _key_set(load_log_keys, home.pki / LOG_KEYS)
        return ()

    def _seal_keys(self, home: Home | None) -> tuple[SealKey, ...]:
        path = self.seal_keys or (home.pki / SEAL_KEYS if home else None)
        if path is None or (self.seal_keys is None and not path.exists()):
            return ()
        return _key_set(load_seal_keys, path)

    def _agencies(self, home: Home | None) -> tuple[x509.Certificate, ...]:
        folder = self.agencies or (home.pki / "clients" if home else None)
        if folder is None:
            return ()
        try:
            paths = sorted(folder.glob("*.pem"))
        except OSError as exc:
            raise BadTrustRoot(f"{folder}: cannot list the agency certificates ({exc})") from exc
        if not paths:
            raise BadTrustRoot(f"{folder}: no agency certificates (*.pem) there")
        try:
            return tuple(load_trust_root(p) for p in paths)
        except BadTrustRoot as exc:
            raise BadTrustRoot(f"agency certificates in {folder}: {exc.message}") from exc

    def _log_key(self, home: Home | None) -> NoteVerifier | None:
        if self.log_key is not None:
            path = Path(self.log_key)
            try:
                text = path.read_text(encoding="utf-8") if path.is_file() else self.log_key
            except (OSError, UnicodeDecodeError) as exc:
                raise BadTrustRoot(f"{path}: cannot read the log's verifier key ({exc})") from exc
            return _parse_vkey(text, str(path))
        if home is None:
            return None
        path = home.pki / "log-note.vkey"
        try:
            return _parse_vkey(path.read_text(encoding="utf-8"), str(path))
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise BadTrustRoot(f"{path}: cannot read the log's verifier key ({exc})") from exc


def _officer_keys(home: Home | None) -> tuple[OfficerKey, ...] | None:
    """The officer key set to pin for check 10: DIR/pki/officer-keys.json, when there is one."""
    path = home.pki / OFFICER_KEYS if home else None
    if path is None or not path.exists():
        return None
    try:
        return load_officer_keys(path)
    except OfficerKeyError as exc:
        raise BadTrustRoot(str(exc)) from exc


def _key_set(load: Callable[[Path], tuple[_K, ...]], path: Path) -> tuple[_K, ...]:
    try:
        return load(path)
    except KeySetError as exc:
        raise BadTrustRoot(exc.message) from exc


def _parse_vkey(text: str, where: str) -> NoteVerifier:
    try:
        return parse_verifier_key(text.strip())
    except CheckpointError as exc:
        raise BadTrustRoot(f"{where}: not a note verifier key ({exc})") from exc


def _home_origin(home: Home) -> str | None:
    try:
        with home.config_file.open("rb") as f:
            hub = tomllib.load(f).get("hub", {})
        if isinstance(hub, dict) and isinstance(hub.get("log_origin"), str):
            return str(hub["log_origin"])
    except (OSError, tomllib.TOMLDecodeError):
        pass
    log = sandbox_endpoints(home).get("log")
    return str(log["origin"]) if isinstance(log, dict) and isinstance(log.get("origin"), str) else None


def sandbox_endpoints(home: Home) -> dict[str, Any]:
    """DIR/endpoints.json as `linkage up` writes it; {} when there is none or it is unreadable."""
    try:
        doc = json.loads(home.endpoints.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}
