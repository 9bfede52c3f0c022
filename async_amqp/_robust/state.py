"""What a robust connection's parts share: the current connection, its generation, events.

Every reconnect starts a new *generation*. Robust channels and consumers wait on
:class:`Link` for the generation after the one that failed them; the supervisor
publishes each change here, and users can watch the same changes as
:class:`ConnectionEvent` values.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING

import anyio
import anyio.lowlevel

if TYPE_CHECKING:
    from .._connection import AmqpProtocol


class EventKind(enum.Enum):
    """What happened to a robust connection."""

    #: a connection was established (the handshake completed); recovery follows
    CONNECTED = "connected"
    #: the connection was lost or closed by the broker; ``reason`` says why
    DISCONNECTED = "disconnected"
    #: channels, topology and consumers were restored; the connection is usable again
    RECOVERED = "recovered"
    #: the next round of connect attempts starts in ``delay`` seconds; ``reason`` is why
    #: the connection or the last attempt ended
    RECONNECTING = "reconnecting"
    #: the robust connection gave up (non-retryable error or reconnect_timeout) or was closed
    CLOSED = "closed"


@dataclass(slots=True, frozen=True)
class ConnectionEvent:
    """One state change of a robust connection."""

    kind: EventKind
    #: the generation (1 for the first connection, +1 per reconnect)
    generation: int
    #: ``host:port/vhost`` of the broker concerned
    address: str = ""
    #: why the connection or attempt ended (DISCONNECTED, RECONNECTING, CLOSED)
    reason: BaseException | None = None
    #: server-named queues that got a new name in this recovery: old name → new name
    renamed: dict[str, str] = field(default_factory=dict)
    #: what could not be restored in this recovery (RECOVERED)
    failures: tuple[BaseException, ...] = ()
    #: seconds until the next round of attempts (RECONNECTING)
    delay: float = 0.0


class EventStream:
    """An iterator over a robust connection's events from the moment it was created.

    Use ``with conn.events() as events: async for event in events: ...``; the
    iteration ends after the ``CLOSED`` event. Events are buffered (unbounded, but
    there are few), so a slow reader never holds the connection up.
    """

    def __init__(self, link: Link) -> None:
        self._link = link
        self._buffer: deque[ConnectionEvent] = deque()
        self._wakeup = anyio.Event()
        self._ended = False

    def push(self, event: ConnectionEvent) -> None:
        """Buffer *event* and wake the reader (called by the connection)."""
        self._buffer.append(event)
        self._wakeup.set()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._link.unsubscribe(self)

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> ConnectionEvent:
        """Return the next event; stop after ``CLOSED``."""
        while not self._buffer:
            if self._ended:
                raise StopAsyncIteration
            self._wakeup = anyio.Event()
            await self._wakeup.wait()
        await anyio.lowlevel.checkpoint_if_cancelled()
        event = self._buffer.popleft()
        if event.kind is EventKind.CLOSED:
            self._ended = True
        return event


class Link:
    """The current connection (when usable) and the means to wait for the next one."""

    def __init__(self) -> None:
        self.generation = 0
        self.protocol: AmqpProtocol | None = None
        #: set when the robust connection has ended for good
        self.fatal: BaseException | None = None
        self._changed = anyio.Event()
        self._streams: set[EventStream] = set()

    @property
    def ready(self) -> bool:
        """True while a recovered connection is usable."""
        return self.protocol is not None and self.fatal is None and self.protocol.is_open

    def set_ready(self, protocol: AmqpProtocol) -> None:
        """Recovery finished on *protocol*: wake everyone waiting for a connection."""
        self.protocol = protocol
        self._wake()

    def set_lost(self) -> None:
        """The current connection is gone."""
        self.protocol = None
        self._wake()

    def set_fatal(self, error: BaseException) -> None:
        """The robust connection ended: waiters raise *error*."""
        if self.fatal is None:
            self.fatal = error
        self.protocol = None
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def wait_ready(self, after: int = 0) -> AmqpProtocol:
        """Wait for a usable connection of a generation later than *after*.

        :raises: the robust connection's final error once it has ended
        """
        while True:
            if self.fatal is not None:
                raise self.fatal
            protocol = self.protocol
            if protocol is not None and protocol.is_open and self.generation > after:
                return protocol
            await self._changed.wait()

    async def wait_change(self) -> None:
        """Wait for the next change of state (connected, lost, ended)."""
        await self._changed.wait()

    # -- events --------------------------------------------------------------------

    def subscribe(self) -> EventStream:
        """Return a new stream of events."""
        stream = EventStream(self)
        self._streams.add(stream)
        return stream

    def unsubscribe(self, stream: EventStream) -> None:
        """Stop buffering events for *stream*."""
        self._streams.discard(stream)

    def emit(self, event: ConnectionEvent) -> None:
        """Hand *event* to every stream."""
        for stream in list(self._streams):
            stream.push(event)
