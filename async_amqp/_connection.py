"""The connection object: one anyio stream, the tasks that serve it, its channels.

Three tasks run per connection inside the task group owned by
``async with connect_amqp()``: the reader (bytes → core events → waiters and
buffers, never awaiting user code), the writer (drains whatever the core has
buffered in one ``send``) and the heartbeat clock. None of them raises into
the task group: a fatal error is recorded, every waiter is failed with it, the
group is cancelled, and the error is raised out of the ``async with`` as itself.
What the tasks learn (core events, end of stream, fatal errors) is handled by
the base class in :mod:`._connection_events`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import TYPE_CHECKING, Any, NoReturn

import anyio
import anyio.abc
import anyio.lowlevel

from . import exceptions
from ._channel import Channel
from ._connection_events import _ConnectionEvents
from ._core.client import ClientConnection, ConnectionState, ConnectionUnavailable, NoFreeChannel
from ._core.client_channel import ChannelUnavailable
from ._core.errors import ProtocolError
from ._core.heartbeat import HeartbeatAction
from ._core.trace import CLIENT_FRAMES, FrameTrace
from ._hints import AWAIT_HINT, STATE_WORDS, describe_unusable, note_connect_failure
from ._opening import (
    CONNECTING,
    DEFAULT_CONNECTION_TIMEOUT,
    OpeningDeadline,
    handshake_stage,
    violation_error,
)
from ._version import __version__
from ._waiter import Waiter

logger = logging.getLogger("async_amqp")

#: Publishers wait for the writer once this many bytes are buffered.
HIGH_WATER = 1 << 20
READ_SIZE = 1 << 18
#: How long a graceful close waits for the broker's close-ok.
CLOSE_TIMEOUT = 5.0
#: Calls that complete without waiting (publish, ack, a buffered delivery) let other
#: tasks run every this many calls: often enough to be fair, rarely enough that the
#: writer sends many frames per system call.
YIELD_EVERY = 32


class AmqpProtocol(_ConnectionEvents):
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
        self.blocked_timeout = blocked_timeout
        self._stream: anyio.abc.ByteStream | None = None
        self._task_group: anyio.abc.TaskGroup | None = None
        self._channels: dict[int, Channel] = {}
        self._fatal: BaseException | None = None
        self._closed_by_client = False
        self._send_wanted = anyio.Event()
        self._drained = anyio.Event()
        self._opened = Waiter()
        self.blocked_reason: str | None = None
        self._unblocked = anyio.Event()
        self._unblocked.set()
        self._yield_budget = YIELD_EVERY
        self._task_scopes: set[anyio.CancelScope] = set()
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
        return self._core.state is ConnectionState.OPEN and self._fatal is None

    @property
    def is_blocked(self) -> bool:
        """True while the broker has blocked publishing (connection.blocked)."""
        return self.blocked_reason is not None

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
        try:
            async with _single_errors(), anyio.create_task_group() as task_group:
                self._task_group = task_group
                task_group.start_soon(self._guard, self._write_loop)
                task_group.start_soon(self._guard, self._read_loop)
                try:
                    self._core.initiate()
                    self._wake_writer()
                    with deadline.stage(lambda: handshake_stage(self._core.state)):
                        await self._opened.wait()
                    task_group.start_soon(self._guard, self._heartbeat_loop)
                    yield self
                finally:
                    with anyio.CancelScope(shield=True):
                        await self._shutdown()
                    task_group.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.aclose_forcefully(stream)
            self._task_group = None
        fatal = self._fatal
        if fatal is not None and not self._closed_by_client:
            raise fatal from fatal.__cause__  # not "during handling of Cancelled"

    async def _shutdown(self) -> None:
        """Close gracefully if still open; fail whatever is pending either way."""
        await self._close_handshake(wait=True)
        self._end(
            exceptions.ConnectionClosedError(0, "connection closed by the client"), clean=True
        )

    async def _close_handshake(self, *, wait: bool) -> None:
        """Close every channel and the connection, waiting (bounded) for close-ok."""
        if self._fatal is not None or self._core.state is not ConnectionState.OPEN:
            return
        self._closed_by_client = True
        for channel in list(self._channels.values()):
            channel._request_close()
        waiter = Waiter()
        self._core.close(200, "Normal shutdown", waiter)
        self._wake_writer()
        if wait:
            with anyio.move_on_after(CLOSE_TIMEOUT):
                await waiter.wait()

    async def close(self, no_wait: bool = False) -> None:
        """Close the connection gracefully; later calls on it raise ``AmqpClosedConnection``.

        The rest of the ``async with`` block keeps running.
        """
        if self._fatal is not None or self._core.state is not ConnectionState.OPEN:
            await anyio.lowlevel.checkpoint()
            return
        with anyio.CancelScope(shield=True):
            await self._close_handshake(wait=not no_wait)
        self._end(
            exceptions.ConnectionClosedError(0, "connection closed by the client"), clean=True
        )
        for scope in list(self._task_scopes):
            scope.cancel()

    async def _guard(self, loop: Callable[[], Any]) -> None:
        """Run one of the connection's tasks; an error in it is fatal, never swallowed."""
        with anyio.CancelScope() as scope:
            self._task_scopes.add(scope)
            try:
                await loop()
            except Exception as error:
                self._die(error)
            finally:
                self._task_scopes.discard(scope)

    # -- tasks --------------------------------------------------------------------

    def _wake_writer(self) -> None:
        self._send_wanted.set()

    async def _write_loop(self) -> None:
        stream = self._stream
        assert stream is not None
        core = self._core
        while True:
            if not core.has_data_to_send:
                if self._fatal is not None:
                    return
                self._drained.set()
                self._send_wanted = anyio.Event()
                await self._send_wanted.wait()
                continue
            data = core.data_to_send(anyio.current_time())
            if self._trace is not None:
                self._trace[0].feed(data)
            try:
                await stream.send(data)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as error:
                if self._fatal is None:
                    self._die(
                        self._tls_refusal(error)
                        or exceptions.ConnectionLostError(0, f"connection lost: {error!r}")
                    )
                return

    async def _read_loop(self) -> None:
        stream = self._stream
        assert stream is not None
        core = self._core
        dispatch = self._dispatch
        while True:
            try:
                data = await stream.receive(READ_SIZE)
            except (
                anyio.EndOfStream,
                anyio.BrokenResourceError,
                anyio.ClosedResourceError,
                OSError,
            ) as error:
                self._on_eof(error)
                return
            if self._trace is not None:
                self._trace[1].feed(data)
            try:
                events = core.receive(data, anyio.current_time())
            except ProtocolError as error:
                core.fail(error)
                self._wake_writer()
                await self._flush_quietly()
                self._die(violation_error(error, self.host, self.port))
                return
            for event in events:
                dispatch[type(event)](event)
            if core.has_data_to_send:
                self._wake_writer()

    async def _flush_quietly(self) -> None:
        """Let the writer send what is queued (a connection.close), for at most a second."""
        with anyio.move_on_after(1):
            while self._core.has_data_to_send:
                drained = self._drained
                if drained.is_set():
                    self._drained = drained = anyio.Event()
                self._wake_writer()
                await drained.wait()

    async def _heartbeat_loop(self) -> None:
        core = self._core
        while True:
            deadline = core.heartbeat.next_deadline()
            if math.isinf(deadline):
                return
            await anyio.sleep(max(0.0, deadline - anyio.current_time()))
            action = core.poll_heartbeat(anyio.current_time())
            if action is HeartbeatAction.SEND:
                self._wake_writer()
            elif action is HeartbeatAction.TIMED_OUT:
                self._die(
                    exceptions.HeartbeatTimeoutError(
                        0,
                        f"no traffic from the broker for {2 * core.heartbeat_interval}s "
                        f"(heartbeat {core.heartbeat_interval}s)",
                    )
                )
                return

    # -- used by channels -----------------------------------------------------------

    async def _yield_sometimes(self) -> None:
        """After work that already happened: let other tasks run now and then, uncancellably."""
        self._yield_budget -= 1
        if self._yield_budget <= 0:
            self._yield_budget = YIELD_EVERY
            await anyio.lowlevel.cancel_shielded_checkpoint()

    async def _checkpoint_sometimes(self) -> None:
        """Before work that has not happened yet: honour cancellation, yield now and then."""
        self._yield_budget -= 1
        if self._yield_budget <= 0:
            self._yield_budget = YIELD_EVERY
            await anyio.lowlevel.checkpoint()
        else:
            await anyio.lowlevel.checkpoint_if_cancelled()

    def _check_usable(self) -> None:
        if self._fatal is not None:
            raise self._fatal
        if self._core.state is not ConnectionState.OPEN:
            raise exceptions.ConnectionClosedError(0, describe_unusable(self._core.state))

    async def _wait_publishable(self, pending_bytes: int) -> None:
        """Wait while the broker blocks publishing or the write buffer is full."""
        if self.blocked_reason is not None:
            if self.blocked_timeout is None:
                await self._unblocked.wait()
            else:
                with anyio.move_on_after(self.blocked_timeout) as scope:
                    await self._unblocked.wait()
                if scope.cancelled_caught:
                    raise exceptions.ConnectionBlockedError(
                        self.blocked_reason or "blocked", self.blocked_timeout
                    )
            self._check_usable()
        if pending_bytes > self.high_water:
            drained = self._drained
            if drained.is_set():
                self._drained = drained = anyio.Event()
            self._wake_writer()
            await drained.wait()
            self._check_usable()

    # -- channels -------------------------------------------------------------------

    async def channel(self, **kwargs: Any) -> Channel:
        """Open a new channel and return it (close it with ``await channel.close()``).

        :raises NoChannelAvailableError: when channel_max channels are open
        """
        await anyio.lowlevel.checkpoint_if_cancelled()
        self._check_usable()
        waiter = Waiter()
        try:
            channel_id, slot = self._core.open_channel(waiter)
        except NoFreeChannel as error:
            raise exceptions.NoChannelAvailableError(str(error)) from None
        except (ConnectionUnavailable, ChannelUnavailable):
            self._check_usable()
            raise
        channel = self.CHANNEL_FACTORY(self, channel_id, **kwargs)
        self._channels[channel_id] = channel
        logger.debug("opening channel %s", channel_id)
        self._wake_writer()
        try:
            await waiter.wait()
        except BaseException:
            self._core.abandon(channel_id, slot)  # channel.open is always on the wire
            raise
        return channel

    def new_channel(self, **kwargs: Any) -> _ChannelContext:
        """Open a channel for the duration of an ``async with`` block."""
        return _ChannelContext(self, kwargs)


@asynccontextmanager
async def _single_errors() -> AsyncIterator[None]:
    """Let a lone exception out of a task group as itself, not as an ExceptionGroup.

    The connection's own tasks never raise into their group (they record a fatal
    error instead), so a group holding one exception holds the user's own.
    """
    try:
        yield
    except BaseExceptionGroup as group:
        if len(group.exceptions) != 1:
            raise
        error = group.exceptions[0]
        raise error from error.__cause__


class _ChannelContext:
    """``async with conn.new_channel() as chan``: opens, then closes the channel."""

    def __init__(self, connection: AmqpProtocol, kwargs: dict[str, Any]) -> None:
        self._connection = connection
        self._kwargs = kwargs
        self._channel: Channel | None = None

    async def __aenter__(self) -> Channel:
        self._channel = await self._connection.channel(**self._kwargs)
        return self._channel

    async def __aexit__(self, *exc_info: Any) -> None:
        channel = self._channel
        if channel is None or not channel.is_open:
            return
        with (
            anyio.CancelScope(shield=True),
            anyio.move_on_after(CLOSE_TIMEOUT),
            suppress(exceptions.ChannelClosedError, exceptions.ConnectionClosedError),
        ):
            await channel.close()


__all__ = ["AmqpProtocol"]
