"""AMQP field tables and arrays: one iterative codec for the client and the broker.

A table may nest as deep as a frame allows (RabbitMQ accepts thousands of
levels), so nothing here recurses: decoding walks the bytes with an explicit
stack. Two views of the same bytes:

* :func:`decode_plain` gives plain Python values, exactly the types pamqp's
  decoder gives (the client's public output), without its recursion limit;
* :func:`decode_table` / :func:`iter_raw_table` give typed :class:`FieldValue`
  objects that keep each value's tag and exact encoding (the broker needs both:
  RabbitMQ's reply texts name types, and deliveries carry headers byte for byte).

Any malformed encoding raises :class:`FieldTableError`: a value running past
the end of its table or array, a truncated key, an unknown tag. How a peer
reacts to that depends on where the table is (RabbitMQ drops the socket for a
bad table inside method arguments, and answers 541 for one in message headers),
so that decision is the caller's.
"""

from __future__ import annotations

import datetime
import decimal
import struct
from collections.abc import Iterable, Mapping
from typing import Any, Final

__all__ = [
    "BINARY_TAGS",
    "FLOAT_TAGS",
    "INTEGER_TAGS",
    "TYPE_NAMES",
    "FieldTableError",
    "FieldValue",
    "Table",
    "decode_plain",
    "decode_table",
    "encode_entries",
    "encode_table",
    "iter_raw_table",
    "plain_timestamp",
]

#: RabbitMQ's name for each tag, as its reply texts print them.
TYPE_NAMES: Final[dict[str, str]] = {
    "t": "bool",
    "b": "byte",
    "B": "unsignedbyte",
    "s": "short",
    "u": "unsignedshort",
    "I": "signedint",
    "i": "unsignedint",
    "l": "long",
    "L": "unsignedlong",
    "f": "float",
    "d": "double",
    "D": "decimal",
    "S": "longstr",
    "x": "binary",
    "T": "timestamp",
    "F": "table",
    "A": "array",
    "V": "void",
}

INTEGER_TAGS: Final = frozenset("bBsuIilLT")
FLOAT_TAGS: Final = frozenset("fd")
BINARY_TAGS: Final = frozenset("Sx")

#: Fixed-width values by tag, as the broker types them ("L" unsigned, like RabbitMQ).
TYPED_FIXED: Final[dict[str, struct.Struct]] = {
    "t": struct.Struct(">B"),
    "b": struct.Struct(">b"),
    "B": struct.Struct(">B"),
    "s": struct.Struct(">h"),
    "u": struct.Struct(">H"),
    "I": struct.Struct(">i"),
    "i": struct.Struct(">I"),
    "l": struct.Struct(">q"),
    "L": struct.Struct(">Q"),
    "T": struct.Struct(">Q"),
    "f": struct.Struct(">f"),
    "d": struct.Struct(">d"),
}
# The client's plain values follow pamqp, which reads "L" as signed.
_PLAIN_FIXED: Final[dict[int, struct.Struct]] = {
    ord(tag): (struct.Struct(">q") if tag == "L" else codec) for tag, codec in TYPED_FIXED.items()
}
_TYPED_FIXED_BY_BYTE: Final[dict[int, tuple[str, struct.Struct]]] = {
    ord(tag): (tag, codec) for tag, codec in TYPED_FIXED.items()
}
_U32: Final = struct.Struct(">I")
_DECIMAL: Final = struct.Struct(">Bi")
_LENGTH_TAGS: Final = frozenset(b"SxFA")
_BOOL, _TIMESTAMP, _D, _V, _X, _F, _A = b"tTDVxFA"
_NUL: Final = 0  # pamqp reads a 0 tag as void; RabbitMQ does not know it


class FieldTableError(ValueError):
    """A malformed table or array encoding (truncated, overrunning, or an unknown tag)."""


class FieldValue:
    """One typed value: its tag, its decoded value and its exact encoding (tag excluded).

    A decoded value refers to the buffer it came from and copies its bytes only when
    ``raw`` is read, so decoding deeply nested tables stays linear.
    """

    __slots__ = ("_buffer", "_end", "_start", "tag", "value")

    def __init__(
        self, tag: str, value: Any, raw: bytes, start: int = 0, end: int | None = None
    ) -> None:
        # A decoded value keeps a slice of the buffer it came from (start..end) and
        # copies its bytes only when asked: deep tables decode in linear time.
        self.tag = tag
        self.value = value
        self._buffer = raw
        self._start = start
        self._end = len(raw) if end is None else end

    @classmethod
    def from_buffer(cls, tag: str, value: Any, buffer: bytes, start: int, end: int) -> FieldValue:
        """A value whose exact bytes are ``buffer[start:end]`` (copied only when read)."""
        return cls(tag, value, buffer, start, end)

    @property
    def raw(self) -> bytes:
        """The value's encoding, tag excluded (a length prefix included where it has one)."""
        if self._start or self._end != len(self._buffer):
            self._buffer = self._buffer[self._start : self._end]
            self._start, self._end = 0, len(self._buffer)
        return self._buffer

    @property
    def type_name(self) -> str:
        """RabbitMQ's name for this value's type, e.g. ``signedint``."""
        return TYPE_NAMES[self.tag]

    @property
    def is_integer(self) -> bool:
        """True for every integer tag RabbitMQ accepts where an integer is expected."""
        return self.tag in INTEGER_TAGS and self.tag != "T"

    def encoded(self) -> bytes:
        """Tag plus value bytes, as they go inside a table or array."""
        return self.tag.encode("ascii") + self.raw

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldValue):
            return NotImplemented
        # The encoding determines the value: comparing it never recurses into nested tables.
        return self.tag == other.tag and self.raw == other.raw

    def __hash__(self) -> int:
        return hash((self.tag, self.raw))

    def __repr__(self) -> str:
        return f"FieldValue(tag={self.tag!r}, value={self.value!r}, raw={self.raw!r})"


Table = dict[str, FieldValue]


def plain_timestamp(raw: int) -> datetime.datetime | int:
    """A timestamp as the client gives it: pamqp's reading (over 2**32 means ms) as a UTC
    ``datetime``, or the integer as sent when no ``datetime`` can hold it (year 10000 on,
    e.g. microseconds since the epoch).
    """
    seconds: float = raw / 1000.0 if raw > 0xFFFFFFFF else raw
    try:
        return datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    except (ValueError, OverflowError, OSError):
        return raw


def _key(data: bytes, pos: int, end: int) -> tuple[bytes, int]:
    key_end = pos + 1 + data[pos]
    if key_end >= end:  # the key and at least a tag must fit
        raise FieldTableError("a field name runs past the end of its table")
    return data[pos + 1 : key_end], key_end


def _length(data: bytes, pos: int, end: int) -> int:
    if pos + 4 > end:
        raise FieldTableError("a length runs past the end of its table")
    value_end: int = pos + 4 + _U32.unpack_from(data, pos)[0]
    if value_end > end:
        raise FieldTableError("a value runs past the end of its table")
    return value_end


def _fixed_end(pos: int, size: int, end: int) -> int:
    if pos + size > end:
        raise FieldTableError("a value runs past the end of its table")
    return pos + size


# One level of the decoder's explicit stack: the enclosing container, where it ends,
# whether it is a table, the key and tag of the value being built, and where it starts.
_Level = tuple[Any, int, bool, Any, int, int]


def decode_plain(
    data: bytes, pos: int = 0, *, array: bool = False, nul_void: bool = True
) -> tuple[int, Any]:
    """Decode a length-prefixed table (or array) at *pos* into plain Python values.

    The types are pamqp's: ``S`` is ``str`` (``bytes`` when not UTF-8), ``x`` is
    ``bytearray``, ``T`` a UTC ``datetime``, ``D`` a ``Decimal``, ``F`` a ``dict``, ``A``
    a ``list``. Keys that are not UTF-8 are decoded with ``surrogateescape``.

    :param nul_void: read a ``0`` tag as void, as pamqp does (RabbitMQ refuses it)
    :returns: ``(bytes consumed, dict or list)``
    :raises FieldTableError: for a malformed encoding
    """
    end = _length(data, pos, len(data))
    consumed = end - pos
    pos += 4
    container: Any = [] if array else {}
    is_table = not array
    stack: list[_Level] = []
    fixed = _PLAIN_FIXED
    key: Any = None
    while True:
        if pos == end:
            if not stack:
                return consumed, container
            value = container
            container, end, is_table, key, _, _ = stack.pop()
        else:
            if is_table:
                raw_key, pos = _key(data, pos, end)
                key = raw_key.decode("utf-8", "surrogateescape")
            elif pos >= end:
                raise FieldTableError("an array value runs past the end of its array")
            tag = data[pos]
            pos += 1
            codec = fixed.get(tag)
            if codec is not None:
                next_pos = _fixed_end(pos, codec.size, end)
                (value,) = codec.unpack_from(data, pos)
                if tag == _TIMESTAMP:
                    value = plain_timestamp(value)
                elif tag == _BOOL:
                    value = bool(value)
                pos = next_pos
            elif tag in (_F, _A):
                value_end = _length(data, pos, end)
                stack.append((container, end, is_table, key, tag, pos))
                container, end, is_table = ({} if tag == _F else []), value_end, tag == _F
                pos += 4
                continue
            else:
                value, pos = _plain_scalar(data, tag, pos, end, nul_void)
        if is_table:
            container[key] = value
        else:
            container.append(value)


def _plain_scalar(data: bytes, tag: int, pos: int, end: int, nul_void: bool) -> tuple[Any, int]:
    """A value that is neither fixed-width nor a container, as pamqp types it."""
    if tag in _LENGTH_TAGS:
        value_end = _length(data, pos, end)
        raw = data[pos + 4 : value_end]
        if tag == _X:
            return bytearray(raw), value_end
        try:
            return raw.decode("utf-8"), value_end
        except UnicodeDecodeError:
            return raw, value_end
    if tag == _D:
        next_pos = _fixed_end(pos, 5, end)
        scale, unscaled = _DECIMAL.unpack_from(data, pos)
        return decimal.Decimal(unscaled) * (decimal.Decimal(10) ** -scale), next_pos
    if tag == _V or (tag == _NUL and nul_void):
        return None, pos
    raise FieldTableError(f"unknown field type {bytes((tag,))!r}")


def _typed_entries(data: bytes, pos: int, end: int, array: bool) -> list[Any]:
    """Decode typed values from ``data[pos:end]``: ``(raw key, FieldValue)`` pairs, or values."""
    container: list[Any] = []
    top = container
    is_table = not array
    stack: list[_Level] = []
    fixed = _TYPED_FIXED_BY_BYTE
    key: Any = None
    while True:
        if pos == end:
            if not stack:
                return top
            entries = container
            parent, parent_end, parent_is_table, key, tag, start = stack.pop()
            if tag == _F:
                nested: Any = {k.decode("utf-8", "surrogateescape"): v for k, v in entries}
                value = FieldValue.from_buffer("F", nested, data, start, end)
            else:
                value = FieldValue.from_buffer("A", tuple(entries), data, start, end)
            container, end, is_table = parent, parent_end, parent_is_table
        else:
            if is_table:
                key, pos = _key(data, pos, end)
            elif pos >= end:
                raise FieldTableError("an array value runs past the end of its array")
            tag = data[pos]
            pos += 1
            known = fixed.get(tag)
            if known is not None:
                name, codec = known
                next_pos = _fixed_end(pos, codec.size, end)
                (number,) = codec.unpack_from(data, pos)
                value = FieldValue.from_buffer(
                    name, bool(number) if tag == _BOOL else number, data, pos, next_pos
                )
                pos = next_pos
            elif tag in _LENGTH_TAGS:
                value_end = _length(data, pos, end)
                if tag in (_F, _A):
                    stack.append((container, end, is_table, key, tag, pos))
                    container, end, is_table = [], value_end, tag == _F
                    pos += 4
                    continue
                value = FieldValue.from_buffer(
                    chr(tag), data[pos + 4 : value_end], data, pos, value_end
                )
                pos = value_end
            elif tag == _D:
                next_pos = _fixed_end(pos, 5, end)
                value = FieldValue.from_buffer(
                    "D", _DECIMAL.unpack_from(data, pos), data, pos, next_pos
                )
                pos = next_pos
            elif tag == _V:
                value = FieldValue("V", None, b"")
            else:
                raise FieldTableError(f"unsupported field type {chr(tag)!r}")
        container.append((key, value) if is_table else value)


def iter_raw_table(payload: bytes) -> Iterable[tuple[bytes, FieldValue]]:
    """``(raw key, value)`` for a table payload (without its length prefix), in wire order.

    Repeated keys are all kept.

    :raises FieldTableError: for a malformed encoding
    """
    data = bytes(payload)
    return iter(_typed_entries(data, 0, len(data), False))


def decode_table(payload: bytes) -> Table:
    """Decode a table payload (without its length prefix); a repeated key keeps its last value.

    :raises FieldTableError: for a malformed encoding
    """
    return {k.decode("utf-8", "surrogateescape"): v for k, v in iter_raw_table(payload)}


def encode_entries(entries: Iterable[tuple[bytes, FieldValue]]) -> bytes:
    """Encode ``(raw key, value)`` pairs as a table, length prefix included."""
    body = b"".join(bytes([len(key)]) + key + value.encoded() for key, value in entries)
    return _U32.pack(len(body)) + body


def encode_table(table: Mapping[str, FieldValue]) -> bytes:
    """Encode a typed table, length prefix included, in the mapping's order."""
    return encode_entries((k.encode("utf-8", "surrogateescape"), v) for k, v in table.items())
