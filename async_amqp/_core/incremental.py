"""Reading a connection's bytes one frame at a time, h11-style.

:class:`FrameSplitter` cuts received bytes at frame boundaries without decoding
them. Feeding a connection core one frame at a time makes each frame's reply,
and each error, come out in the order the frames arrived (the core decodes a
whole chunk in one go otherwise). The cores' ``receive_data()`` and
``next_event()`` (h11's shape) are built on it: hand the core whatever the
socket gave, then take events until :data:`NEED_DATA`.
"""

from __future__ import annotations

import enum
from typing import Final

__all__ = ["NEED_DATA", "PAUSED", "FrameSplitter", "NeedData", "Paused"]


class NeedData(enum.Enum):
    """The type of :data:`NEED_DATA`."""

    NEED_DATA = "need_data"


#: What ``next_event()`` returns when the bytes received so far hold no further event.
NEED_DATA: Final = NeedData.NEED_DATA


class Paused(enum.Enum):
    """The type of :data:`PAUSED`."""

    PAUSED = "paused"


#: What the broker core's ``next_event()`` returns while reading is paused (h11's name).
PAUSED: Final = Paused.PAUSED


class FrameSplitter:
    """Cuts received bytes at frame boundaries.

    The core processes whatever it is given in one go and queues some replies
    itself (open-ok, close-ok); feeding it one frame at a time lets each
    method's reply, and each error, come out in the order the frames arrived.
    The first 8 bytes (the protocol header) are one piece.
    """

    __slots__ = ("_frame_type", "_head", "_remaining")

    def __init__(self, header_size: int = 8) -> None:
        """:param header_size: the protocol header's size (8 on a broker, 0 on a client)."""
        self._remaining = header_size
        self._frame_type = -1
        self._head = b""

    @property
    def at_boundary(self) -> bool:
        """True between frames (not inside the protocol header or a frame)."""
        return not self._remaining and not self._head

    def cut(self, data: bytes | memoryview, position: int) -> tuple[int, int]:
        """Return ``(frame_type, end)`` of the piece of *data* that starts at *position*.

        The piece ends where a frame ends, or at the end of *data* (type -1: a frame
        still unfinished).

        :param data: bytes as received
        :param position: where the piece starts (the end of the previous one)
        """
        size = len(data)
        while position < size:
            if self._remaining:
                step = min(self._remaining, size - position)
                position += step
                self._remaining -= step
                if not self._remaining:
                    return self._frame_type, position
                continue
            wanted = 7 - len(self._head)
            self._head += data[position : position + wanted]
            position = min(position + wanted, size)
            if len(self._head) < 7:
                break
            self._frame_type = self._head[0]
            self._remaining = int.from_bytes(self._head[3:7], "big") + 1
            self._head = b""
        return -1, position

    def split(self, data: bytes) -> list[tuple[int, bytes, bool]]:
        """Return ``(frame_type, piece, whole)`` for each piece of *data*.

        A piece ends where a frame ends (type -1: a frame still unfinished); ``whole``
        is True when the piece is exactly one frame, header and end octet included.

        :param data: bytes as received
        """
        pieces: list[tuple[int, bytes, bool]] = []
        position = 0
        while position < len(data):
            starts_frame = self.at_boundary
            frame_type, end = self.cut(data, position)
            complete = self.at_boundary  # else: a frame still unfinished
            pieces.append((frame_type, data[position:end], starts_frame and complete))
            position = end
        return pieces
