"""Typed field values built from Python values, with their exact wire encoding.

The broker builds header and argument values itself (dead-lettering's
``x-death``, quorum queues' ``x-delivery-count``, arguments given as plain
Python values by tests and the management-style API): each one needs its tag
and the bytes RabbitMQ would put on the wire. This module is where those bytes
are made; :mod:`async_amqp._core.fieldtable` decodes and re-encodes tables of
such values. Plain values are typed as common clients (pika, the Java client)
type them.
"""

from __future__ import annotations

import datetime
import decimal
import struct
from collections.abc import Mapping
from typing import Any, Final

from .fieldtable import TYPED_FIXED, FieldTableError, FieldValue, Table, encode_table

__all__ = ["to_table", "typed", "typed_value"]

_U32: Final = struct.Struct(">I")
_DECIMAL: Final = struct.Struct(">Bi")


def typed(tag: str, value: Any) -> FieldValue:
    """Build a `FieldValue` with an explicit tag, e.g. ``typed('l', 1)`` or ``typed('S', 'x')``.

    ``S``/``x`` take ``str`` (UTF-8) or bytes, ``F`` a mapping (values typed as by
    :func:`to_table`), ``A`` an iterable (plain items typed as by :func:`typed_value`),
    ``D`` a ``(scale, unscaled)`` pair, ``V`` anything (void).

    :raises FieldTableError: for an unknown tag
    """
    fixed = TYPED_FIXED.get(tag)
    if fixed is not None:
        return FieldValue(tag, bool(value) if tag == "t" else value, fixed.pack(value))
    if tag == "S" or tag == "x":
        data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        return FieldValue(tag, data, _U32.pack(len(data)) + data)
    if tag == "F":
        table = to_table(value)
        return FieldValue(tag, table, encode_table(table))
    if tag == "A":
        items = tuple(typed_value(item) for item in value)
        body = b"".join(item.encoded() for item in items)
        return FieldValue(tag, items, _U32.pack(len(body)) + body)
    if tag == "D":
        scale, unscaled = value
        return FieldValue(tag, (scale, unscaled), _DECIMAL.pack(scale, unscaled))
    if tag == "V":
        return FieldValue(tag, None, b"")
    raise FieldTableError(f"unsupported field type {tag!r}")


def typed_value(value: Any) -> FieldValue:
    """A plain Python value typed as common clients type it (a `FieldValue` is kept).

    :raises FieldTableError: for a value no field type holds
    """
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
    return {key: typed_value(value) for key, value in arguments.items()}
