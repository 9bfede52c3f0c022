"""Typed ``arguments`` tables straight from method-frame payloads.

pamqp decodes method arguments into plain Python values and drops the type
tags that RabbitMQ's reply texts name ("of type 'signedint'"). The wire side
can hand the raw method payload to `method_arguments` to get a typed table
for the model instead. Where the table lies is the core's knowledge
(:func:`async_amqp._core.methods.table_span`, from pamqp's argument metadata).
"""

from __future__ import annotations

import struct

from pamqp import commands

from async_amqp._core.methods import table_span

from .fieldtable import Table, decode_table

__all__ = ["method_arguments"]


def method_arguments(payload: bytes) -> Table | None:
    """The typed ``arguments`` of a method payload (class id and method id included).

    Returns None for methods without arguments.
    :raises ValueError: for a truncated payload or a malformed table.
    """
    (index,) = struct.unpack_from(">I", payload, 0)
    method_class = commands.INDEX_MAPPING.get(index)
    if method_class is None:
        return None
    span = table_span(method_class, payload)
    return None if span is None else decode_table(payload[span])
