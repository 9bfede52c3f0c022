"""Typed ``arguments`` tables straight from method-frame payloads.

pamqp decodes method arguments into plain Python values and drops the type
tags that RabbitMQ's reply texts name ("of type 'signedint'"). The wire side
can hand the raw method payload to `method_arguments` to get a typed table
for the model instead; only the methods that carry ``arguments`` are known.
"""

from __future__ import annotations

import struct

from .fieldtable import Table, decode_table

__all__ = ["method_arguments"]

# Fields before the arguments table: "h" short, "s" shortstr, "o" octet (bits).
_LAYOUTS: dict[tuple[int, int], str] = {
    (40, 10): "hsso",  # exchange.declare
    (40, 30): "hssso",  # exchange.bind
    (40, 40): "hssso",  # exchange.unbind
    (50, 10): "hso",  # queue.declare
    (50, 20): "hssso",  # queue.bind
    (50, 50): "hsss",  # queue.unbind (no bits)
    (60, 20): "hsso",  # basic.consume
}


def method_arguments(payload: bytes) -> Table | None:
    """The typed ``arguments`` of a method payload (class id and method id included).

    Returns None for methods without arguments.
    :raises ValueError: for a truncated payload or a malformed table.
    """
    class_id, method_id = struct.unpack_from(">HH", payload, 0)
    layout = _LAYOUTS.get((class_id, method_id))
    if layout is None:
        return None
    offset = 4
    for kind in layout:
        if kind == "h":
            offset += 2
        elif kind == "o":
            offset += 1
        else:
            offset += 1 + payload[offset]
    (length,) = struct.unpack_from(">I", payload, offset)
    table = payload[offset + 4 : offset + 4 + length]
    if len(table) != length:
        raise ValueError("truncated arguments table")
    return decode_table(table)
