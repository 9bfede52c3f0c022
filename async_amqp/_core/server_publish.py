"""The broker's publish fast path: one basic.publish command read straight from the bytes.

A publisher's stream is mostly basic.publish method frames, each followed by its
content header and body frames. :func:`take_publish` reads such a command whole,
without pamqp and without cutting it into frames first: the method's arguments
by hand (exchange, routing key, mandatory, immediate), the header's body size,
the raw property list kept opaque (it is only checked to be one the broker
accepts), then the body. It takes only a command that is complete in the bytes
at hand and plain in every way; anything else (a frame over frame_max, a wrong
end octet, bytes after the arguments, a header of another class or weight, a
property list RabbitMQ refuses, interleaved frames, a body longer than
announced, a command cut by the end of the received bytes) returns ``None``,
and the general frame-by-frame path reads it and gives RabbitMQ's answer.
"""

from __future__ import annotations

import struct
import sys
from typing import Final

from .frames import FRAME_BODY, FRAME_END, FRAME_HEADER, FRAME_METHOD
from .rawprops import decode_publish_properties
from .server_events import PublishReceived

__all__ = ["ACCESS_REQUEST", "PUBLISH_INDEX", "take_publish"]

_frame_head: Final = struct.Struct(">BHI")
_content_head: Final = struct.Struct(">HHQ")
#: basic.publish's class and method id (60/40), as they start its payload.
PUBLISH_INDEX: Final = b"\x00\x3c\x00\x28"
#: access.request's class and method id (30/10): not a pamqp method, read by the connection.
ACCESS_REQUEST: Final = b"\x00\x1e\x00\x0a"
#: A content header's class (60) and weight (0), as they start its payload.
_BASIC_HEADER: Final = b"\x00\x3c\x00\x00"

# Short strings seen before, as the str the general path decodes them to (interned:
# most publishers use a few exchanges and routing keys).
_NAMES_MAX: Final = 4096
_names: dict[bytes, str] = {}
# Property lists the broker has accepted before (most publishers send a few short ones).
_ACCEPTED_MAX: Final = 1024
_ACCEPTED_SIZE: Final = 256
_accepted: set[bytes] = set()


def _name(raw: bytes) -> str:
    name = _names.get(raw)
    if name is None:
        try:
            name = raw.decode()
        except UnicodeDecodeError:
            # As decode_method reads basic.publish: RabbitMQ keeps non-UTF-8 names as bytes.
            name = raw.decode("utf-8", "surrogateescape")
        if len(_names) >= _NAMES_MAX:
            _names.clear()
        name = _names[raw] = sys.intern(name)
    return name


def _acceptable(raw: bytes) -> bool:
    """Whether the broker accepts this property list (else the general path refuses it)."""
    if raw in _accepted:
        return True
    try:
        decode_publish_properties(raw)
    except ValueError:
        return False
    if len(raw) <= _ACCEPTED_SIZE:
        if len(_accepted) >= _ACCEPTED_MAX:
            _accepted.clear()
        _accepted.add(raw)
    return True


def take_publish(data: bytes, offset: int, limit: int) -> tuple[PublishReceived, int] | None:
    """Read one whole, plain basic.publish command at *offset* of *data*.

    :param data: received bytes
    :param offset: where a frame starts (the method frame of the command, if any)
    :param limit: the largest frame payload allowed (frame_max; 0: no limit)
    :return: the event and the offset after the command's last frame, or ``None`` when
        the general path must read these bytes
    """
    available = len(data)
    if available - offset < 7:
        return None
    frame_type, channel_id, size = _frame_head.unpack_from(data, offset)
    start = offset + 7
    end = start + size
    if (
        frame_type != FRAME_METHOD
        or (limit and size > limit)
        or end >= available
        or data[end] != FRAME_END
        or data[start : start + 4] != PUBLISH_INDEX
        or size < 9
    ):
        return None
    exchange_end = start + 7 + data[start + 6]
    if exchange_end >= end:
        return None
    key_end = exchange_end + 1 + data[exchange_end]
    if key_end + 1 != end:
        return None  # bytes after the arguments, or arguments cut short
    bits = data[key_end]
    exchange = _name(data[start + 7 : exchange_end])
    routing_key = _name(data[exchange_end + 1 : key_end])
    # The content header.
    offset = end + 1
    if available - offset < 7:
        return None
    frame_type, header_channel, size = _frame_head.unpack_from(data, offset)
    start = offset + 7
    end = start + size
    if (
        frame_type != FRAME_HEADER
        or header_channel != channel_id
        or size < 14
        or (limit and size > limit)
        or end >= available
        or data[end] != FRAME_END
        or data[start : start + 4] != _BASIC_HEADER
    ):
        return None
    _, _, body_size = _content_head.unpack_from(data, start)
    raw_properties = data[start + 12 : end]
    if not _acceptable(raw_properties):
        return None
    offset = end + 1
    # The body frames.
    chunks: list[bytes] = []
    remaining = body_size
    while remaining:
        if available - offset < 7:
            return None
        frame_type, body_channel, size = _frame_head.unpack_from(data, offset)
        start = offset + 7
        end = start + size
        if (
            frame_type != FRAME_BODY
            or body_channel != channel_id
            or size > remaining
            or (limit and size > limit)
            or end >= available
            or data[end] != FRAME_END
        ):
            return None
        chunks.append(data[start:end])
        remaining -= size
        offset = end + 1
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    event = PublishReceived(
        channel_id, exchange, routing_key, bool(bits & 1), bool(bits & 2), raw_properties, body
    )
    return event, offset
