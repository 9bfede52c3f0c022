"""Frames on the wire: splitting a byte stream into frames and encoding frames.

This is the only place that knows the frame layout (type, channel, size,
payload, 0xCE). Method arguments are encoded here rather than with
``pamqp.frame.marshal`` because pamqp validates names against the AMQP 0-8
grammar (127 characters, a restricted alphabet), while RabbitMQ accepts any
UTF-8 name up to 255 bytes; decoding and property encoding stay pamqp's.
"""

from __future__ import annotations

import struct
from typing import Any, Final, TypeVar

from pamqp import commands, encode
from pamqp.base import Frame

from .erlang import binary_p, binary_w, frame_error_text
from .errors import FrameError, ProtocolError
from .fieldtable import FieldTableError
from .methods import ArgumentLayoutError, MalformedUtf8Error, decode_arguments

FRAME_METHOD: Final = 1
FRAME_HEADER: Final = 2
FRAME_BODY: Final = 3
FRAME_HEARTBEAT: Final = 8
FRAME_END: Final = 0xCE
FRAME_END_BYTE: Final = b"\xce"
#: Bytes a frame adds around its payload: type, channel, size (7) and the end octet.
FRAME_OVERHEAD: Final = 8
#: The smallest frame_max a peer may negotiate.
FRAME_MIN_SIZE: Final = 4096

PROTOCOL_HEADER: Final = b"AMQP\x00\x00\x09\x01"

_frame_head = struct.Struct(">BHI")
_method_index = struct.Struct(">I")
_content_head = struct.Struct(">HHQ")
_HEARTBEAT_FRAME: Final = _frame_head.pack(FRAME_HEARTBEAT, 0, 0) + FRAME_END_BYTE
EMPTY_PROPERTIES: Final = b"\x00\x00"

RawFrame = tuple[int, int, bytes]
"""``(frame_type, channel_id, payload)`` as cut from the stream."""


def erlang_binary(data: bytes) -> str:
    """Format *data* the way RabbitMQ prints an Erlang binary with ``~p`` on one line."""
    return binary_p(data)


class FrameReader:
    """Cuts a received byte stream into frames, enforcing frame_max and the end octet.

    A frame's header is checked before its payload is waited for: a declared size
    over the limit is refused at once. An unknown frame type is refused at once too
    when *eager* (the client); RabbitMQ (and so the broker) first reads the payload,
    to quote it in its error text.

    :param max_frame_size: the negotiated frame_max (0 means not yet limited)
    :param eager: refuse an unknown frame type by its header alone
    """

    __slots__ = ("_buffer", "eager", "max_frame_size")

    def __init__(self, max_frame_size: int = 0, *, eager: bool = False) -> None:
        self._buffer = bytearray()
        self.max_frame_size = max_frame_size
        self.eager = eager

    @property
    def buffered(self) -> int:
        """Number of received bytes not yet consumed as a frame."""
        return len(self._buffer)

    def read_protocol_header(self, data: bytes) -> bytes | None:
        """Buffer *data* and return the peer's 8-byte protocol header once complete."""
        self._buffer += data
        if len(self._buffer) < 8:
            return None
        header = bytes(self._buffer[:8])
        del self._buffer[:8]
        return header

    def discard(self) -> None:
        """Drop the buffered bytes (after a framing error the stream has lost its framing)."""
        self._buffer.clear()

    def feed(self, data: bytes) -> list[RawFrame]:
        """Buffer *data* and return every frame it completes, in order.

        :raises FrameError: on an oversized frame, a bad end octet or an unknown frame type
        """
        buffer = self._buffer
        buffer += data
        frames: list[RawFrame] = []
        available = len(buffer)
        offset = 0
        # Like RabbitMQ: a payload may be as large as frame_max itself, although the error
        # text names frame_max - 8 as the limit.
        limit = self.max_frame_size
        view = memoryview(buffer)
        try:
            while available - offset >= 7:
                frame_type, channel_id, size = _frame_head.unpack_from(buffer, offset)
                if frame_type not in (FRAME_METHOD, FRAME_HEADER, FRAME_BODY, FRAME_HEARTBEAT):
                    if self.eager:
                        raise FrameError(_unknown_frame_text(frame_type, channel_id, size))
                    end = offset + 7 + size
                    if available < end:
                        break
                    payload = view[offset + 7 : end].tobytes()
                    raise FrameError(frame_error_text(frame_type, payload, "unknown_frame"))
                if limit and size > limit:
                    raise FrameError(
                        frame_error_text(
                            frame_type,
                            b"",
                            ("frame_too_large", str(size), str(limit - FRAME_OVERHEAD)),
                        )
                    )
                end = offset + 7 + size
                if available <= end:
                    break
                if buffer[end] != FRAME_END:
                    payload = view[offset + 7 : end].tobytes()
                    raise FrameError(
                        frame_error_text(
                            frame_type, payload, ("invalid_frame_end_marker", str(buffer[end]))
                        )
                    )
                frames.append((frame_type, channel_id, view[offset + 7 : end].tobytes()))
                offset = end + 1
        finally:
            view.release()
        if offset:
            del buffer[:offset]
        return frames


def _unknown_frame_text(frame_type: int, channel_id: int, size: int) -> str:
    return (
        f"unknown frame type {frame_type} (channel {channel_id}, declaring {size} bytes): "
        "unknown_frame"
    )


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


_s64 = struct.Struct(">q")  # pamqp reads longlong as signed
_DELIVER = commands.Basic.Deliver.index
_PUBLISH = commands.Basic.Publish.index
_ACK = commands.Basic.Ack.index


def _short_string(payload: bytes, offset: int) -> tuple[str, int]:
    end = offset + 1 + payload[offset]
    if end > len(payload):
        raise IndexError("short string runs past the payload")
    raw = payload[offset + 1 : end]
    try:
        return raw.decode(), end
    except UnicodeDecodeError:
        return raw.decode("utf-8", "surrogateescape"), end


def _decode_deliver(payload: bytes) -> Frame:
    method = commands.Basic.Deliver.__new__(commands.Basic.Deliver)
    method.consumer_tag, offset = _short_string(payload, 4)
    (method.delivery_tag,) = _s64.unpack_from(payload, offset)
    method.redelivered = bool(payload[offset + 8] & 1)
    method.exchange, offset = _short_string(payload, offset + 9)
    method.routing_key, _ = _short_string(payload, offset)
    return method


def _decode_publish(payload: bytes) -> Frame:
    method = commands.Basic.Publish.__new__(commands.Basic.Publish)
    (method.ticket,) = struct.unpack_from(">H", payload, 4)
    method.exchange, offset = _short_string(payload, 6)
    method.routing_key, offset = _short_string(payload, offset)
    bits = payload[offset]
    method.mandatory = bool(bits & 1)
    method.immediate = bool(bits & 2)
    return method


def _decode_ack(payload: bytes) -> Frame:
    method = commands.Basic.Ack.__new__(commands.Basic.Ack)
    (method.delivery_tag,) = _s64.unpack_from(payload, 4)
    method.multiple = bool(payload[12] & 1)
    return method


def _publish_size(payload: bytes) -> int:
    routing_key = 7 + payload[6]
    return routing_key + 1 + payload[routing_key] + 1


#: Hand-written decoders for the hottest methods (tested equal to pamqp's).
_FAST_DECODERS = {_DELIVER: _decode_deliver, _PUBLISH: _decode_publish, _ACK: _decode_ack}


def _ack_size(payload: bytes) -> int:
    return 13


#: The exact payload size of the hot methods a client sends, for strict decoding.
_FAST_SIZES = {_PUBLISH: _publish_size, _ACK: _ack_size}


def decode_method(payload: bytes, *, strict: bool = False) -> Frame:
    """Decode a method frame's payload into a pamqp method object.

    Short strings that are not UTF-8 are decoded with ``surrogateescape``; field tables
    of any depth are decoded without recursion.

    :param strict: read as RabbitMQ does: no bytes left over after the last argument, no
        ``0`` tag in tables (pamqp reads it as void), short strings UTF-8 except in
        basic.publish (whose routing key RabbitMQ routes as bytes)
    :raises ProtocolError: for an unknown method or a malformed field table in the
        arguments (RabbitMQ drops the socket without a close)
    :raises FrameError: for arguments that do not match the method's layout (501, with
        the method's class and method id)
    """
    if len(payload) < 4:
        raise FrameError(f"cannot decode {binary_w(payload)}")
    (index,) = _method_index.unpack_from(payload)
    fast = _FAST_DECODERS.get(index)
    if fast is not None:
        try:
            if not strict:
                return fast(payload)
            size = _FAST_SIZES.get(index)
            if size is not None and size(payload) == len(payload):
                return fast(payload)
        except (struct.error, IndexError):
            pass  # let the generic decoder produce the error
    method_class = commands.INDEX_MAPPING.get(index)
    class_id, method_id = index >> 16, index & 0xFFFF
    if method_class is None:
        raise ProtocolError(503, f"unknown method {class_id}/{method_id}", send_close=False)
    try:
        decoded, end = decode_arguments(
            method_class, payload, strict=strict, utf8=strict and index != _PUBLISH
        )
        if strict and end != len(payload):
            raise ArgumentLayoutError("bytes left over after the arguments")
    except MalformedUtf8Error as error:
        raise FrameError(str(error)) from error
    except ArgumentLayoutError as error:
        raise FrameError(
            f"cannot decode {binary_w(payload[4:])}", class_id=class_id, method_id=method_id
        ) from error
    except FieldTableError as error:
        kind = "unknown field type" if "field type" in str(error) else "malformed field table"
        raise ProtocolError(
            503,
            f"{kind} in arguments of method {class_id}/{method_id}",
            class_id=class_id,
            method_id=method_id,
            send_close=False,
        ) from error
    return decoded


def decode_content_header(payload: bytes) -> tuple[int, int, bytes]:
    """Split a content header payload into ``(class_id, body_size, properties_payload)``.

    :raises FrameError: when the payload is too short to be a content header
    """
    if len(payload) < 12:
        raise FrameError(frame_error_text(FRAME_HEADER, payload, "unknown_frame"))
    class_id, _weight, body_size = _content_head.unpack_from(payload)
    return class_id, body_size, payload[12:]


def decode_properties(properties_payload: bytes) -> commands.Basic.Properties:
    """Decode a content header's flags and property list.

    :raises ValueError: when the property list cannot be decoded
    """
    properties = commands.Basic.Properties()
    if properties_payload == EMPTY_PROPERTIES:
        return properties
    flags = 0
    offset = 0
    word = 0
    while True:
        if len(properties_payload) < offset + 2:
            raise ValueError("content header property flags are truncated")
        (partial,) = struct.unpack_from(">H", properties_payload, offset)
        offset += 2
        flags |= (partial & 0xFFFE) << (word * 16)
        if not partial & 1:
            break
        word += 1
    try:
        properties.unmarshal(flags, properties_payload[offset:])
    except (struct.error, TypeError, IndexError) as error:
        raise ValueError(f"cannot decode content properties: {error}") from error
    return properties


__all__ = [
    "EMPTY_PROPERTIES",
    "FRAME_BODY",
    "FRAME_END",
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
]
