"""Typed AMQP field tables that keep every value's wire encoding: the broker's view.

pamqp decodes a table into plain Python values and forgets the type tag
(`I` 1, `l` 1 and `b` 1 all become ``1``), and it cannot re-encode some
values it decodes (non-UTF-8 longstrs come back as ``bytes``). RabbitMQ keeps
the tags: they show up in its reply texts ("of type 'signedint'"), in its
argument equivalence rules and in the headers it hands back to consumers.
The codec itself (`FieldValue`, decoding, encoding) is
:mod:`async_amqp._core.fieldtable`, re-exported here; this module adds what the
model needs on top: values built with an explicit tag, plain values typed as
clients type them, and RabbitMQ's comparison and printing of values.
"""

from __future__ import annotations

import datetime
import decimal
import struct
from collections.abc import Mapping
from typing import Any

from async_amqp._core.fieldtable import (
    BINARY_TAGS,
    FLOAT_TAGS,
    INTEGER_TAGS,
    TYPE_NAMES,
    TYPED_FIXED,
    FieldTableError,
    FieldValue,
    Table,
    decode_plain,
    decode_table,
    encode_entries,
    encode_table,
    iter_raw_table,
    plain_timestamp,
)

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
    "erlang_term",
    "format_value",
    "iter_raw_table",
    "plain_timestamp",
    "to_table",
    "typed",
]


_FIXED = TYPED_FIXED
_U32 = struct.Struct(">I")


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


def erlang_term(value: FieldValue) -> tuple[object, ...]:
    """A flat tuple whose ``==`` behaves like Erlang's ``==`` on RabbitMQ's decoded term.

    Integers (including timestamps) and floats compare numerically, longstr and binary
    compare as bytes, booleans equal only booleans, nested tables/arrays compare
    structurally with their RabbitMQ type names. Built without recursion, and flat (a
    pre-order walk with entry counts), so values of any depth compare without recursion.
    """
    tokens: list[object] = []
    pending: list[FieldValue | str] = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):  # a key or a type name, already placed in order
            tokens.append(item)
            continue
        tag = item.tag
        if tag in INTEGER_TAGS or tag in FLOAT_TAGS:
            tokens.append(item.value)
        elif tag in BINARY_TAGS:
            tokens += ("binary", bytes(item.value))
        elif tag == "t":
            tokens += ("bool", item.value)
        elif tag == "D":
            tokens += ("decimal", *item.value)
        elif tag == "V":
            tokens.append("void")
        elif tag == "F":
            entries = list(item.value.items())
            tokens += ("table", len(entries))
            for key, nested in reversed(entries):
                pending += (nested, TYPE_NAMES[nested.tag], key)
        else:
            tokens += ("array", len(item.value))
            for nested in reversed(item.value):
                pending += (nested, TYPE_NAMES[nested.tag])
    return tuple(tokens)


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
