"""Real, valid inputs of every parser in the verifier, made by the live stack, and the targets that fuzz them.

``Corpus.build`` fetches printouts of one citizen from a running hub and makes from them
what the verifier reads: a bundle (as ``linkage fetch --out`` writes it), a bare JWS, the
signed checkpoint note, the counter's QR summary and its picture, and the certified PDF.
It keeps the keys that made them, so that mutated contents can be signed again and get
past the signature to the parsing behind it.

``targets(corpus)`` are the fuzz targets: a name, a hypothesis strategy of inputs, and a
function that feeds one input to a parser and returns how it ended (``valid``, ``invalid``,
``ok`` or the error's class) and what went wrong (None: the parser answered, or raised only
its own error family):

    audit:file        parse_input + verify_input (offline): bundle, JWS, QR text, anything
    audit:paper       the same on mutated certified PDFs and QR pictures, both formats (slow: pyHanko, zxing)
    checkpoint        linkage.checkpoint: open_checkpoint (bare keys and key windows, signed-at
                      lines), open_note, Checkpoint.from_text, parse_verifier_key
    summary           consumers.auditor.summary.verify_summary (the JWS summary of copies printed before)
    papercode         consumers.auditor.papercode: join_parts + verify_paper_code (tests/fuzz/papercode.py)
    keys              linkage.keys: the pinned key sets an auditor reads (log-keys.json, seal-keys.json)
    state             consumers.auditor.state: the checkpoints an auditor saw before (--state FILE)
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import strategies as st

from consumers.auditor.bundle import parse_input
from consumers.auditor.dispatch import verify_input
from consumers.auditor.errors import VerificationError
from consumers.auditor.papercode import make_paper_code
from consumers.auditor.state import AuditorState
from consumers.auditor.summary import SummaryError, SummaryTrust, make_summary, verify_summary
from consumers.auditor.trustinputs import TrustInputs
from consumers.auditor.verify import Trust
from consumers.counter.paper import qr_png
from consumers.counter.printout import CounterSigner, PrintCase, case_claims, render_case_pdf, sign_pdf
from linkage import checkpoint as cp
from linkage.checkpoint import SIGNED_AT
from linkage.config import Home
from linkage.keyset import KeySetError, load_log_keys, load_seal_keys, log_key_set, seal_key_set
from linkage.pki import load_private_key
from linkage.seal import b64url_encode
from linkage.v1 import hub_pb2
from providers import document_types
from tests.fuzz.papercode import paper_code_inputs, verify_code
from tests.fuzz.strategies import mutated_bytes, mutated_json, mutated_text
from tests.fuzz.surface import MUNI, Surface

__all__ = ["Corpus", "Target", "targets"]

_DOC_TYPES = ("dopa.person", "dopa.house", "dopa.card")
# JSON nested past the recursion limit: json.loads raises RecursionError, which is no ValueError.
DEEP_JSON = "[" * 100_000 + "]" * 100_000
_OFFSETS = st.integers(-1439, 1439).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))


@dataclass(frozen=True)
class Corpus:
    home: Home
    trust: Trust
    summary_trust: SummaryTrust
    docs: tuple[dict[str, Any], ...]  # bundles (JSON objects)
    note: str  # the signed checkpoint of the last bundle
    note_signer: cp.NoteSigner
    summary: str
    agency_key: ec.EllipticCurvePrivateKey
    agency_cert: x509.Certificate
    seal_key: ec.EllipticCurvePrivateKey
    pdf: bytes
    picture: bytes
    paper_code: str  # the paper code of the case, one QR text
    paper_parts: tuple[str, ...]  # the same, cut into parts
    paper_picture: bytes

    @property
    def bundle(self) -> dict[str, Any]:
        return self.docs[-1]

    @property
    def jws(self) -> str:
        return str(self.bundle["jws"])

    @staticmethod
    def build(surface: Surface) -> Corpus:
        """Fetch three printouts of one citizen (present at the counter) and make every paper form from them."""
        home = surface.stack.home
        settings = surface.stack.settings
        person = next(p for p in surface.personas if p["kind"] == "citizen" and set(_DOC_TYPES) <= set(p["doc_types"])
                      and p.get("card"))
        officer = sorted(settings.agencies[MUNI].officers)[0]
        fetch = next(m for m in surface.methods if m.name == "LinkageHub/FetchDocument")
        session = surface.session if surface.session is not None else surface.sign_in(MUNI, officer)
        answers = []
        for doc_type in _DOC_TYPES:
            request = hub_pb2.FetchDocumentRequest(doc_type=doc_type, subject_id=str(person["id"]),
                                                   purpose="ขึ้นทะเบียนผู้สูงอายุ", officer_id=officer,
                                                   case_ref="PHR-2569-0099", officer_session=session.secret)
            if doc_type == "dopa.card":  # the citizen's card proves they are present
                request = surface.present(MUNI, request)
            outcome = surface.call(fetch, MUNI, request.SerializeToString())
            assert outcome.response is not None, outcome
            answers.append(hub_pb2.FetchDocumentResponse.FromString(outcome.response))
        docs = tuple(_bundle(a) for a in answers)
        signer = CounterSigner.from_home(home, MUNI)
        name = f"{person['card']['first_name_th']} {person['card']['last_name_th']}"
        case = PrintCase(service_name="ขึ้นทะเบียนรับเงินเบี้ยยังชีพผู้สูงอายุ", doc_types=document_types(),
                         subject_id=str(person["id"]),
                         subject_name=name, officer_name="นางสาวสุดารัตน์ ทองดี", officer_id=officer,
                         agency_title=settings.agencies[MUNI].title, case_ref="PHR-2569-0099",
                         printouts=tuple(a.jws for a in answers))
        summary = make_summary(case.printouts, name, signer.key, signer.cert, at=case.printed_at,
                               officer_id=officer, case_ref=case.case_ref)
        pdf = sign_pdf(render_case_pdf(case, signer), signer, officer_name=case.officer_name,
                       officer_id=officer, location=case.agency_title)
        [code] = make_paper_code(case_claims(case), signer.key, signer.cert)
        parts = make_paper_code(case_claims(case), signer.key, signer.cert, part_chars=500)
        note_key = serialization.load_pem_private_key(home.log_note_key.read_bytes(), password=None)
        assert isinstance(note_key, Ed25519PrivateKey)
        return Corpus(
            home=home, trust=TrustInputs(home=home.root).load(agencies=True),
            summary_trust=SummaryTrust.from_pki_dir(home.pki), docs=docs, note=answers[-1].checkpoint.note,
            note_signer=cp.NoteSigner(settings.hub.log_origin, note_key), summary=str(summary),
            agency_key=signer.key, agency_cert=signer.cert, seal_key=load_private_key(home.seal.key), pdf=pdf,
            picture=qr_png(str(summary), scale=3), paper_code=code, paper_parts=tuple(parts),
            paper_picture=qr_png(code, scale=3))

    # -- signing mutated contents again ----------------------------------------------------------------------------

    def sealed(self, payload: str) -> str:
        """A printout whose payload is ``payload`` (any text), under the hub's real header and seal key."""
        return _es256(self.jws.split(".")[0], payload.encode("utf-8"), self.seal_key)

    def summary_signed(self, header: str, payload: str) -> str:
        """A QR summary of ``header`` and ``payload`` (any text), signed with the real agency key."""
        return _es256(b64url_encode(header.encode("utf-8")), payload.encode("utf-8"), self.agency_key)

    def note_signed(self, body: str) -> str | None:
        """``body`` as a note signed with the log's real key; None when sign_note refuses to sign it."""
        try:
            return cp.sign_note(body, [self.note_signer])
        except cp.CheckpointError:
            return None


def _es256(header_b64: str, payload: bytes, key: ec.EllipticCurvePrivateKey) -> str:
    signing_input = f"{header_b64}.{b64url_encode(payload)}"
    r, s = decode_dss_signature(key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{b64url_encode(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def _bundle(doc: hub_pb2.FetchDocumentResponse) -> dict[str, Any]:
    """What ``linkage fetch --out`` writes (consumers.client.printout.Printout.bundle)."""
    return {
        "printout_id": doc.printout_id, "doc_type": doc.doc_type, "log_index": doc.log_index,
        "issued_at": doc.issued_at, "jws": doc.jws, "log_leaf": doc.log_leaf.decode("utf-8"),
        "inclusion_proof": {"leaf_index": doc.inclusion_proof.leaf_index, "tree_size": doc.inclusion_proof.tree_size,
                            "hashes": [base64.b64encode(h).decode("ascii") for h in doc.inclusion_proof.hashes]},
        "checkpoint": doc.checkpoint.note,
    }


# --- targets ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    name: str
    inputs: st.SearchStrategy[Any]
    run: Callable[[Any], tuple[str, str | None]]  # how it ended, and what went wrong (None: nothing)


def _only(allowed: tuple[type[BaseException], ...], call: Callable[[], object]) -> tuple[str, str | None]:
    """How ``call`` ended (its result's validity, or the error's class) and, unless it returned or raised one
    of ``allowed``, what went wrong: the exception and where it came from."""
    try:
        result = call()
    except allowed as exc:
        return type(exc).__name__, None
    except Exception as exc:
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        return type(exc).__name__, (f"{type(exc).__name__}: {str(exc)[:200]} (at {frame.filename}:{frame.lineno}"
                                    f" in {frame.name})")
    valid = getattr(result, "valid", None)
    return ("ok" if valid is None else "valid" if valid else "invalid"), None


def _with(doc: dict[str, Any], key: str, value: Any) -> bytes:
    return json.dumps({**doc, key: value}, ensure_ascii=False).encode("utf-8")


def _file_inputs(c: Corpus) -> st.SearchStrategy[bytes]:
    doc = c.bundle
    payload = json.loads(base64.urlsafe_b64decode(c.jws.split(".")[1] + "=="))
    leaf = json.loads(doc["log_leaf"])
    docs = st.sampled_from(list(c.docs))
    return st.one_of(
        st.binary(max_size=512),
        st.one_of([mutated_bytes(json.dumps(d).encode()) for d in c.docs]),
        mutated_json(doc).map(str.encode),
        # The nested documents: the leaf's JSON, the checkpoint note, the JWS, each altered inside the bundle.
        mutated_json(leaf).map(lambda text: _with(doc, "log_leaf", text)),
        mutated_text(doc["checkpoint"]).map(lambda text: _with(doc, "checkpoint", text)),
        mutated_text(c.jws).map(lambda text: _with(doc, "jws", text)),
        st.builds(lambda d, other: _with(d, "jws", other["jws"]), docs, docs),  # another printout's proof
        mutated_text(c.jws).map(str.encode),
        mutated_text(c.summary).map(str.encode),
        mutated_text(c.paper_code).map(str.encode),
        st.lists(st.sampled_from(c.paper_parts), max_size=4).map(lambda parts: "\n".join(parts).encode()),
        # A payload changed and sealed again with the real key: the checks behind the signature.
        mutated_json(payload).map(lambda text: _with(doc, "jws", c.sealed(text))),
        mutated_json(payload).map(lambda text: c.sealed(text).encode()),
    )


def _verify_file(c: Corpus) -> Callable[[bytes], tuple[str, str | None]]:
    def run(raw: bytes) -> tuple[str, str | None]:
        return _only((VerificationError,), lambda: verify_input(parse_input(raw, "fuzz"), c.trust))

    return run


def _paper_inputs(c: Corpus) -> st.SearchStrategy[bytes]:
    return st.one_of(mutated_bytes(c.pdf), mutated_bytes(c.picture), mutated_bytes(c.paper_picture),
                     st.binary(max_size=64).map(
        lambda junk: b"%PDF-1.7\n" + junk), st.binary(max_size=64).map(lambda junk: b"\x89PNG\r\n\x1a\n" + junk))


def _checkpoint_inputs(c: Corpus) -> st.SearchStrategy[tuple[str, str | bytes]]:
    body, _, _ = c.note.partition("\n\n")
    vkey = c.note_signer.vkey()
    kinds = st.sampled_from(("note", "windowed"))
    # A body changed and signed again: the checkpoint parser behind the signature, with and without a
    # signed-at line (which only a key with a window reads).
    resigned = st.one_of(mutated_text(body + "\n"), mutated_text(f"{body}\n{SIGNED_AT}2026-11-26T01:02:03Z\n")).map(
        c.note_signed).filter(lambda note: note is not None)
    return st.one_of(
        st.tuples(kinds, mutated_text(c.note)),
        st.tuples(st.just("note"), st.binary(max_size=256)),
        st.tuples(st.just("note"), mutated_bytes(c.note.encode())),
        st.tuples(kinds, resigned),
        st.tuples(st.just("text"), mutated_text(body + "\n")),
        st.tuples(st.just("vkey"), mutated_text(vkey)),
    )


def _open_checkpoint(c: Corpus) -> Callable[[tuple[str, str | bytes]], tuple[str, str | None]]:
    verifier = c.note_signer.verifier()
    window = cp.KeyWindow(verifier, dt.datetime(2020, 1, 1, tzinfo=dt.UTC), dt.datetime(2036, 1, 1, tzinfo=dt.UTC))
    origin = c.note_signer.name

    def run(item: tuple[str, str | bytes]) -> tuple[str, str | None]:
        kind, value = item
        if kind == "text":
            return _only((cp.CheckpointError,), lambda: cp.Checkpoint.from_text(str(value)))
        if kind == "vkey":
            return _only((cp.CheckpointError,), lambda: cp.parse_verifier_key(str(value)))
        if kind == "windowed":
            return _only((cp.CheckpointError,), lambda: cp.open_checkpoint(value, [window], origin))
        return _only((cp.CheckpointError,), lambda: (cp.open_checkpoint(value, [verifier], origin),
                                                     cp.open_note(value, [verifier])))

    return run


def _key_set_inputs(c: Corpus) -> st.SearchStrategy[tuple[str, bytes]]:
    """The documents ``linkage keys rotate`` publishes, for the sandbox's keys as they are, then mutated."""
    log = {"version": 1, "keys": [{"vkey": k.verifier.vkey(), "not_before": "2026-01-01T00:00:00Z",
                                   "retired_at": None} for k in log_key_set(c.home)]}
    seal = {"version": 1, "keys": [{"kid": k.kid, "cert_sha256": k.cert_sha256, "not_before": None,
                                    "retired_at": "2036-01-01T00:00:00Z"} for k in seal_key_set(c.home)]}
    return st.one_of(
        st.tuples(st.just("log"), mutated_json(log).map(str.encode)),
        st.tuples(st.just("seal"), mutated_json(seal).map(str.encode)),
        st.tuples(st.sampled_from(("log", "seal")), mutated_bytes(json.dumps(log).encode()) | st.binary(max_size=64)),
    )


def _load_key_set(c: Corpus) -> Callable[[tuple[str, bytes]], tuple[str, str | None]]:
    path = c.home.root / "fuzz-keys.json"

    def run(item: tuple[str, bytes]) -> tuple[str, str | None]:
        kind, data = item
        path.write_bytes(data)
        load = load_log_keys if kind == "log" else load_seal_keys
        return _only((KeySetError,), lambda: load(path))

    return run


def _summary_inputs(c: Corpus) -> st.SearchStrategy[str]:
    header_b64, payload_b64, _ = c.summary.split(".")
    header = json.loads(base64.urlsafe_b64decode(header_b64 + "=="))
    payload = json.loads(base64.urlsafe_b64decode(payload_b64 + "=="))
    real_header = json.dumps(header)
    return st.one_of(
        mutated_text(c.summary),
        st.text(max_size=200),
        # Changed and signed again with the agency's real key: the payload checks behind the signature.
        mutated_json(payload).map(lambda text: c.summary_signed(real_header, text)),
        mutated_json(header).map(lambda text: c.summary_signed(text, json.dumps(payload))),
        st.builds(lambda at: c.summary_signed(real_header, json.dumps({**payload, "at": at})), st.one_of(
            st.sampled_from(("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-01-01T00:00:00",
                             "2026-01-01", "2026-13-01T00:00:00Z")),
            st.datetimes(timezones=st.none() | _OFFSETS).map(lambda d: d.isoformat()))),
    )


def _verify_summary(c: Corpus) -> Callable[[str], tuple[str, str | None]]:
    def run(text: str) -> tuple[str, str | None]:
        return _only((SummaryError,), lambda: verify_summary(text, c.summary_trust))

    return run


def _state_inputs(c: Corpus) -> st.SearchStrategy[bytes]:
    """The state file an auditor keeps after verifying the corpus's printouts, then mutated."""
    path = c.home.root / "fuzz-state-seed.json"
    state = AuditorState(path)
    signer = c.note_signer
    for doc in c.docs:
        note = str(doc["checkpoint"])
        state.remember(cp.open_checkpoint(note, [signer.verifier()], signer.name), note)
    state.save()
    data = path.read_bytes()
    return st.one_of(mutated_json(json.loads(data)).map(str.encode), mutated_bytes(data))


def _load_state(c: Corpus) -> Callable[[bytes], tuple[str, str | None]]:
    path = c.home.root / "fuzz-state.json"

    def run(data: bytes) -> tuple[str, str | None]:
        path.write_bytes(data)
        return _only((VerificationError,), lambda: AuditorState.load(path))

    return run


def targets(c: Corpus) -> list[Target]:
    return [
        Target("audit:file", _file_inputs(c), _verify_file(c)),
        Target("audit:paper", _paper_inputs(c), _verify_file(c)),
        Target("checkpoint", _checkpoint_inputs(c), _open_checkpoint(c)),
        Target("summary", _summary_inputs(c), _verify_summary(c)),
        Target("papercode", paper_code_inputs(c.paper_code, c.paper_parts, c.agency_key, c.agency_cert),
               lambda texts: _only((SummaryError,), lambda: verify_code(c.summary_trust)(texts))),
        Target("keys", _key_set_inputs(c), _load_key_set(c)),
        Target("state", _state_inputs(c), _load_state(c)),
    ]

