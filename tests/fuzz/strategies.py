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


_OVER_LIMITS = st.builds(lambda c, n: c * n, st.sampled_from("9aก "), st.sampled_from((13, 17, 33, 65, 101, 501)))
"""Just over any length limit the project sets (FIELD_LIMITS: 16 .. 500 characters)."""
_FLOATS = {width: st.one_of(st.sampled_from((0.0, -0.0, 0.5, 1.0, 1.0000001, -1.0, float("nan"), float("inf"))),
                            st.floats(width=width)) for width in (32, 64)}


class _Builder:
    """The strategies of one vocabulary, each made once: hypothesis draws from them thousands of times."""

    def __init__(self, vocab: Vocabulary) -> None:
        self.vocab = vocab
        self._anything = vocab.all_text()
        self._cache: dict[tuple[str, str, int], st.SearchStrategy[Any]] = {}

    def _cached(self, key: tuple[str, str, int], make: Callable[[], st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def value(self, fd: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
        """Values of one (non-repeated) field of type ``fd.type``: known-good, nearly good and arbitrary."""
        return self._cached(("value", fd.full_name, depth), lambda: self._value(fd, depth))

    def _value(self, fd: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
        if fd.type == _F.TYPE_MESSAGE:
            assert fd.message_type is not None
            return self.message(fd.message_type, depth + 1)
        if fd.type == _F.TYPE_STRING:
            known = list(self.vocab.text.get(fd.name, ()))
            parts: list[st.SearchStrategy[Any]] = [st.sampled_from(_NASTY_TEXT), st.text(max_size=40), _OVER_LIMITS]
            if self._anything:
                parts.append(st.sampled_from(self._anything))
            if known:
                parts = [st.sampled_from(known), st.sampled_from(known), _mutated_choice(known, _mutate_text), *parts]
            return st.one_of(parts)
        if fd.type == _F.TYPE_BYTES:
            blobs = list(self.vocab.blobs.get(fd.name, ()))
            parts = [st.binary(max_size=48), st.binary(min_size=32, max_size=32)]
            if blobs:
                parts = [st.sampled_from(blobs), _mutated_choice(blobs, _mutate_bytes), *parts]
            return st.one_of(parts)
        if fd.type == _F.TYPE_BOOL:
            return st.booleans()
        if fd.type in (_F.TYPE_DOUBLE, _F.TYPE_FLOAT):
            return _FLOATS[64 if fd.type == _F.TYPE_DOUBLE else 32]
        if fd.type == _F.TYPE_ENUM:
            # proto3 enums are open: numbers no value names arrive too.
            assert fd.enum_type is not None
            named = [v.number for v in list(fd.enum_type.values)]
            return st.one_of(st.sampled_from(named), st.integers(-(2**31), 2**31 - 1))
        low, high = _INT_RANGES[fd.type]
        edges = sorted({v for v in (low, high, -1, 0, 1, 2, 2**31 - 1, 2**31, 2**32 - 1, 2**53 + 1, 2**63 - 1,
                                    2**63, *self.vocab.numbers) if low <= v <= high})
        return st.one_of(st.sampled_from(edges), st.integers(low, min(high, 4096)), st.integers(low, high))

    def fill(self, draw: st.DrawFn, msg: Message, fd: FieldDescriptor, depth: int) -> None:
        """Give ``fd`` of ``msg`` a drawn value (a list for a repeated field, entries for a map)."""
        if _is_map(fd):
            assert fd.message_type is not None
            key_fd, value_fd = fd.message_type.fields_by_name["key"], fd.message_type.fields_by_name["value"]
            target = getattr(msg, fd.name)
            for _ in range(draw(st.integers(0, 3))):
                key, value = draw(self.value(key_fd, depth)), draw(self.value(value_fd, depth))
                if value_fd.type == _F.TYPE_MESSAGE:
                    target[key].CopyFrom(value)
                else:
                    target[key] = value
        elif _is_repeated(fd):
            values = draw(self._cached(("list", fd.full_name, depth),
                                       lambda: st.lists(self.value(fd, depth), max_size=4 if depth else 18)))
            target = getattr(msg, fd.name)
            for value in values:
                if fd.type == _F.TYPE_MESSAGE:
                    target.add().CopyFrom(value)
                else:
                    target.append(value)
        elif fd.type == _F.TYPE_MESSAGE:
            getattr(msg, fd.name).CopyFrom(draw(self.value(fd, depth)))
        else:
            setattr(msg, fd.name, draw(self.value(fd, depth)))

    def message(self, descriptor: Descriptor, depth: int = 0) -> st.SearchStrategy[Message]:
        return self._cached(("message", descriptor.full_name, depth), lambda: self._message(descriptor, depth))

    def _message(self, descriptor: Descriptor, depth: int) -> st.SearchStrategy[Message]:
        cls = message_factory.GetMessageClass(descriptor)
        if depth > MAX_DEPTH:
            return st.builds(cls)
        oneofs = [(o.name, st.sampled_from([None, *list(o.fields)])) for o in descriptor.oneofs
                  if not o.name.startswith("_")]  # "_name": a proto3 optional field's synthetic oneof
        fields = list(descriptor.fields)

        @st.composite
        def build(draw: st.DrawFn) -> Message:
            msg = cls()
            chosen = {name: draw(choice) for name, choice in oneofs}
            for fd in fields:
                oneof = fd.containing_oneof
                if oneof is not None and oneof.name in chosen and chosen[oneof.name] is not fd:
                    continue
                if draw(st.integers(0, 3)) == 0:  # absent a quarter of the time
                    continue
                self.fill(draw, msg, fd, depth)
            return msg

        return build()

    def mutate(self, draw: st.DrawFn, valid: Message) -> Message:
        """``valid`` with one to three fields cleared, redrawn or slightly altered, or its integers moved."""
        descriptor = valid.DESCRIPTOR
        assert isinstance(descriptor, Descriptor)  # upb's descriptors pass: Descriptor's metaclass admits them
        msg = type(valid)()
        msg.CopyFrom(valid)
        fields = list(descriptor.fields)
        if not fields:
            return msg
        numbers = [fd for fd in fields if fd.type in _INT_RANGES and not _is_repeated(fd)]
        if numbers and draw(st.integers(0, 2)) == 0:
            # Every integer moved by one offset that brings the largest to an edge of the integer types, so
            # that their relations (start < end, index < size) hold where storage and arithmetic overflow.
            top = max(getattr(msg, fd.name) for fd in numbers)
            edge = draw(st.sampled_from((2**31, 2**32, 2**53, 2**63, 2**64 - 1))) + draw(st.integers(-2, 2))
            for fd in numbers:
                low, high = _INT_RANGES[fd.type]
                setattr(msg, fd.name, min(high, max(low, getattr(msg, fd.name) + edge - top)))
            return msg
        for fd in draw(st.lists(st.sampled_from(fields), min_size=1, max_size=3, unique=True)):
            how = draw(st.sampled_from(("clear", "redraw", "alter")))
            if how == "clear":
                msg.ClearField(fd.name)
            elif how == "alter" and fd.type == _F.TYPE_STRING and not _is_repeated(fd):
                setattr(msg, fd.name, _mutate_text(draw, getattr(msg, fd.name)))
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
                self.fill(draw, msg, fd, 0)
        return msg


def _is_map(fd: FieldDescriptor) -> bool:
    return fd.type == _F.TYPE_MESSAGE and fd.message_type is not None and fd.message_type.GetOptions().map_entry


def _is_repeated(fd: FieldDescriptor) -> bool:
    return bool(fd.is_repeated)


def messages(descriptor: Descriptor, vocab: Vocabulary) -> st.SearchStrategy[Message]:
    """Arbitrary messages of ``descriptor``'s type: each field present or not, one member of each oneof at most."""
    return _Builder(vocab).message(descriptor)


def mutated(valid: Message, vocab: Vocabulary) -> st.SearchStrategy[Message]:
    """``valid`` with one to three fields cleared, redrawn or (text, numbers, lists) slightly altered, or all
    its integers moved together to an edge of their types."""
    builder = _Builder(vocab)
    return st.composite(lambda draw: builder.mutate(draw, valid))()


def requests(descriptor: Descriptor, valid: Sequence[Message], vocab: Vocabulary) -> st.SearchStrategy[Message]:
    """Requests for one method: arbitrary ones, mutations of the valid ones, and the valid ones themselves."""
    builder = _Builder(vocab)
    parts: list[st.SearchStrategy[Message]] = [builder.message(descriptor)]
    if valid:
        seeds = st.sampled_from(list(valid))
        parts += [st.composite(lambda draw: builder.mutate(draw, draw(seeds)))(), seeds]
    return st.one_of(parts)


# --- bytes, text and JSON ---------------------------------------------------------------------------------------

def _mutated_choice(seeds: Sequence[Any], mutate: Callable[[st.DrawFn, Any], Any]) -> st.SearchStrategy[Any]:
    """One of ``seeds``, mutated: drawn in one composite, no strategy made per draw."""
    choice = st.sampled_from(list(seeds))
    return st.composite(lambda draw: mutate(draw, draw(choice)))()


def _mutate_bytes(draw: st.DrawFn, data: bytes) -> bytes:
    if not data:
        return draw(st.binary(max_size=64))
    n = len(data)
    at = draw(st.integers(0, n - 1))
    op = draw(st.integers(0, 7))
    if op == 0:  # bits flipped
        out = bytearray(data)
        for _ in range(draw(st.integers(1, 8))):
            out[draw(st.integers(0, n - 1))] ^= 1 << draw(st.integers(0, 7))
        return bytes(out)
    if op == 1:
        return data[:at]
    if op == 2:
        return data[at:]
    if op == 3:
        return data[:at] + draw(st.binary(min_size=1, max_size=16)) + data[at:]
    if op == 4:
        return data[:at] + data[at + draw(st.integers(1, 64)):]
    if op == 5:  # a slice repeated
        length = draw(st.integers(1, 32))
        return data[:at] + data[at:at + length] * draw(st.integers(2, 50)) + data[at + length:]
    if op == 6:  # bytes overwritten
        junk = draw(st.binary(min_size=1, max_size=8))
        return data[:at] + junk + data[at + len(junk):]
    return data + draw(st.binary(min_size=1, max_size=64))


def mutated_bytes(data: bytes) -> st.SearchStrategy[bytes]:
    """``data`` with bits flipped, cut short, grown, a slice repeated or removed, or bytes overwritten."""
    return _mutated_choice([data], _mutate_bytes)


def _swap_segments(text: str, i: int, j: int, sep: str) -> str:
    parts = text.split(sep)
    if len(parts) > 1:
        i, j = i % len(parts), j % len(parts)
        parts[i], parts[j] = parts[j], parts[i]
    return sep.join(parts)


def _reencode(text: str, i: int, how: str) -> str:
    """Segment i of a compact JWS re-encoded another way: padded, standard alphabet, split by whitespace."""
    parts = text.split(".")
    i %= len(parts)
    seg = parts[i]
    if how == "pad":
        seg += "=" * (-len(seg) % 4 or 4)
    elif how == "std":
        seg = seg.replace("-", "+").replace("_", "/")
    else:
        seg = seg[: len(seg) // 2] + " \n" + seg[len(seg) // 2:]
    parts[i] = seg
    return ".".join(parts)


def _mutate_text(draw: st.DrawFn, text: str) -> str:
    if not text:
        return draw(st.text(max_size=16))
    n = len(text)
    at = draw(st.integers(0, n - 1))
    op = draw(st.integers(0, 11))
    if op == 0:
        return text[:at] + draw(st.characters()) + text[at + 1:]
    if op == 1:
        return text[:at] + text[at + 1:]
    if op == 2:
        return text[:at] + draw(st.sampled_from(_NASTY_TEXT[1:]) | st.text(min_size=1, max_size=4)) + text[at:]
    if op == 3:
        return text[:at]
    if op == 4:  # base64 segments of a JWS swapped
        return _swap_segments(text, draw(st.integers(0, 2)), draw(st.integers(0, 2)), ".")
    if op == 5:  # lines of a note swapped
        return _swap_segments(text, draw(st.integers(0, 8)), draw(st.integers(0, 8)), "\n")
    if op == 6:
        return _reencode(text, draw(st.integers(0, 2)), draw(st.sampled_from(("pad", "std", "space"))))
    if op == 7:  # a line dropped
        drop = draw(st.integers(0, 8))
        return "\n".join(line for k, line in enumerate(text.split("\n")) if k != drop)
    if op == 8:
        return text * draw(st.integers(2, 4))
    if op == 9:
        return text.upper()
    if op == 10:
        return text.strip() + draw(st.sampled_from(("", " ", "\n", "\r\n", "\n\n")))
    return _mutate_bytes(draw, text.encode("utf-8")).decode("utf-8", "replace")


def mutated_text(text: str) -> st.SearchStrategy[str]:
    """``text`` with characters changed, removed or added, its ``.``-segments swapped or re-encoded, its lines
    swapped or dropped, repeated, or its UTF-8 bytes mutated (invalid sequences replaced)."""
    return _mutated_choice([text], _mutate_text)


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
