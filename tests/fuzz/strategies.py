"""Hypothesis strategies built from protobuf descriptors, and mutations of bytes, text and JSON.

``messages(descriptor, vocab)`` walks the message's fields: every field of every type,
oneofs, repeated and map fields, nested messages to a bounded depth, so a field added to
a ``.proto`` file is fuzzed without a line changed here. ``Vocabulary`` only biases the
draw towards values that get past the first checks (a real ID, a registered officer, a
printout that exists) by field name; a field it does not know gets values of its type.

``mutated(message, vocab)`` changes a valid request in one to three fields; ``mutated_bytes``,
``mutated_text`` and ``mutated_json`` do the same to a serialized message, a compact JWS or
note, and a JSON document (bit flips, truncation, insertions, base64 segments swapped,
fields changed to another JSON type).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

__all__ = [
    "MAX_DEPTH",
    "Vocabulary",
    "field_values",
    "messages",
    "mutated",
    "mutated_bytes",
    "mutated_json",
    "mutated_text",
    "requests",
]

MAX_DEPTH = 3
"""Nested messages deeper than this are left empty (google.protobuf.Struct nests without end)."""

_F = FieldDescriptor
_INT_RANGES: dict[int, tuple[int, int]] = {
    _F.TYPE_INT32: (-(2**31), 2**31 - 1), _F.TYPE_SINT32: (-(2**31), 2**31 - 1),
    _F.TYPE_SFIXED32: (-(2**31), 2**31 - 1), _F.TYPE_UINT32: (0, 2**32 - 1), _F.TYPE_FIXED32: (0, 2**32 - 1),
    _F.TYPE_INT64: (-(2**63), 2**63 - 1), _F.TYPE_SINT64: (-(2**63), 2**63 - 1),
    _F.TYPE_SFIXED64: (-(2**63), 2**63 - 1), _F.TYPE_UINT64: (0, 2**64 - 1), _F.TYPE_FIXED64: (0, 2**64 - 1),
}
# Text that has broken parsers before: control characters, NUL, Thai marks, RTL, a BOM, long digits, markup.
_NASTY_TEXT = ("", " ", "\x00", "\t\n", "\u200b", "\ufeff", "\u202e", "ก\u0e48\u0e49\u0e4a",
               "\uff11\uff12\uff13\u0e51\u0e52",  # fullwidth and Thai digits
               "-1", "1e309", "NaN", "null", "[]", "{}", "%s%n", "../../etc/passwd", "<script>x</script>",
               "'; DROP TABLE log; --", "9" * 40, "\U0001f600")


@dataclass(frozen=True)
class Vocabulary:
    """Values worth trying in fields of a given name (from the live sandbox), and numbers worth trying anywhere.

    ``text`` maps a field name (``subject_id``, ``doc_type``, ...) to strings that pass or
    nearly pass its checks; ``blobs`` the same for bytes fields; ``numbers`` are integers near
    the edges of the running system (the log's size, its neighbours).
    """

    text: Mapping[str, Sequence[str]] = field(default_factory=dict)
    blobs: Mapping[str, Sequence[bytes]] = field(default_factory=dict)
    numbers: Sequence[int] = ()

    def all_text(self) -> list[str]:
        return sorted({t for values in self.text.values() for t in values})


def _integers(fd: FieldDescriptor, vocab: Vocabulary) -> st.SearchStrategy[int]:
    low, high = _INT_RANGES[fd.type]
    edges = sorted({v for v in (low, high, -1, 0, 1, 2, 2**31 - 1, 2**31, 2**32 - 1, 2**53 + 1, 2**63 - 1, 2**63,
                                *vocab.numbers) if low <= v <= high})
    return st.one_of(st.sampled_from(edges), st.integers(low, min(high, 4096)), st.integers(low, high))


def _texts(fd: FieldDescriptor, vocab: Vocabulary) -> st.SearchStrategy[str]:
    known = list(vocab.text.get(fd.name, ()))
    anything = vocab.all_text()
    parts: list[st.SearchStrategy[str]] = [st.sampled_from(_NASTY_TEXT), st.text(max_size=40)]
    if anything:
        parts.append(st.sampled_from(anything))
    if known:
        seeds = st.sampled_from(known)
        parts = [seeds, seeds, seeds.flatmap(mutated_text), *parts]
    # Just over any length limit the project sets (FIELD_LIMITS: 16 .. 500 characters).
    parts.append(st.builds(lambda c, n: c * n, st.sampled_from("9aก "), st.sampled_from((13, 17, 33, 65, 101, 501))))
    return st.one_of(parts)


def _blobs(fd: FieldDescriptor, vocab: Vocabulary) -> st.SearchStrategy[bytes]:
    known = list(vocab.blobs.get(fd.name, ()))
    parts: list[st.SearchStrategy[bytes]] = [st.binary(max_size=48), st.binary(min_size=32, max_size=32)]
    if known:
        seeds = st.sampled_from(known)
        parts = [seeds, seeds.flatmap(mutated_bytes), *parts]
    return st.one_of(parts)


def field_values(fd: FieldDescriptor, vocab: Vocabulary, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values of one (non-repeated) field of type ``fd.type``: known-good, nearly good and arbitrary."""
    if fd.type == _F.TYPE_MESSAGE:
        return messages(fd.message_type, vocab, depth + 1)
    if fd.type == _F.TYPE_STRING:
        return _texts(fd, vocab)
    if fd.type == _F.TYPE_BYTES:
        return _blobs(fd, vocab)
    if fd.type == _F.TYPE_BOOL:
        return st.booleans()
    if fd.type in (_F.TYPE_DOUBLE, _F.TYPE_FLOAT):
        width = 64 if fd.type == _F.TYPE_DOUBLE else 32
        return st.one_of(st.sampled_from((0.0, -0.0, 0.5, 1.0, 1.0000001, -1.0, float("nan"), float("inf"))),
                         st.floats(width=width))
    if fd.type == _F.TYPE_ENUM:
        # proto3 enums are open: numbers no value names arrive too.
        named = [v.number for v in list(fd.enum_type.values)]
        return st.one_of(st.sampled_from(named), st.integers(-(2**31), 2**31 - 1))
    return _integers(fd, vocab)


def _set(msg: Message, fd: FieldDescriptor, value: Any) -> None:
    if fd.type == _F.TYPE_MESSAGE:
        getattr(msg, fd.name).CopyFrom(value)
    else:
        setattr(msg, fd.name, value)


def _is_map(fd: FieldDescriptor) -> bool:
    return fd.type == _F.TYPE_MESSAGE and fd.message_type.GetOptions().map_entry


def _is_repeated(fd: FieldDescriptor) -> bool:
    return bool(fd.is_repeated)


def _fill(draw: st.DrawFn, msg: Message, fd: FieldDescriptor, vocab: Vocabulary, depth: int) -> None:
    """Give ``fd`` of ``msg`` a drawn value (a list for a repeated field, entries for a map)."""
    if _is_map(fd):
        key_fd, value_fd = fd.message_type.fields_by_name["key"], fd.message_type.fields_by_name["value"]
        for _ in range(draw(st.integers(0, 3))):
            key = draw(field_values(key_fd, vocab, depth))
            target = getattr(msg, fd.name)
            value = draw(field_values(value_fd, vocab, depth))
            if value_fd.type == _F.TYPE_MESSAGE:
                target[key].CopyFrom(value)
            else:
                target[key] = value
    elif _is_repeated(fd):
        values = draw(st.lists(field_values(fd, vocab, depth), max_size=4 if depth else 18))
        target = getattr(msg, fd.name)
        for value in values:
            if fd.type == _F.TYPE_MESSAGE:
                target.add().CopyFrom(value)
            else:
                target.append(value)
    else:
        _set(msg, fd, draw(field_values(fd, vocab, depth)))


def messages(descriptor: Descriptor, vocab: Vocabulary, depth: int = 0) -> st.SearchStrategy[Message]:
    """Arbitrary messages of ``descriptor``'s type: each field present or not, one member of each oneof at most."""
    cls = message_factory.GetMessageClass(descriptor)

    @st.composite
    def build(draw: st.DrawFn) -> Message:
        msg = cls()
        if depth > MAX_DEPTH:
            return msg
        chosen = {o.name: draw(st.sampled_from([None, *list(o.fields)])) for o in descriptor.oneofs}
        for fd in descriptor.fields:
            oneof = fd.containing_oneof
            if oneof is not None and not oneof.name.startswith("_") and chosen.get(oneof.name) is not fd:
                continue
            if draw(st.integers(0, 3)) == 0:  # absent a quarter of the time
                continue
            _fill(draw, msg, fd, vocab, depth)
        return msg

    return build()


def mutated(valid: Message, vocab: Vocabulary) -> st.SearchStrategy[Message]:
    """``valid`` with one to three fields changed: cleared, redrawn, or (text) slightly altered."""
    descriptor = valid.DESCRIPTOR
    if not descriptor.fields:
        return st.just(valid)

    numbers = [fd for fd in descriptor.fields if fd.type in _INT_RANGES and not _is_repeated(fd)]

    @st.composite
    def build(draw: st.DrawFn) -> Message:
        msg = type(valid)()
        msg.CopyFrom(valid)
        if numbers and draw(st.integers(0, 2)) == 0:
            # Every integer moved by one offset that brings the largest to an edge of the integer types, so
            # that their relations (start < end, index < size) hold where storage and arithmetic overflow.
            top = max(getattr(msg, fd.name) for fd in numbers)
            edge = draw(st.sampled_from((2**31, 2**32, 2**53, 2**63, 2**64 - 1))) + draw(st.integers(-2, 2))
            for fd in numbers:
                low, high = _INT_RANGES[fd.type]
                setattr(msg, fd.name, min(high, max(low, getattr(msg, fd.name) + edge - top)))
            return msg
        for fd in draw(st.lists(st.sampled_from(list(descriptor.fields)), min_size=1, max_size=3, unique=True)):
            how = draw(st.sampled_from(("clear", "redraw", "alter")))
            if how == "clear":
                msg.ClearField(fd.name)
            elif how == "alter" and fd.type == _F.TYPE_STRING and not _is_repeated(fd):
                setattr(msg, fd.name, draw(mutated_text(getattr(msg, fd.name))))
            elif how == "alter" and fd.type in _INT_RANGES and not _is_repeated(fd):
                low, high = _INT_RANGES[fd.type]
                setattr(msg, fd.name, min(high, max(low, getattr(msg, fd.name) + draw(st.sampled_from((-1, 1))))))
            elif how == "alter" and _is_repeated(fd) and not _is_map(fd) and len(getattr(msg, fd.name)):
                target = getattr(msg, fd.name)
                if fd.type == _F.TYPE_MESSAGE:
                    target.add().CopyFrom(target[0])  # the same item twice
                else:
                    target.append(target[0])
            else:
                msg.ClearField(fd.name)
                _fill(draw, msg, fd, vocab, 0)
        return msg

    return build()


def requests(descriptor: Descriptor, valid: Sequence[Message], vocab: Vocabulary) -> st.SearchStrategy[Message]:
    """Requests for one method: arbitrary ones, mutations of the valid ones, and the valid ones themselves."""
    parts: list[st.SearchStrategy[Message]] = [messages(descriptor, vocab)]
    if valid:
        parts += [st.sampled_from(list(valid)).flatmap(lambda m: mutated(m, vocab)), st.sampled_from(list(valid))]
    return st.one_of(parts)


# --- bytes, text and JSON ---------------------------------------------------------------------------------------

def _flip(data: bytes, positions: list[int], bits: list[int]) -> bytes:
    out = bytearray(data)
    for p, b in zip(positions, bits, strict=False):
        out[p % len(out)] ^= 1 << b
    return bytes(out)


def mutated_bytes(data: bytes) -> st.SearchStrategy[bytes]:
    """``data`` with bits flipped, cut short, grown, a slice repeated or removed, or bytes overwritten."""
    if not data:
        return st.binary(max_size=64)
    n = len(data)
    index = st.integers(0, n - 1)
    return st.one_of(
        st.builds(_flip, st.just(data), st.lists(index, min_size=1, max_size=8),
                  st.lists(st.integers(0, 7), min_size=8, max_size=8)),
        st.builds(lambda cut: data[:cut], index),
        st.builds(lambda cut: data[cut:], index),
        st.builds(lambda at, junk: data[:at] + junk + data[at:], index, st.binary(min_size=1, max_size=16)),
        st.builds(lambda at, length: data[:at] + data[at + length:], index, st.integers(1, 64)),
        st.builds(lambda at, length, times: data[:at] + data[at:at + length] * times + data[at + length:],
                  index, st.integers(1, 32), st.integers(2, 50)),
        st.builds(lambda at, junk: data[:at] + junk + data[at + len(junk):], index,
                  st.binary(min_size=1, max_size=8)),
        st.builds(lambda tail: data + tail, st.binary(min_size=1, max_size=64)),
    )


def _swap_segments(text: str, i: int, j: int, sep: str) -> str:
    parts = text.split(sep)
    if len(parts) > 1:
        i, j = i % len(parts), j % len(parts)
        parts[i], parts[j] = parts[j], parts[i]
    return sep.join(parts)


def _reencode(text: str, i: int, how: str) -> str:
    """Segment i of a compact JWS re-encoded another way: padded, standard alphabet, decoded and re-encoded."""
    parts = text.split(".")
    i %= len(parts)
    seg = parts[i]
    if how == "pad":
        seg += "=" * (-len(seg) % 4 or 4)
    elif how == "std":
        seg = seg.replace("-", "+").replace("_", "/")
    elif how == "space":
        seg = seg[: len(seg) // 2] + " \n" + seg[len(seg) // 2:]
    parts[i] = seg
    return ".".join(parts)


def mutated_text(text: str) -> st.SearchStrategy[str]:
    """``text`` with characters changed, removed or added, its ``.``-segments swapped or re-encoded, its lines
    swapped, repeated or dropped, or its bytes mutated (kept only when still UTF-8)."""
    if not text:
        return st.text(max_size=16)
    n = len(text)
    index = st.integers(0, n - 1)

    def from_bytes(data: bytes) -> str:
        return data.decode("utf-8", "replace")

    return st.one_of(
        st.builds(lambda at, c: text[:at] + c + text[at + 1:], index, st.characters()),
        st.builds(lambda at: text[:at] + text[at + 1:], index),
        st.builds(lambda at, s: text[:at] + s + text[at:], index, st.sampled_from(_NASTY_TEXT[1:]) | st.text(
            min_size=1, max_size=4)),
        st.builds(lambda cut: text[:cut], index),
        st.builds(lambda i, j: _swap_segments(text, i, j, "."), st.integers(0, 2), st.integers(0, 2)),
        st.builds(lambda i, j: _swap_segments(text, i, j, "\n"), st.integers(0, 8), st.integers(0, 8)),
        st.builds(lambda i, how: _reencode(text, i, how), st.integers(0, 2), st.sampled_from(("pad", "std", "space"))),
        st.builds(lambda i: "\n".join(line for k, line in enumerate(text.split("\n")) if k != i), st.integers(0, 8)),
        st.builds(lambda times: text * times, st.integers(2, 4)),
        st.builds(str.upper, st.just(text)), st.builds(str.strip, st.just(text)),
        mutated_bytes(text.encode("utf-8")).map(from_bytes),
    )


_JSON_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False),
                         st.text(max_size=12), st.sampled_from((0, -1, 2**63, 2**64, 10**30, 1.5, "", "0", [], {})))
_ANY_JSON = st.recursive(_JSON_LEAVES, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=8), inner, max_size=3), max_leaves=8)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _replace(doc: Any, path: tuple[Any, ...], make: Callable[[Any], Any]) -> Any:
    if not path:
        return make(doc)
    copy = json.loads(json.dumps(doc))
    node = copy
    for key in path[:-1]:
        node = node[key]
    if make is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = make(node[path[-1]])
    return copy


def _DELETE(value: Any) -> Any:  # a marker as a function, so _replace keeps one signature
    return value


def _retype(value: Any, new: Any, how: str) -> Any:
    if how == "str" and not isinstance(value, str):
        return json.dumps(value)
    if how == "wrap":
        return [value]
    if how == "deep":
        for _ in range(200):
            value = [value]
        return value
    if how == "b64" and isinstance(value, str):
        return base64.b64encode(value.encode()).decode()
    return new


def mutated_json(doc: Any) -> st.SearchStrategy[str]:
    """``doc`` (a JSON value) with one member or item changed type, removed, wrapped, stringified or
    nested deep, serialized; sometimes with a key repeated."""
    paths = _paths(doc)

    @st.composite
    def build(draw: st.DrawFn) -> str:
        path = draw(st.sampled_from(paths))
        how = draw(st.sampled_from(("other", "other", "str", "wrap", "deep", "b64", "delete", "duplicate")))
        if how == "delete" and path:
            return json.dumps(_replace(doc, path, _DELETE), ensure_ascii=False)
        if how == "duplicate" and isinstance(doc, dict) and doc:
            key = draw(st.sampled_from(sorted(doc)))
            text = json.dumps(doc, ensure_ascii=False)
            return text[:-1] + f", {json.dumps(key)}: {json.dumps(draw(_ANY_JSON))}}}"
        new = draw(_ANY_JSON)
        return json.dumps(_replace(doc, path, lambda v: _retype(v, new, how)), ensure_ascii=False)

    return build()
