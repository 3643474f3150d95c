"""Fuzz inputs for the paper code (consumers.auditor.papercode): its QR texts, one or a set of parts, mutated.

    texts altered        characters changed, removed or added in a code or in each part (mutated_text)
    sets broken          parts in any order, some missing, one repeated
    message altered      the COSE message's bytes mutated, then compressed and encoded again (past Base45
                         and zlib to the CBOR parser)
    payload altered      a field of the signed CBOR payload (or of its first document) replaced by any CBOR
                         value and signed again with the agency's real key (past the signature to the field
                         checks behind it)

The only errors ``join_parts`` and ``verify_paper_code`` may raise are the summary's family (SummaryError).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import strategies as st

from consumers.auditor.cose import b45decode, b45encode, sign1
from consumers.auditor.papercode import PREFIX, join_parts, kid_of, verify_paper_code
from consumers.auditor.paperdict import DICTIONARY_V1
from consumers.auditor.summary import SummaryTrust
from tests.fuzz.strategies import mutated_bytes, mutated_text

__all__ = ["paper_code_inputs", "verify_code"]

_CBOR = st.recursive(st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=12)
                     | st.binary(max_size=20) | st.floats(allow_nan=True),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.integers(0, 12), inner, max_size=4),
                     max_leaves=8)


def _code(message: bytes) -> tuple[str, ...]:
    deflate = zlib.compressobj(9, zdict=DICTIONARY_V1)
    return (f"{PREFIX}:{b45encode(deflate.compress(message) + deflate.flush())}",)


def paper_code_inputs(code: str, parts: tuple[str, ...], key: ec.EllipticCurvePrivateKey,
                      cert: x509.Certificate) -> st.SearchStrategy[tuple[str, ...]]:
    """Mutations of a real one-code paper ``code`` and of a real set ``parts``; ``key`` signs payloads again."""
    message = zlib.decompressobj(zdict=DICTIONARY_V1).decompress(b45decode(code.split(":", 1)[1]))
    body: dict[Any, Any] = cbor2.loads(cbor2.loads(message).value[2])
    doc: dict[Any, Any] = dict(body[10][0])

    def signed(changed: dict[Any, Any]) -> tuple[str, ...]:
        return _code(sign1(cbor2.dumps(changed), key, kid_of(cert)))

    return st.one_of(
        mutated_text(code).map(lambda t: (t,)),
        st.tuples(*[mutated_text(p) for p in parts]),
        st.permutations(parts).flatmap(lambda p: st.integers(0, len(p)).map(lambda k: (*p[:k], *p[:1]))),
        mutated_bytes(message).map(_code),
        st.builds(lambda k, v: signed(body | {k: v}), st.integers(0, 12), _CBOR),
        st.builds(lambda k, v: signed(body | {10: [doc | {k: v}]}), st.integers(0, 7), _CBOR),
        st.text(max_size=60).map(lambda t: (f"{PREFIX}:{t}",)),
    )


def verify_code(trust: SummaryTrust) -> Callable[[tuple[str, ...]], object]:
    def run(texts: tuple[str, ...]) -> object:
        whole, parts = join_parts(texts)
        return verify_paper_code(whole, trust, parts=parts)

    return run
