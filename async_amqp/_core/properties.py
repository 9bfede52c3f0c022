"""Encoding and decoding the basic content properties, fast.

A content header carries 14 optional properties, announced by flag bits. This module
reads and writes them directly (pamqp builds an object and dispatches per field,
which showed up in profiles of deliveries and RPC round trips); field tables are
decoded by :mod:`.fieldtable` (any depth; encoded by pamqp). Encoding is byte-for-
byte what pamqp produces: like pamqp, ``None`` and empty strings are left out. A
timestamp decodes like pamqp's (seconds; above 2**32, milliseconds) to an aware UTC
``datetime``, and to the wire's integer when no ``datetime`` can hold it
(microseconds since the epoch, as some publishers send, mean a year past 9999); an
``int`` encodes as is. Short strings that are not UTF-8 are decoded with
``surrogateescape`` so one odd message cannot break a connection, and they re-encode
to the same bytes.
"""

from __future__ import annotations

import datetime
import struct
from typing import Any

from pamqp import encode

from .fieldtable import decode_plain

#: Property names in wire order, with their flag bit and AMQP type.
FIELDS: tuple[tuple[str, int, str], ...] = (
    ("content_type", 1 << 15, "shortstr"),
    ("content_encoding", 1 << 14, "shortstr"),
    ("headers", 1 << 13, "table"),
    ("delivery_mode", 1 << 12, "octet"),
    ("priority", 1 << 11, "octet"),
    ("correlation_id", 1 << 10, "shortstr"),
    ("reply_to", 1 << 9, "shortstr"),
    ("expiration", 1 << 8, "shortstr"),
    ("message_id", 1 << 7, "shortstr"),
    ("timestamp", 1 << 6, "timestamp"),
    ("message_type", 1 << 5, "shortstr"),
    ("user_id", 1 << 4, "shortstr"),
    ("app_id", 1 << 3, "shortstr"),
    ("cluster_id", 1 << 2, "shortstr"),
)

EMPTY = b"\x00\x00"
_flags = struct.Struct(">H")
_timestamp = struct.Struct(">Q")


def encode_values(values: tuple[Any, ...]) -> bytes:
    """Encode 14 property values (wire order, ``None`` for unset) as flags + list.

    :raises ValueError: for a short string over 255 bytes or an octet out of range
    :raises TypeError: for a value of the wrong type
    """
    flags = 0
    parts: list[bytes] = []
    for (name, bit, kind), value in zip(FIELDS, values, strict=True):
        if value is None or value == "":
            continue
        flags |= bit
        if kind == "shortstr":
            if not isinstance(value, str):
                raise TypeError(f"property {name} must be a str, not {type(value).__name__}")
            raw = value.encode("utf-8", "surrogateescape")
            if len(raw) > 255:
                raise ValueError(f"property {name} is longer than 255 bytes")
            parts.append(bytes((len(raw),)) + raw)
        elif kind == "octet":
            if not isinstance(value, int) or not 0 <= value <= 255:
                raise ValueError(f"property {name} must be an integer 0..255, not {value!r}")
            parts.append(bytes((value,)))
        elif kind == "table":
            parts.append(encode.field_table(value))
        else:
            parts.append(_encode_timestamp(value))
    if not flags:
        return EMPTY
    return _flags.pack(flags) + b"".join(parts)


def decode_values(payload: bytes) -> tuple[Any, ...]:
    """Decode a content header's flags and property list into 14 values (wire order).

    :raises ValueError: when the list is truncated or malformed
    """
    if payload == EMPTY:
        return (None,) * 14
    try:
        flags, offset = _read_flags(payload)
        values: list[Any] = []
        for _name, bit, kind in FIELDS:
            if not flags & bit:
                values.append(None)
                continue
            if kind == "shortstr":
                end = offset + 1 + payload[offset]
                if end > len(payload):
                    raise IndexError("a short string runs past the property list")
                values.append(payload[offset + 1 : end].decode("utf-8", "surrogateescape"))
                offset = end
            elif kind == "octet":
                values.append(payload[offset])
                offset += 1
            elif kind == "table":
                consumed, table = decode_plain(payload, offset)
                values.append(table)
                offset += consumed
            else:
                values.append(_decode_timestamp(payload, offset))
                offset += 8
    except (IndexError, struct.error, ValueError) as error:
        raise ValueError(f"cannot decode content properties: {error}") from error
    return tuple(values)


def _encode_timestamp(value: Any) -> bytes:
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value < 1 << 64:
            raise ValueError(f"property timestamp must fit in 64 bits unsigned, not {value}")
        return _timestamp.pack(value)
    return encode.timestamp(value)


def _decode_timestamp(payload: bytes, offset: int) -> datetime.datetime | int:
    (raw,) = _timestamp.unpack_from(payload, offset)
    seconds = raw / 1000 if raw > 0xFFFFFFFF else raw  # pamqp's reading
    try:
        return datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    except (ValueError, OverflowError, OSError):
        return int(raw)  # beyond datetime (year 10000 or later): the value as sent


def _read_flags(payload: bytes) -> tuple[int, int]:
    flags = 0
    offset = 0
    word = 0
    while True:
        (partial,) = _flags.unpack_from(payload, offset)
        offset += 2
        flags |= (partial & 0xFFFE) << (word * 16)
        if not partial & 1:
            return flags, offset
        word += 1
