"""Decoding frame payloads: method arguments (with fast paths for the hot
methods) and content headers.
"""

from __future__ import annotations

import struct

from pamqp import commands
from pamqp.base import Frame

from .codes import ReplyCode
from .erlang import binary_w, frame_error_text
from .errors import ClosePolicy, FrameError, ProtocolError
from .fieldtable import FieldTableError
from .frames import EMPTY_PROPERTIES, FRAME_HEADER
from .methods import ArgumentLayoutError, MalformedUtf8Error, decode_arguments

_method_index = struct.Struct(">I")
_content_head = struct.Struct(">HHQ")
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
        raise ProtocolError(
            ReplyCode.COMMAND_INVALID,
            f"unknown method {class_id}/{method_id}",
            policy=ClosePolicy.DROP_NOW,
        )
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
            ReplyCode.COMMAND_INVALID,
            f"{kind} in arguments of method {class_id}/{method_id}",
            class_id=class_id,
            method_id=method_id,
            policy=ClosePolicy.DROP_NOW,
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


__all__ = ["decode_content_header", "decode_method", "decode_properties"]
