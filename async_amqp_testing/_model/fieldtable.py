"""Typed AMQP field tables that keep every value's wire encoding.

pamqp decodes a table into plain Python values and forgets the type tag
(`I` 1, `l` 1 and `b` 1 all become ``1``), and it cannot re-encode some
values it decodes (non-UTF-8 longstrs come back as ``bytes``). RabbitMQ keeps
the tags: they show up in its reply texts ("of type 'signedint'"), in its
argument equivalence rules and in the headers it hands back to consumers.
This module parses tables into `FieldValue`s that remember their tag and their
exact encoded bytes, and encodes new values with an explicit tag.
"""

from __future__ import annotations

import datetime
import decimal
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "TYPE_NAMES",
    "FieldValue",
    "Table",
    "decode_table",
    "encode_table",
    "erlang_term",
    "format_value",
    "iter_raw_table",
    "to_table",
    "typed",
]

# RabbitMQ's names for each tag, as its reply texts print them.
TYPE_NAMES: dict[str, str] = {
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

INTEGER_TAGS = frozenset("bBsuIilLT")
FLOAT_TAGS = frozenset("fd")
BINARY_TAGS = frozenset("Sx")

_FIXED = {
    "t": struct.Struct(">B"),
    "b": struct.Struct(">b"),
    "B": struct.Struct(">B"),
    "s": struct.Struct(">h"),
    "u": struct.Struct(">H"),
    "I": struct.Struct(">i"),
    "i": struct.Struct(">I"),
    "l": struct.Struct(">q"),
    "L": struct.Struct(">Q"),  # not in RabbitMQ's spec table, but it passes it through
    "T": struct.Struct(">Q"),
    "f": struct.Struct(">f"),
    "d": struct.Struct(">d"),
}
_U32 = struct.Struct(">I")


@dataclass(frozen=True, slots=True)
class FieldValue:
    """One table value: its tag, its decoded value and its exact encoding (tag excluded)."""

    tag: str
    value: Any
    raw: bytes

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


Table = dict[str, FieldValue]


class FieldTableError(ValueError):
    """Raised for a malformed or unsupported table encoding."""


def _decode_value(data: bytes, offset: int) -> tuple[FieldValue, int]:
    if offset >= len(data):
        raise FieldTableError("truncated field value")
    tag = chr(data[offset])
    start = offset + 1
    fixed = _FIXED.get(tag)
    if fixed is not None:
        end = start + fixed.size
        if end > len(data):
            raise FieldTableError("truncated field value")
        (value,) = fixed.unpack_from(data, start)
        if tag == "t":
            value = value != 0
        return FieldValue(tag, value, data[start:end]), end
    if tag == "D":
        end = start + 5
        if end > len(data):
            raise FieldTableError("truncated decimal")
        scale = data[start]
        (unscaled,) = struct.unpack_from(">i", data, start + 1)
        return FieldValue(tag, (scale, unscaled), data[start:end]), end
    if tag == "V":
        return FieldValue(tag, None, b""), start
    if tag in ("S", "x", "F", "A"):
        if start + 4 > len(data):
            raise FieldTableError("truncated length")
        (length,) = _U32.unpack_from(data, start)
        end = start + 4 + length
        if end > len(data):
            raise FieldTableError("truncated field value")
        payload = data[start + 4 : end]
        raw = data[start:end]
        if tag in ("S", "x"):
            return FieldValue(tag, payload, raw), end
        if tag == "F":
            return FieldValue(tag, decode_table(payload), raw), end
        return FieldValue(tag, _decode_array(payload), raw), end
    raise FieldTableError(f"unsupported field type {tag!r}")


def _decode_array(payload: bytes) -> tuple[FieldValue, ...]:
    items: list[FieldValue] = []
    offset = 0
    while offset < len(payload):
        item, offset = _decode_value(payload, offset)
        items.append(item)
    return tuple(items)


def iter_raw_table(payload: bytes) -> Iterable[tuple[bytes, FieldValue]]:
    """Yield ``(raw key, value)`` for a table payload (without its length prefix), in wire order."""
    offset = 0
    while offset < len(payload):
        key_len = payload[offset]
        key = payload[offset + 1 : offset + 1 + key_len]
        if len(key) != key_len:
            raise FieldTableError("truncated field name")
        value, offset = _decode_value(payload, offset + 1 + key_len)
        yield key, value


def decode_table(payload: bytes) -> Table:
    """Decode a table payload (without its length prefix); a repeated key keeps its last value.

    :raises FieldTableError: on a malformed encoding.
    """
    return {key.decode("utf-8", "surrogateescape"): v for key, v in iter_raw_table(payload)}


def encode_entries(entries: Iterable[tuple[bytes, FieldValue]]) -> bytes:
    """Encode ``(raw key, value)`` pairs as a table, length prefix included."""
    body = b"".join(bytes([len(key)]) + key + value.encoded() for key, value in entries)
    return _U32.pack(len(body)) + body


def encode_table(table: Mapping[str, FieldValue]) -> bytes:
    """Encode a typed table, length prefix included, in the mapping's order."""
    return encode_entries((k.encode("utf-8", "surrogateescape"), v) for k, v in table.items())


def typed(tag: str, value: Any) -> FieldValue:
    """Build a `FieldValue` with an explicit tag, e.g. ``typed('l', 1)`` or ``typed('S', 'x')``."""
    fixed = _FIXED.get(tag)
    if fixed is not None:
        return FieldValue(tag, bool(value) if tag == "t" else value, fixed.pack(value))
    if tag == "S" or tag == "x":
        data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        return FieldValue(tag, data, _U32.pack(len(data)) + data)
    if tag == "F":
        table = to_table(value)
        return FieldValue(tag, table, encode_table(table))
    if tag == "A":
        items = tuple(v if isinstance(v, FieldValue) else _infer(v) for v in value)
        body = b"".join(item.encoded() for item in items)
        return FieldValue(tag, items, _U32.pack(len(body)) + body)
    if tag == "D":
        scale, unscaled = value
        return FieldValue(tag, (scale, unscaled), struct.pack(">Bi", scale, unscaled))
    if tag == "V":
        return FieldValue(tag, None, b"")
    raise FieldTableError(f"unsupported field type {tag!r}")


def _infer(value: Any) -> FieldValue:
    # Mirrors what common clients (pika, the Java client) pick for plain Python values.
    if isinstance(value, FieldValue):
        return value
    if isinstance(value, bool):
        return typed("t", value)
    if isinstance(value, int):
        return typed("I" if -(2**31) <= value < 2**31 else "l", value)
    if isinstance(value, float):
        return typed("d", value)
    if isinstance(value, str):
        return typed("S", value)
    if isinstance(value, bytes | bytearray):
        return typed("x" if isinstance(value, bytearray) else "S", bytes(value))
    if isinstance(value, decimal.Decimal):
        sign, digits, exponent = value.as_tuple()
        assert isinstance(exponent, int)
        unscaled = int("".join(map(str, digits)) or "0") * (-1 if sign else 1)
        if exponent > 0:
            unscaled, exponent = unscaled * 10**exponent, 0
        return typed("D", (-exponent, unscaled))
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.UTC)
        return typed("T", int(value.timestamp()))
    if value is None:
        return typed("V", None)
    if isinstance(value, Mapping):
        return typed("F", value)
    if isinstance(value, list | tuple):
        return typed("A", value)
    raise FieldTableError(f"cannot encode {value!r} in a field table")


def to_table(arguments: Mapping[str, Any] | None) -> Table:
    """Normalise method arguments: `FieldValue`s are kept, plain Python values get a tag inferred.

    Pass typed tables (from `decode_table`) wherever reply texts must name the type the
    client really sent; plain values are typed as pika would encode them.
    """
    if not arguments:
        return {}
    return {key: _infer(value) for key, value in arguments.items()}


def erlang_term(value: FieldValue) -> object:
    """A Python value whose ``==`` behaves like Erlang's ``==`` on RabbitMQ's decoded term.

    Integers (including timestamps) and floats compare numerically, longstr and binary
    compare as bytes, booleans equal only booleans, nested tables/arrays compare
    structurally with their RabbitMQ type names.
    """
    tag = value.tag
    if tag in INTEGER_TAGS or tag in FLOAT_TAGS:
        return value.value
    if tag in BINARY_TAGS:
        return ("binary", value.value)
    if tag == "t":
        return ("bool", value.value)
    if tag == "D":
        return ("decimal", *value.value)
    if tag == "V":
        return ("void",)
    if tag == "F":
        return (
            "table",
            tuple((k, TYPE_NAMES[v.tag], erlang_term(v)) for k, v in value.value.items()),
        )
    return ("array", tuple((TYPE_NAMES[v.tag], erlang_term(v)) for v in value.value))


def format_value(value: FieldValue) -> str:
    """Render a value the way RabbitMQ's reply texts print it (``10``, ``true``, ``dlx``)."""
    if value.tag == "t":
        return "true" if value.value else "false"
    if value.tag in BINARY_TAGS:
        return bytes(value.value).decode("utf-8", "replace")
    if value.tag in FLOAT_TAGS:
        return repr(float(value.value))
    if value.tag in INTEGER_TAGS:
        return str(value.value)
    if value.tag == "V":
        return "undefined"
    return repr(erlang_term(value))
