"""The connection object: one anyio stream, the tasks that serve it, its channels.

The connection's tasks run inside the task group owned by
``async with connect_amqp()``: the writer (drains whatever the core has buffered
in one ``send``), the heartbeat clock, and, on a stream that cannot push what
arrives (trio, TLS), the reader (bytes → core events → waiters and buffers, never
awaiting user code; on asyncio's plain TCP the stream's callbacks do this). None of
them raises into the task group: a fatal error is recorded, every waiter is failed
with it, the group is cancelled, and the error is raised out of the ``async with``
as itself. They are shielded from cancellation that comes from outside (a deadline
around the block, a cancelled task group): leaving the block runs a bounded close
handshake, and only the connection stops them, once that handshake is over (the
heartbeat clock and an idle writer end on their own while it waits for close-ok,
the reader once close-ok is read).
What the tasks learn (core events, end of stream, fatal errors) is handled by
its :class:`~._connection_events.ConnectionEvents`; what the channels may use of
the connection is its :class:`~._port.ConnectionPort`; its tasks are started and
stopped by :class:`~._tasks.ConnectionTasks`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import anyio
import anyio.abc
import anyio.lowlevel

from . import exceptions
from ._channel import Channel, _ChannelContext
from ._connection_events import ConnectionEvents
from ._connection_io import ConnectionIO
from ._core.client import ClientConnection, ConnectionState, ConnectionUnavailable, NoFreeChannel
from ._core.client_channel import ChannelUnavailable
from ._core.trace import CLIENT_FRAMES, FrameTrace
from ._hints import AWAIT_HINT, STATE_WORDS, note_connect_failure
from ._opening import (
    CONNECTING,
    DEFAULT_CONNECTION_TIMEOUT,
    OpeningDeadline,
    handshake_stage,
)
from ._port import ConnectionPort
from ._tasks import ConnectionTasks, single_errors
from ._timeouts import CLOSE_TIMEOUT, FLUSH_TIMEOUT, close_timeout, shielded_for
from ._version import __version__
from ._waiter import Waiter

logger = logging.getLogger("async_amqp")

#: Publishers wait for the writer once this many bytes are buffered.
HIGH_WATER = 1 << 20


class AmqpProtocol:
    """An AMQP connection. Create it with :func:`async_amqp.connect_amqp`.

    Subclass it and pass ``protocol_factory`` to customise channels
    (``CHANNEL_FACTORY``).
    """

    CHANNEL_FACTORY: Callable[..., Channel] = Channel
    #: publishes wait for the writer once this many message bytes are buffered
    high_water: int = HIGH_WATER

    def __init__(
        self,
        *,
        stream_factory: Callable[[], Any],
        login: str = "guest",
        password: str = "guest",
        virtualhost: str = "/",
        login_method: str = "PLAIN",
        insist: bool = False,
        channel_max: int | None = None,
        frame_max: int | None = None,
        heartbeat: int | None = None,
        client_properties: dict[str, Any] | None = None,
        connection_timeout: float | None = DEFAULT_CONNECTION_TIMEOUT,
        blocked_timeout: float | None = None,
        host: str = "localhost",
        port: int = 5672,
    ) -> None:
        self._stream_factory = stream_factory
        self._core = ClientConnection(
            login=login,
            password=password,
            virtualhost=virtualhost,
            login_method=login_method,
            channel_max=channel_max,
            frame_max=frame_max,
            heartbeat=heartbeat,
            client_properties=client_properties,
            insist=insist,
            product_version=__version__,
        )
        self.host = host
        self.port = port
        self.virtualhost = virtualhost
        self._connection_timeout = connection_timeout
        self._stream: anyio.abc.ByteStream | None = None
        self._block_scope: anyio.CancelScope | None = None
        self._tasks = ConnectionTasks(on_error=self._die)
        self._port = ConnectionPort(
            self._core,
            self._tasks.start_later,
            high_water=self.high_water,
            blocked_timeout=blocked_timeout,
        )
        self._events = ConnectionEvents(
            self._port,
            host=host,
            port_number=port,
            virtualhost=virtualhost,
            stop_block=self._stop_block,
        )
        self._io: ConnectionIO | None = None
        self._trace = FrameTrace.pair(CLIENT_FRAMES, f"{host}:{port}")  # None: off

    # -- public attributes ------------------------------------------------------

    @property
    def server_properties(self) -> dict[str, Any]:
        """The properties the broker announced in connection.start."""
        return self._core.server_properties

    @property
    def server_channel_max(self) -> int:
        """The negotiated channel_max."""
        return self._core.channel_max

    @property
    def server_frame_max(self) -> int:
        """The negotiated frame_max."""
        return self._core.frame_max

    @property
    def server_heartbeat(self) -> int:
        """The negotiated heartbeat interval in seconds (0: none)."""
        return self._core.heartbeat_interval

    @property
    def client_properties(self) -> dict[str, Any]:
        """The client properties sent in connection.start-ok."""
        return self._core.client_properties

    @property
    def is_open(self) -> bool:
        """True while the connection can be used."""
        return self._port.is_open

    @property
    def is_blocked(self) -> bool:
        """True while the broker has blocked publishing (connection.blocked)."""
        return self._port.blocked_reason is not None

    @property
    def blocked_reason(self) -> str | None:
        """Why the broker blocks publishing, while it does (connection.blocked)."""
        return self._port.blocked_reason

    @property
    def blocked_timeout(self) -> float | None:
        """How long a publish waits while publishing is blocked (None: as long as it takes)."""
        return self._port.blocked_timeout

    @blocked_timeout.setter
    def blocked_timeout(self, timeout: float | None) -> None:
        self._port.set_blocked_timeout(timeout)

    def __repr__(self) -> str:
        return (
            f"<AmqpProtocol {self.host}:{self.port} vhost={self.virtualhost!r} "
            f"{STATE_WORDS[self._core.state]}>"
        )

    # -- lifetime -----------------------------------------------------------------

    async def __aenter__(self) -> AmqpProtocol:
        self._lifetime_cm = self._lifetime()
        try:
            return await self._lifetime_cm.__aenter__()
        except Exception as error:
            note_connect_failure(error, self.host, self.port, self._core, self._stream)
            raise

    if not TYPE_CHECKING:  # at run time only: type checkers keep flagging the mistake

        def __await__(self) -> NoReturn:
            raise TypeError(AWAIT_HINT)

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        return await self._lifetime_cm.__aexit__(*exc_info)

    @asynccontextmanager
    async def _lifetime(self) -> AsyncIterator[AmqpProtocol]:
        deadline = OpeningDeadline(self._connection_timeout, self.host, self.port)
        with deadline.stage(lambda: CONNECTING):
            stream = await self._stream_factory()
        self._stream = stream
        self._port.bind_backend()
        io = self._io = ConnectionIO(
            stream, self._port, self._events, trace=self._trace, address=(self.host, self.port)
        )
        pushing = io.push_if_possible()
        # The protocol header goes out first, from this task: the tasks start while the
        # broker answers it (or the writer sends it, on a stream that cannot send now).
        self._core.initiate()
        self._port.flush()
        tasks = self._tasks
        try:
            async with single_errors(), anyio.create_task_group() as task_group:
                self._block_scope = task_group.cancel_scope
                tasks.start(task_group, io.write_loop, shield=True)
                if not pushing:
                    tasks.start(task_group, io.read_loop, shield=True)
                tasks.start(task_group, io.heartbeat_loop, shield=True)
                exc_type: type[BaseException] | None = None
                try:
                    with deadline.stage(lambda: handshake_stage(self._core.state)):
                        await self._events.opened.wait()
                    tasks.serve_later_on_demand(task_group)
                    yield self
                except BaseException as error:
                    exc_type = type(error)
                    raise
                finally:
                    with anyio.CancelScope(shield=True):
                        await self._shutdown(close_timeout(exc_type))
                    self._tasks.stop()
        finally:
            close_now = getattr(stream, "close_now", None)
            if close_now is None or not close_now():
                with anyio.CancelScope(shield=True):
                    await anyio.aclose_forcefully(stream)
            self._block_scope = None
        fatal = self._port.failure
        if fatal is not None and not self._events.closed_by_client:
            raise fatal from fatal.__cause__  # not "during handling of Cancelled"

    async def _shutdown(self, bound: float = CLOSE_TIMEOUT) -> None:
        """Close gracefully if still open; fail whatever is pending; let the writer finish.

        The writer sends what is still queued (our close, or the close-ok answering the
        broker's close) before the tasks are stopped and the socket is closed.
        """
        await self._close_handshake(wait=True, bound=bound)
        self._events.end(
            exceptions.ConnectionClosedError(0, "connection closed by the client"),
            clean=True,
            keep_output=self._core.state in (ConnectionState.CLOSING, ConnectionState.CLOSED),
        )
        if self._io is not None and self._io.sent_everything:
            return  # stopping the idle writer loses nothing: no need to wake it
        with anyio.move_on_after(FLUSH_TIMEOUT):
            await self._io_writer_done()

    async def _close_handshake(self, *, wait: bool, bound: float = CLOSE_TIMEOUT) -> None:
        """Close every channel and the connection, waiting (bounded) for close-ok."""
        if self._port.failure is not None or self._core.state is not ConnectionState.OPEN:
            return
        self._events.close_channels()
        waiter = Waiter()
        self._core.close(200, "Normal shutdown", waiter)
        self._port.flush()
        if wait:
            if self._io is not None:  # they end while close-ok is awaited, not after it
                self._io.stop_idle_tasks()
            with anyio.move_on_after(bound):
                await waiter.wait()

    async def close(self, no_wait: bool = False) -> None:
        """Close the connection gracefully; later calls on it raise ``AmqpClosedConnection``.

        The rest of the ``async with`` block keeps running.
        """
        if self._port.failure is not None or self._core.state is not ConnectionState.OPEN:
            await anyio.lowlevel.checkpoint()
            return
        with anyio.CancelScope(shield=True):
            await self._close_handshake(wait=not no_wait)
        self._events.end(
            exceptions.ConnectionClosedError(0, "connection closed by the client"),
            clean=True,
            keep_output=True,
        )
        with shielded_for(FLUSH_TIMEOUT):
            await self._io_writer_done()
        self._tasks.stop()

    def _stop_block(self) -> None:
        """Cancel the ``async with`` block (a fatal error: see ``ConnectionEvents.die``)."""
        if self._block_scope is not None:
            self._block_scope.cancel()

    async def _io_writer_done(self) -> None:
        """Wait until the writer has sent what was left and stopped."""
        if self._io is not None:
            await self._io.writer_done.wait()

    def _die(self, error: BaseException) -> None:
        """A fatal error in one of the connection's tasks."""
        self._events.die(error)

    # -- channels -------------------------------------------------------------------

    async def channel(self, **kwargs: Any) -> Channel:
        """Open a new channel and return it (close it with ``await channel.close()``).

        :raises NoChannelAvailableError: when channel_max channels are open
        """
        await anyio.lowlevel.checkpoint_if_cancelled()
        self._port.check_usable()
        waiter = Waiter()
        try:
            channel_id, slot = self._core.open_channel(waiter)
        except NoFreeChannel as error:
            raise exceptions.NoChannelAvailableError(str(error)) from None
        except (ConnectionUnavailable, ChannelUnavailable):
            self._port.check_usable()
            raise
        channel = self.CHANNEL_FACTORY(self, channel_id, port=self._port, **kwargs)
        self._events.add_channel(channel.endpoint)
        logger.debug("opening channel %s", channel_id)
        self._port.flush()
        try:
            await waiter.wait()
        except BaseException:
            channel.endpoint.give_up(slot, waiter)  # the open-ok, if it came, closes the channel
            raise
        return channel

    def new_channel(self, **kwargs: Any) -> _ChannelContext:
        """Open a channel for the duration of an ``async with`` block."""
        return _ChannelContext(self, kwargs)


__all__ = ["AmqpProtocol"]
