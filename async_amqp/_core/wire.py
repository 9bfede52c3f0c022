"""Frames on the wire: encoding frames (and, re-exported, reading them).

The frame layout and the stream reader are :mod:`.frames`, payload decoding
:mod:`.decode`; this module encodes, and is the one name the rest imports.
Method arguments are encoded here rather than with
``pamqp.frame.marshal`` because pamqp validates names against the AMQP 0-8
grammar (127 characters, a restricted alphabet), while RabbitMQ accepts any
UTF-8 name up to 255 bytes; decoding and property encoding stay pamqp's.
"""

from __future__ import annotations

import functools
import struct
from typing import Any, Final, TypeVar

from pamqp import commands, encode
from pamqp.base import Frame

from .decode import decode_content_header, decode_method, decode_properties
from .frames import (
    EMPTY_PROPERTIES,
    FRAME_BODY,
    FRAME_END,
    FRAME_END_BYTE,
    FRAME_HEADER,
    FRAME_HEARTBEAT,
    FRAME_METHOD,
    FRAME_MIN_SIZE,
    FRAME_OVERHEAD,
    PROTOCOL_HEADER,
    FrameReader,
    RawFrame,
    erlang_binary,
)

_frame_head = struct.Struct(">BHI")
_method_index = struct.Struct(">I")
_content_head = struct.Struct(">HHQ")
_HEARTBEAT_FRAME: Final = _frame_head.pack(FRAME_HEARTBEAT, 0, 0) + FRAME_END_BYTE


class _ArgumentCodec:
    """Encodes one method class's arguments in spec order, packing bits like pamqp."""

    __slots__ = ("fields",)

    def __init__(self, method_class: type[Frame]) -> None:
        self.fields = [(name, method_class.amqp_type(name)) for name in method_class.__slots__]

    def encode(self, method: Frame) -> bytes:
        parts: list[bytes] = []
        bits = 0
        bit_count = 0
        for name, data_type in self.fields:
            value = getattr(method, name, None)
            if data_type == "bit":
                if bit_count == 8:
                    parts.append(bytes((bits,)))
                    bits = bit_count = 0
                if value:
                    bits |= 1 << bit_count
                bit_count += 1
                continue
            if bit_count:
                parts.append(bytes((bits,)))
                bits = bit_count = 0
            parts.append(_encode_value(value, data_type))
        if bit_count:
            parts.append(bytes((bits,)))
        return b"".join(parts)


class EncodedTable(bytes):
    """A field table already encoded (length prefix included): a method argument the
    encoder copies as it is."""


_encoded_tables: dict[str, EncodedTable] = {}


def encoded_table(table: dict[str, Any]) -> EncodedTable:
    """*table* encoded, from the last few encoded (the client properties of start-ok).

    Keyed by ``repr``, which tells apart what encodes differently (``True``, ``1``,
    ``1.0``; a byte array and a string) and is several times cheaper than encoding.
    """
    key = repr(table)
    encoded = _encoded_tables.get(key)
    if encoded is None:
        if len(_encoded_tables) >= 16:
            _encoded_tables.clear()
        encoded = _encoded_tables[key] = EncodedTable(encode.field_table(table))
    return encoded


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, str):
        # Surrogate escapes stand for raw bytes (non-UTF-8 names, Erlang-printed Latin-1).
        return value.encode("utf-8", "surrogateescape")
    return bytes(value or b"")


def _encode_value(value: Any, data_type: str) -> bytes:
    if data_type == "shortstr":
        encoded = _as_bytes(value)
        if len(encoded) > 255:
            raise ValueError(f"short string longer than 255 bytes: {encoded[:32]!r}...")
        return bytes((len(encoded),)) + encoded
    if data_type == "longstr":
        encoded = _as_bytes(value)
        return _method_index.pack(len(encoded)) + encoded
    if data_type == "table":
        if isinstance(value, EncodedTable):
            return value
        return encode.field_table(value or {})
    return encode.by_type(0 if value is None else value, data_type)


_codecs: dict[type[Frame], _ArgumentCodec] = {}


def encode_arguments(method: Frame) -> bytes:
    """Encode *method*'s arguments (without pamqp's name validation)."""
    method_class = type(method)
    codec = _codecs.get(method_class)
    if codec is None:
        codec = _codecs[method_class] = _ArgumentCodec(method_class)
    return codec.encode(method)


_M = TypeVar("_M", bound=Frame)


def make_method(method_class: type[_M], **fields: Any) -> _M:
    """Build a pamqp method without pamqp's 0-8 name validation (RabbitMQ allows more)."""
    method = method_class()
    for name, value in fields.items():
        setattr(method, name, value)
    return method


_PUBLISH_INDEX: Final = _method_index.pack(commands.Basic.Publish.index)


def encode_publish(
    channel_id: int, exchange: bytes, routing_key: bytes, mandatory: bool, immediate: bool
) -> bytes:
    """Encode a basic.publish method frame (hot path; equal to the generic encoder)."""
    if len(exchange) > 255 or len(routing_key) > 255:
        raise ValueError("exchange name and routing key are limited to 255 bytes")
    payload = b"".join(
        (
            _PUBLISH_INDEX,
            b"\x00\x00",
            bytes((len(exchange),)),
            exchange,
            bytes((len(routing_key),)),
            routing_key,
            bytes((mandatory | (immediate << 1),)),
        )
    )
    return _frame_head.pack(FRAME_METHOD, channel_id, len(payload)) + payload + FRAME_END_BYTE


@functools.lru_cache(maxsize=512)
def publish_frame(
    channel_id: int, exchange: str, routing_key: str, mandatory: bool, immediate: bool
) -> bytes:
    """The basic.publish method frame of a publish, cached: most publishes repeat one.

    :raises ValueError: when the exchange name or routing key exceeds 255 bytes
    """
    return encode_publish(channel_id, exchange.encode(), routing_key.encode(), mandatory, immediate)


_ack_frame = struct.Struct(">BHIIqB")
_ACK_PAYLOAD_SIZE: Final = 13


def encode_ack(channel_id: int, delivery_tag: int, multiple: bool) -> bytes:
    """Encode a basic.ack method frame (hot path; equal to the generic encoder)."""
    return (
        _ack_frame.pack(
            FRAME_METHOD,
            channel_id,
            _ACK_PAYLOAD_SIZE,
            commands.Basic.Ack.index,
            delivery_tag,
            multiple,
        )
        + FRAME_END_BYTE
    )


def encode_method(channel_id: int, method: Frame) -> bytes:
    """Encode *method* as one method frame on *channel_id*."""
    payload = _method_index.pack(method.index) + encode_arguments(method)
    return _frame_head.pack(FRAME_METHOD, channel_id, len(payload)) + payload + FRAME_END_BYTE


def encode_properties(properties: commands.Basic.Properties | None) -> bytes:
    """Encode content properties (flags and property list) as a header frame carries them."""
    if properties is None:
        return EMPTY_PROPERTIES
    return properties.marshal()


def encode_content(
    channel_id: int, properties_payload: bytes, body: bytes | memoryview, frame_max: int
) -> list[bytes | memoryview]:
    """Encode a content header and body frames split at ``frame_max - 8``.

    The body is referenced, not copied: the pieces are joined once by the writer.
    """
    body_size = len(body)
    header_payload = _content_head.pack(60, 0, body_size) + properties_payload
    pieces: list[bytes | memoryview] = [
        _frame_head.pack(FRAME_HEADER, channel_id, len(header_payload))
        + header_payload
        + FRAME_END_BYTE
    ]
    if not body_size:
        return pieces
    chunk = frame_max - FRAME_OVERHEAD if frame_max else body_size
    if body_size <= chunk:
        pieces.append(_frame_head.pack(FRAME_BODY, channel_id, body_size))
        pieces.append(body)
        pieces.append(FRAME_END_BYTE)
        return pieces
    view = memoryview(body)
    for start in range(0, body_size, chunk):
        part = view[start : start + chunk]
        pieces.append(_frame_head.pack(FRAME_BODY, channel_id, len(part)))
        pieces.append(part)
        pieces.append(FRAME_END_BYTE)
    return pieces


def encode_heartbeat() -> bytes:
    """Return a heartbeat frame."""
    return _HEARTBEAT_FRAME


__all__ = [
    "EMPTY_PROPERTIES",
    "FRAME_BODY",
    "FRAME_END",
    "FRAME_END_BYTE",
    "FRAME_HEADER",
    "FRAME_HEARTBEAT",
    "FRAME_METHOD",
    "FRAME_MIN_SIZE",
    "FRAME_OVERHEAD",
    "PROTOCOL_HEADER",
    "FrameReader",
    "RawFrame",
    "decode_content_header",
    "decode_method",
    "decode_properties",
    "encode_ack",
    "encode_arguments",
    "encode_content",
    "encode_heartbeat",
    "encode_method",
    "encode_properties",
    "encode_publish",
    "erlang_binary",
    "make_method",
    "publish_frame",
]
