"""The frame layout: its constants, and cutting a byte stream into frames.

This is the only place that knows the frame layout (type, channel, size,
payload, 0xCE). Encoding frames is :mod:`.wire`, decoding their payloads
:mod:`.decode`; :mod:`.wire` re-exports all three.
"""

from __future__ import annotations

import struct
from typing import Final

from .erlang import binary_p, frame_error_text
from .errors import ClosePolicy, FrameError

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
_FRAME_TYPES: Final = frozenset((FRAME_METHOD, FRAME_HEADER, FRAME_BODY, FRAME_HEARTBEAT))
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
        if buffer:
            if len(buffer) >= 7:  # a frame is pending: is it complete now?
                size = _frame_head.unpack_from(buffer)[2]
                if len(buffer) + len(data) < size + FRAME_OVERHEAD:
                    buffer += data  # not yet: no need to look at it again
                    return []
            buffer += data
            data = bytes(buffer)
            buffer.clear()
        frames: list[RawFrame] = []
        available = len(data)
        offset = 0
        # Like RabbitMQ: a payload may be as large as frame_max itself, although the error
        # text names frame_max - 8 as the limit.
        limit = self.max_frame_size
        unpack_head = _frame_head.unpack_from
        while available - offset >= 7:
            frame_type, channel_id, size = unpack_head(data, offset)
            if frame_type not in _FRAME_TYPES:
                self._unknown_type(data, offset, frame_type, channel_id, size)
                break  # the rest of its payload has not arrived yet
            if limit and size > limit:
                raise FrameError(
                    frame_error_text(
                        frame_type,
                        b"",
                        ("frame_too_large", str(size), str(limit - FRAME_OVERHEAD)),
                    ),
                    policy=ClosePolicy.CLOSE_THEN_DROP,
                )
            end = offset + 7 + size
            if available <= end:
                break
            if data[end] != FRAME_END:
                raise FrameError(
                    frame_error_text(
                        frame_type,
                        data[offset + 7 : end],
                        ("invalid_frame_end_marker", str(data[end])),
                    ),
                    policy=ClosePolicy.CLOSE_THEN_DROP,
                )
            frames.append((frame_type, channel_id, data[offset + 7 : end]))
            offset = end + 1
        if offset < available:
            buffer += memoryview(data)[offset:]
        return frames

    def _unknown_type(
        self, data: bytes, offset: int, frame_type: int, channel_id: int, size: int
    ) -> None:
        """An unknown frame type: refuse it (eager), or once its payload is here (to quote it).

        :raises FrameError: at once when eager, else once the payload has arrived
        """
        if self.eager:
            raise FrameError(_unknown_frame_text(frame_type, channel_id, size))
        end = offset + 7 + size
        if len(data) >= end:
            payload = data[offset + 7 : end]
            raise FrameError(frame_error_text(frame_type, payload, "unknown_frame"))


def _unknown_frame_text(frame_type: int, channel_id: int, size: int) -> str:
    return (
        f"unknown frame type {frame_type} (channel {channel_id}, declaring {size} bytes): "
        "unknown_frame"
    )


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
    "erlang_binary",
]
