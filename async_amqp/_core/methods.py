"""Decoding method arguments, as RabbitMQ's generated decoder reads them.

pamqp's ``unmarshal`` decodes field tables recursively (a deep table raises
``RecursionError``), refuses short strings that are not UTF-8 (RabbitMQ
accepts and routes them) and ignores bytes left over after the last argument.
This decoder walks pamqp's own argument metadata (names, AMQP types, in spec
order) with offsets: short strings that are not UTF-8 are decoded with
``surrogateescape`` (they re-encode to the same bytes), tables go through the
iterative :mod:`.fieldtable`, and the caller learns where the arguments end.

Like RabbitMQ, a payload whose layout does not match (truncated, a table
length running past the payload, bytes left over) is one kind of error, and a
table whose *contents* are malformed is another: RabbitMQ answers the first
with ``501 cannot decode`` and drops the socket for the second.
"""

from __future__ import annotations

import struct
from typing import Any, Final

from pamqp import commands
from pamqp.base import Frame

from .fieldtable import Table, decode_plain, decode_table

__all__ = [
    "ArgumentLayoutError",
    "MalformedUtf8Error",
    "decode_arguments",
    "method_arguments",
    "table_span",
]


class ArgumentLayoutError(ValueError):
    """The arguments' layout does not match the method (RabbitMQ: 501 cannot decode)."""


class MalformedUtf8Error(ValueError):
    """A short string is not UTF-8 where RabbitMQ requires it (501, no method named)."""


_FIXED: Final[dict[str, struct.Struct]] = {
    "octet": struct.Struct(">B"),
    "short": struct.Struct(">H"),
    "long": struct.Struct(">I"),
    "longlong": struct.Struct(">q"),  # pamqp reads longlong as signed
}
_U32: Final = struct.Struct(">I")

# Per method class: (name, AMQP type) in spec order.
_layouts: dict[type[Frame], tuple[tuple[str, str], ...]] = {}


def _layout(method_class: type[Frame]) -> tuple[tuple[str, str], ...]:
    layout = _layouts.get(method_class)
    if layout is None:
        layout = tuple((name, method_class.amqp_type(name)) for name in method_class.__slots__)
        _layouts[method_class] = layout
    return layout


def _need(data: bytes, end: int) -> None:
    if end > len(data):
        raise ArgumentLayoutError("the arguments are truncated")


def _read_field(kind: str, data: bytes, offset: int) -> tuple[Any, int, bool]:
    """One non-bit argument: ``(value, next offset, True if a short string is not UTF-8)``.

    A table's value is its offset (it is decoded after the layout is checked).
    """
    codec = _FIXED.get(kind)
    if codec is not None:
        _need(data, offset + codec.size)
        return codec.unpack_from(data, offset)[0], offset + codec.size, False
    if kind == "shortstr":
        _need(data, offset + 1)
        end = offset + 1 + data[offset]
        _need(data, end)
        raw = data[offset + 1 : end]
        try:
            return raw.decode("utf-8"), end, False
        except UnicodeDecodeError:
            return raw.decode("utf-8", "surrogateescape"), end, True
    _need(data, offset + 4)  # longstr or table: a 32-bit length
    end = offset + 4 + _U32.unpack_from(data, offset)[0]
    _need(data, end)
    if kind == "table":
        return offset, end, False
    raw = data[offset + 4 : end]
    try:
        return raw.decode("utf-8"), end, False
    except UnicodeDecodeError:
        return raw, end, False


def decode_arguments(
    method_class: type[Frame],
    data: bytes,
    offset: int = 4,
    *,
    strict: bool = False,
    utf8: bool = False,
) -> tuple[Frame, int]:
    """Decode *method_class*'s arguments from ``data[offset:]``.

    Tables are checked for layout first and decoded last, so a payload that is both
    mis-sized and holds a malformed table fails as RabbitMQ's does (layout first).

    :param strict: read tables as RabbitMQ does (no ``0`` tag, which pamqp reads as void)
    :param utf8: refuse short strings that are not UTF-8 (RabbitMQ does, except in
        basic.publish); otherwise they are decoded with ``surrogateescape``
    :returns: ``(method, offset just past the last argument)``
    :raises ArgumentLayoutError: when the layout does not match (truncated, overrunning)
    :raises MalformedUtf8Error: for a short string that is not UTF-8, with *utf8*
    :raises FieldTableError: when a table's contents are malformed
    """
    method = method_class.__new__(method_class)
    tables: list[tuple[str, int, int]] = []
    bit_byte = -1
    bit_index = 0
    malformed_utf8 = False
    for name, kind in _layout(method_class):
        if kind == "bit":
            if bit_byte < 0 or bit_index == 8:
                _need(data, offset + 1)
                bit_byte = data[offset]
                bit_index = 0
                offset += 1
            setattr(method, name, bool(bit_byte & (1 << bit_index)))
            bit_index += 1
            continue
        bit_byte = -1
        value, next_offset, not_utf8 = _read_field(kind, data, offset)
        malformed_utf8 |= not_utf8
        if kind == "table":
            tables.append((name, offset, next_offset))
            value = None
        setattr(method, name, value)
        offset = next_offset
    if malformed_utf8 and utf8:
        raise MalformedUtf8Error("Malformed UTF-8 in shortstr")
    for name, start, end in tables:
        setattr(method, name, _decode_table(data, start, end, strict))
    return method, offset


#: Tables at least this long (the handshake's properties) are decoded once per encoding.
LARGE_TABLE: Final = 256
_large_tables: dict[tuple[bytes, bool], Any] = {}


def _decode_table(data: bytes, start: int, end: int, strict: bool) -> Any:
    """Decode the table in ``data[start:end]`` (its length prefix included); a large one
    from the last few seen, as a copy.

    A broker sends the same server properties in every connection.start (and a
    client the same client properties in every start-ok): decoding them costs more
    than copying what they decoded to (each caller may change its own copy).
    """
    if end - start < LARGE_TABLE:
        return decode_plain(data, start, nul_void=not strict)[1]
    key = (bytes(data[start:end]), strict)
    table = _large_tables.get(key)
    if table is None:
        table = decode_plain(data, start, nul_void=not strict)[1]
        if len(_large_tables) >= 16:
            _large_tables.clear()
        _large_tables[key] = table
    return copy_plain(table)


def copy_plain(value: Any) -> Any:
    """A copy of a decoded table or array that shares nothing mutable with *value*.

    Iterative, like the decoder: a table nested thousands deep is copied too.
    """
    copy = _copy_level(value)
    stack = [(value, copy)] if copy is not value else []
    while stack:
        source, target = stack.pop()
        items = source.items() if isinstance(source, dict) else enumerate(source)
        for key, item in items:
            copied = _copy_level(item)
            target[key] = copied
            if copied is not item and not isinstance(item, bytearray):
                stack.append((item, copied))
    return copy


def _copy_level(value: Any) -> Any:
    """An empty container of *value*'s kind to fill, a copied byte array, or *value*."""
    if isinstance(value, dict):
        return {}
    if isinstance(value, list):
        return [None] * len(value)
    if isinstance(value, bytearray):
        return bytearray(value)
    return value  # str, bytes, numbers, Decimal, datetime, None: immutable


def table_span(method_class: type[Frame], data: bytes, name: str = "arguments") -> slice | None:
    """Where the table argument *name* of a method payload lies (its contents, without the
    length prefix), for decoding it typed; ``None`` when the method has no such argument.

    :param data: the method payload, class and method id included
    :raises ArgumentLayoutError: when the payload is too short to reach it
    """
    offset = 4
    bits = 0  # bits read into the current octet (8: the next bit starts a new octet)
    for field_name, kind in _layout(method_class):
        if kind == "bit":
            if bits in (0, 8):
                offset += 1
                bits = 0
            bits += 1
            continue
        bits = 0
        _, next_offset, _ = _read_field(kind, data, offset)
        if field_name == name and kind == "table":
            return slice(offset + 4, next_offset)
        offset = next_offset
    return None


def method_arguments(payload: bytes) -> Table | None:
    """The typed ``arguments`` table of a method payload (class id and method id included).

    pamqp decodes arguments into plain values and drops the type tags RabbitMQ's reply
    texts name ("of type 'signedint'"); this keeps them. Returns None for methods
    without arguments.

    :raises ValueError: for a truncated payload or a malformed table.
    """
    (index,) = struct.unpack_from(">I", payload, 0)
    method_class = commands.INDEX_MAPPING.get(index)
    if method_class is None:
        return None
    span = table_span(method_class, payload)
    return None if span is None else decode_table(payload[span])
