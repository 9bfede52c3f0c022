"""The broker core's input, h11-style: bytes in with ``receive_data``, events out with
``next_event`` (a base of :class:`~.server.ServerConnection`).

Frames are read one at a time (cut by a :class:`~.incremental.FrameSplitter`, then
given to the connection's ``receive``), so each frame's replies are queued (and
an error raised) before the next frame is read. On an open connection a whole
plain basic.publish command is read in one go instead
(:func:`~.server_publish.take_general`), into one
:class:`~.server_events.PublishReceived`. During a resource alarm the broker sets
:attr:`ServerInput.pause_after_content`: reading then stops after the first
content header or body frame, as RabbitMQ blocks a publishing connection.
"""

from __future__ import annotations

import struct
from collections import deque
from typing import TYPE_CHECKING, Final

from .decode import decode_method
from .frames import (
    FRAME_BODY,
    FRAME_END,
    FRAME_HEADER,
    FRAME_HEARTBEAT,
    FRAME_METHOD,
    FrameReader,
)
from .heartbeat import HeartbeatClock
from .incremental import NEED_DATA, PAUSED, FrameSplitter, NeedData, Paused
from .server_channel import ServerChannel
from .server_events import Received, ServerEvent
from .server_handshake import ServerState
from .server_publish import (
    ACCESS_REQUEST,
    INCOMPLETE,
    PEEK,
    PUBLISH_INDEX,
    WAIT_MAX,
    publish_wanted,
    take_general,
    take_peeked,
    take_simple,
)

__all__ = ["ServerInput"]

_CONTENT_FRAMES: Final = (FRAME_HEADER, FRAME_BODY)
_size: Final = struct.Struct(">I")
_channel: Final = struct.Struct(">H")
_QUIET_FRAMES: Final = (FRAME_HEADER, FRAME_BODY, FRAME_HEARTBEAT)
#: basic.publish (60/40) and basic.ack (60/80): the core queues nothing of its own for them.
_QUIET_METHODS: Final = (PUBLISH_INDEX, b"\x00\x3c\x00\x50")


def _extends(data: Received, before: Received) -> bool:
    """Whether *data* is a longer view of the arena *before* is a view of (see
    :meth:`ServerInput.receive_data`)."""
    return (
        type(data) is memoryview
        and type(before) is memoryview
        and data.obj is before.obj
        and len(data) > len(before)
    )


class ServerInput:
    """Received bytes, how far they are read, and the events not yet taken."""

    # Set by ServerConnection.__init__.
    state: ServerState
    _reader: FrameReader
    _channels: dict[int, ServerChannel]
    heartbeat: HeartbeatClock

    def _init_input(self) -> None:
        # The bytes being read and how far; chunks received after them (and where each
        # starts), kept apart so that a chunk is never copied to join it to a leftover.
        self._inbox: Received = b""
        self._position = 0
        self._later: deque[tuple[Received, int]] = deque()
        self._splitter = FrameSplitter()
        self._events: deque[ServerEvent] = deque()
        self._received_at = 0.0
        #: set by the broker during a resource alarm: pause after a content frame
        self.pause_after_content = False
        self._last_content = False
        self._paused = False
        self._incomplete = False  # a plain publish command waits for its rest
        #: publish commands of more than PEEK bytes read (or waited for) so far: the
        #: session keeps reading in place while they come (:mod:`async_amqp_testing._arena`)
        self.large_commands = 0

    @property
    def closed(self) -> bool:
        """True once the connection is over (the socket should be closed)."""
        return self.state is ServerState.CLOSED

    if TYPE_CHECKING:

        def receive(self, data: bytes, now: float) -> list[ServerEvent]:
            """Consume received bytes; return the events they complete (the connection's)."""

    def receive_data(self, data: Received, now: float) -> None:
        """Take bytes as received (h11-style); :meth:`next_event` returns their events.

        *data* is ``bytes``, or a read-only ``memoryview`` of a receive arena that starts
        at the arena's start: a view of the same arena as the last one given, and longer,
        holds that one's bytes and then the new ones. Such a view replaces the shorter
        one, so a command cut by the end of one read is read whole, in place, once the
        next read is appended to the same arena: no bytes are joined or copied.
        """
        if data:
            self._incomplete = False
            later = self._later
            if later:
                last, start = later[-1]
                if _extends(data, last):
                    later[-1] = (data, start)
                else:
                    later.append((data, 0))
            elif _extends(data, self._inbox):
                self._inbox = data  # the position stays: the new bytes follow it
            elif self._position < len(self._inbox):
                later.append((data, 0))
            else:
                self._inbox = data
                self._position = 0
        self._received_at = now
        self.heartbeat.received(now)

    @property
    def has_unread_data(self) -> bool:
        """True when received bytes wait to be read (e.g. held while reading is paused)."""
        return self._unread() is not None and not self._incomplete

    def _unread(self) -> tuple[Received, int] | None:
        """The first bytes not yet read and where they start (``None``: all read)."""
        if self._position < len(self._inbox):
            return self._inbox, self._position
        for data, position in self._later:
            if position < len(data):
                return data, position
        return None

    def resume_reading(self) -> None:
        """Read on after :data:`PAUSED` (the broker's resource alarm cleared)."""
        self._paused = False
        self._last_content = False

    def next_event(self) -> ServerEvent | NeedData | Paused:
        """Return the next event of the bytes received, :data:`NEED_DATA` or :data:`PAUSED`.

        Frames are read one at a time, so each frame's replies are queued (and an error
        raised) before the next frame is read; a whole method frame on an open channel
        is read without cutting it first, and a whole plain basic.publish command in
        one go (:func:`~.server_publish.take_general`). While :attr:`pause_after_content`
        is set, reading stops after a content header or body frame (:data:`PAUSED`
        until :meth:`resume_reading`), as RabbitMQ blocks a publisher during an alarm.

        :raises ProtocolError: when the client broke the protocol (then call :meth:`fail`)
        """
        events = self._events
        while not events:
            if self._paused or (self.pause_after_content and self._last_content):
                self._paused = True
                return PAUSED
            data = self._inbox
            position = self._position
            if position >= len(data) and self._later and not self.closed:
                self._inbox, self._position = self._later.popleft()
                continue
            if position >= len(data) or self.closed or self._incomplete:
                return NEED_DATA
            if (
                data[position] == FRAME_METHOD
                and self.state is ServerState.OPEN
                and self._splitter.at_boundary
                and self._take_method(data, position)
            ):
                continue
            frame_type, end = self._splitter.cut(data, position)
            self._position = end
            events.extend(self.receive(bytes(data[position:end]), self._received_at))
            self._last_content = self.state is ServerState.OPEN and frame_type in _CONTENT_FRAMES
        return events.popleft()

    def _take_method(self, data: Received, position: int) -> bool:
        """Read a whole method frame (a plain publish: its whole command) on an open channel.

        The same as the frame-by-frame path, without cutting and buffering the frame
        first; False leaves the frame to that path (anything not plain).
        """
        if len(data) - position < 11:
            return False  # not even a method's ids yet: the frame-by-frame path waits
        (channel_id,) = _channel.unpack_from(data, position + 1)
        channel = self._channels.get(channel_id)
        if channel is None or channel.closing or channel.content.method is not None:
            return False
        limit = self._reader.max_frame_size
        if data[position + 7 : position + 11] == PUBLISH_INDEX and not self.pause_after_content:
            taken = (
                (take_peeked(data, position, limit) if type(data) is not bytes else None)
                or take_simple(data, position, limit)
                or take_general(data, position, limit)
            )
            if isinstance(taken, tuple):
                self._events.append(taken[0])
                self._position = end = taken[1]
                self._last_content = True
                if end - position > PEEK:
                    self.large_commands += 1
                return True
            if taken is INCOMPLETE and len(data) - position <= WAIT_MAX:
                if len(data) - position > PEEK:
                    self.large_commands += 1
                if any(start < len(following) for following, start in self._later):
                    self._join_next()
                else:
                    self._incomplete = True
                return True
        (size,) = _size.unpack_from(data, position + 3) if len(data) - position >= 7 else (-1,)
        end = position + 7 + size
        if size < 4 or (limit and size > limit) or end >= len(data) or data[end] != FRAME_END:
            return False
        payload = data[position + 7 : end]
        if type(payload) is not bytes:
            payload = bytes(payload)  # a view of an arena: pamqp decodes bytes
        if payload[:4] == ACCESS_REQUEST:
            return False
        self._position = end + 1
        self._last_content = False
        event = channel.on_method(decode_method(payload, strict=True), payload)
        if event is not None:
            self._events.append(event)
        return True

    def _join_next(self) -> None:
        """Join to what is left of this chunk (a publish command cut at its end) the bytes
        of the next chunk that the command needs, as far as its frame headers tell."""
        later = self._later
        while later[0][1] >= len(later[0][0]):
            later.popleft()  # read to its end, and not the last: no view will extend it
        following, start = later.popleft()
        inbox, position = self._inbox, self._position
        wanted = publish_wanted(inbox, position) - (len(inbox) - position)
        end = min(len(following), start + max(wanted, 1))
        # One copy of each part (no slices copied first: a cut command may be a large body).
        self._inbox = b"".join((memoryview(inbox)[position:], memoryview(following)[start:end]))
        self._position = 0
        # Kept even when read to its end: a longer view of its arena may follow.
        self._later.appendleft((following, end))

    def next_frame_is_quiet(self) -> bool:
        """Whether reading the next frame cannot make the core queue a frame of its own
        (open-ok, close-ok...): it is a basic.publish or basic.ack method frame, a content
        frame or a heartbeat, or there is nothing to read. The broker may then leave what
        earlier frames caused unsent until after it."""
        data, position = self._inbox, self._position
        if position >= len(data):
            unread = self._unread()
            if unread is None:
                return True
            data, position = unread
        if not self._splitter.at_boundary or len(data) - position < 11:
            return False
        kind = data[position]
        if kind in _QUIET_FRAMES:
            return True
        return kind == FRAME_METHOD and data[position + 7 : position + 11] in _QUIET_METHODS

    def discard_unread(self) -> None:
        """Skip the bytes received but not read (after an error ended the reading)."""
        while True:
            inbox = self._inbox
            while self._position < len(inbox):
                _, self._position = self._splitter.cut(inbox, self._position)
            if not self._later:
                return
            self._inbox, self._position = self._later.popleft()
