"""Typed AMQP field tables that keep every value's wire encoding: the broker's view.

pamqp decodes a table into plain Python values and forgets the type tag
(`I` 1, `l` 1 and `b` 1 all become ``1``), and it cannot re-encode some
values it decodes (non-UTF-8 longstrs come back as ``bytes``). RabbitMQ keeps
the tags: they show up in its reply texts ("of type 'signedint'"), in its
argument equivalence rules and in the headers it hands back to consumers.
The codec itself (`FieldValue`, decoding, encoding) is
:mod:`async_amqp._core.fieldtable`, and building typed values with their wire
bytes (:func:`typed`, :func:`to_table`) is :mod:`async_amqp._core.typedvalues`;
both are re-exported here. This module adds only RabbitMQ's semantics on top:
its comparison and printing of values. No bytes are made or read here.
"""

from __future__ import annotations

from async_amqp._core.fieldtable import (
    BINARY_TAGS,
    FLOAT_TAGS,
    INTEGER_TAGS,
    TYPE_NAMES,
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
from async_amqp._core.typedvalues import to_table, typed

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
