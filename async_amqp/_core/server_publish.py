"""The broker's publish fast path: one basic.publish command read straight from the bytes.

A publisher's stream is mostly basic.publish method frames, each followed by its
content header and body frames. :func:`take_general` reads such a command whole,
without pamqp and without cutting it into frames first: the method's arguments
by hand (exchange, routing key, mandatory, immediate), the header's body size,
the raw property list kept opaque (it is only checked to be one the broker
accepts), then the body. It takes only a command that is plain in every way;
anything else (a frame over frame_max, a wrong end octet, bytes after the
arguments, a header of another class or weight, a property list RabbitMQ
refuses, interleaved frames, a body longer than announced) is
:data:`NOT_PLAIN`, and the general frame-by-frame path reads it and gives
RabbitMQ's answer. A plain command cut by the end of the bytes received is
:data:`INCOMPLETE`: the broker waits for the rest (up to :data:`WAIT_MAX`
bytes), as nothing the client could see happens before a command is whole.
"""

from __future__ import annotations

import enum
import struct
import sys
from typing import Final

from .frames import FRAME_BODY, FRAME_END, FRAME_HEADER, FRAME_METHOD
from .propview import accepted_properties
from .server_events import Body, PublishReceived, Received

__all__ = [
    "ACCESS_REQUEST",
    "INCOMPLETE",
    "PEEK",
    "PUBLISH_INDEX",
    "WAIT_MAX",
    "Unread",
    "held_body",
    "publish_wanted",
    "take_general",
    "take_peeked",
    "take_simple",
]

_frame_head: Final = struct.Struct(">BHI")
_content_head: Final = struct.Struct(">HHQ")
_size: Final = struct.Struct(">I")
_channel: Final = struct.Struct(">H")
#: a content header frame's head and its class, weight and body size
_header_frame: Final = struct.Struct(">BHIHHQ")
_body_size: Final = struct.Struct(">Q")
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


def held_body(body: Body) -> Body:
    """*body* as a message keeps it: ``bytes`` and read-only views as they are, anything
    else (a writable view, a ``bytes`` subclass) copied to ``bytes``."""
    if type(body) is bytes or (type(body) is memoryview and body.readonly):
        return body
    return bytes(body)


def _kept(data: Received, start: int, end: int) -> Body:
    """A body to keep: ``data[start:end]``, as a view of *data* when it is large
    (:data:`VIEW_MIN`; *data* is the bytes received, never changed), else as ``bytes``."""
    if end - start < VIEW_MIN:
        body = data[start:end]
        return body if type(body) is bytes else bytes(body)
    return memoryview(data)[start:end]


def _copied(piece: Received) -> bytes:
    """*piece* as ``bytes`` (a slice of ``bytes`` already is one: no second call)."""
    return piece if type(piece) is bytes else bytes(piece)


def _name(raw: Received) -> str:
    # A view of a bytearray is not hashable (nor may a name keep its read alive).
    key = raw if type(raw) is bytes else bytes(raw)
    name = _names.get(key)
    if name is None:
        try:
            name = key.decode()
        except UnicodeDecodeError:
            # As decode_method reads basic.publish: RabbitMQ keeps non-UTF-8 names as bytes.
            name = key.decode("utf-8", "surrogateescape")
        if len(_names) >= _NAMES_MAX:
            _names.clear()
        name = _names[key] = sys.intern(name)
    return name


class Unread(enum.Enum):
    """Why :func:`take_general` read nothing."""

    #: not a plain publish command: the general path must read these bytes
    NOT_PLAIN = "not plain"
    #: a plain publish command so far, cut by the end of the bytes received
    INCOMPLETE = "incomplete"


NOT_PLAIN: Final = Unread.NOT_PLAIN
INCOMPLETE: Final = Unread.INCOMPLETE
#: The most bytes of an incomplete command waited for (beyond: the general path reads it).
WAIT_MAX: Final = 1 << 20
#: A body of at least this many bytes, received in one frame, is taken as a read-only
#: view of the received bytes instead of a copy: a queue holding it keeps those bytes
#: (one read, a receive arena of at most 1 MiB, or one joined command) alive instead.
VIEW_MIN: Final = 16384
#: How much of a view :func:`take_peeked` copies: most publishes' whole command.
PEEK: Final = 512


def _frame(
    data: Received, offset: int, limit: int, frame_type: int, channel_id: int
) -> tuple[int, int] | Unread:
    """``(payload start, end)`` of a frame of *frame_type* on *channel_id* at *offset*."""
    if len(data) - offset < 7:
        return INCOMPLETE
    kind, channel, size = _frame_head.unpack_from(data, offset)
    if kind != frame_type or channel != channel_id or (limit and size > limit):
        return NOT_PLAIN
    start = offset + 7
    end = start + size
    if end >= len(data):
        return INCOMPLETE
    return (start, end) if data[end] == FRAME_END else NOT_PLAIN


def take_simple(data: Received, offset: int, limit: int) -> tuple[PublishReceived, int] | None:
    """The commonest command in one pass: all received, an accepted property list, the
    body in one frame; ``None`` for anything else (:func:`take_general` reads it)."""
    available = len(data)
    _, channel_id, size = _frame_head.unpack_from(data, offset)
    start = offset + 7
    end = start + size
    if size < 9 or (limit and size > limit) or end >= available or data[end] != FRAME_END:
        return None
    exchange_end = start + 7 + data[start + 6]
    if exchange_end >= end or exchange_end + 2 + data[exchange_end] != end:
        return None
    header = end + 1
    if available - header < 19:
        return None
    kind, channel, size, class_id, weight, body_size = _header_frame.unpack_from(data, header)
    header_end = header + 7 + size
    if (
        kind != FRAME_HEADER
        or channel != channel_id
        or class_id != 60
        or weight
        or size < 14
        or (limit and size > limit)
        or header_end >= available
        or data[header_end] != FRAME_END
    ):
        return None
    body = header_end + 1
    if not body_size or available - body < 7:
        return None
    kind, channel, size = _frame_head.unpack_from(data, body)
    body_end = body + 7 + size
    if (
        kind != FRAME_BODY
        or channel != channel_id
        or size != body_size
        or (limit and size > limit)
        or body_end >= available
        or data[body_end] != FRAME_END
    ):
        return None
    raw_properties = data[header + 19 : header_end]
    if type(raw_properties) is not bytes:
        raw_properties = bytes(raw_properties)
    properties = accepted_properties(raw_properties)
    if properties is None:
        return None
    bits = data[end - 1]
    event = PublishReceived(
        channel_id,
        _name(data[start + 7 : exchange_end]),
        _name(data[exchange_end + 1 : end - 1]),
        bool(bits & 1),
        bool(bits & 2),
        raw_properties,
        _kept(data, body + 7, body_end),
        properties,
    )
    return event, body_end + 1


def take_peeked(data: Received, offset: int, limit: int) -> tuple[PublishReceived, int] | None:
    """:func:`take_simple` of a small command in a view (of a receive arena), read from one
    ``bytes`` copy of its first :data:`PEEK` bytes: a view costs more per slice and index
    than ``bytes``, and a small body is copied anyway. ``None`` for anything
    :func:`take_simple` does not take from the copy (a larger command). The reader calls
    it for views only: on ``bytes`` it would copy for nothing."""
    taken = take_simple(bytes(data[offset : offset + PEEK]), 0, limit)
    if taken is None:
        return None
    return taken[0], offset + taken[1]


def take_general(data: Received, offset: int, limit: int) -> tuple[PublishReceived, int] | Unread:
    """Read one whole, plain basic.publish command at *offset* of *data* (any plain
    command; the reader tries :func:`take_simple` first, which reads the commonest in
    one pass).

    :param data: received bytes
    :param offset: where a method frame starts whose payload starts with 60/40
    :param limit: the largest frame payload allowed (frame_max; 0: no limit)
    :return: the event and the offset after the command's last frame; else
        :data:`INCOMPLETE` (wait for more bytes: nothing would happen before the
        command is complete) or :data:`NOT_PLAIN` (the general path must read it)
    """
    (channel_id,) = _channel.unpack_from(data, offset + 1)
    frame = _frame(data, offset, limit, FRAME_METHOD, channel_id)
    if not isinstance(frame, tuple):
        return frame
    start, end = frame
    exchange_end = start + 7 + data[start + 6]
    if end - start < 9 or exchange_end >= end:
        return NOT_PLAIN
    key_end = exchange_end + 1 + data[exchange_end]
    if key_end + 1 != end:
        return NOT_PLAIN  # bytes after the arguments, or arguments cut short
    bits = data[key_end]
    header = _frame(data, end + 1, limit, FRAME_HEADER, channel_id)
    if not isinstance(header, tuple):
        return header
    header_start, header_end = header
    if header_end - header_start < 14 or data[header_start : header_start + 4] != _BASIC_HEADER:
        return NOT_PLAIN
    raw_properties = _copied(data[header_start + 12 : header_end])
    properties = accepted_properties(raw_properties)
    if properties is None:
        return NOT_PLAIN
    _, _, body_size = _content_head.unpack_from(data, header_start)
    body = _body(data, header_end + 1, limit, channel_id, body_size)
    if not isinstance(body, tuple):
        return body
    event = PublishReceived(
        channel_id,
        _name(data[start + 7 : exchange_end]),
        _name(data[exchange_end + 1 : key_end]),
        bool(bits & 1),
        bool(bits & 2),
        raw_properties,
        body[0],
        properties,
    )
    return event, body[1]


def _body(
    data: Received, offset: int, limit: int, channel_id: int, body_size: int
) -> tuple[Body, int] | Unread:
    """The body frames at *offset*: ``(body, offset after them)``; one large frame's
    body is a view of *data* (:data:`VIEW_MIN`), anything else is copied."""
    spans: list[tuple[int, int]] = []
    remaining = body_size
    while remaining:
        frame = _frame(data, offset, limit, FRAME_BODY, channel_id)
        if not isinstance(frame, tuple):
            return frame
        start, end = frame
        if end - start > remaining:
            return NOT_PLAIN  # longer than announced: the general path keeps waiting
        spans.append(frame)
        remaining -= end - start
        offset = end + 1
    if len(spans) != 1:
        return b"".join([data[start:end] for start, end in spans]), offset
    return _kept(data, *spans[0]), offset


def publish_wanted(data: Received, offset: int) -> int:
    """How many bytes from *offset* an incomplete publish command needs, at least.

    Read from the frame headers at hand (each frame's size, the header's body size): the
    end of the command when they tell it, else of the first frame not yet whole.
    """
    position = offset
    frames = 0
    body_left = 0
    size: int
    end: int
    while True:
        if len(data) - position < 7:
            return position + 7 - offset
        size = int(_size.unpack_from(data, position + 3)[0])
        end = position + 8 + size
        frames += 1
        if frames == 2:
            if len(data) - position < 19:
                return max(end, position + 19) - offset
            body_left = int(_body_size.unpack_from(data, position + 11)[0])
        elif frames > 2:
            body_left -= size
        if end > len(data) or (frames >= 2 and body_left <= 0):
            return end - offset
        position = end
