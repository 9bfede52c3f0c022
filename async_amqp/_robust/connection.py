"""``connect_robust``: a connection that reconnects, fails over and restores what it had.

``async with connect_robust(...) as conn`` owns a task group with one
supervisor task. The supervisor connects (trying the URLs round-robin with
jittered exponential backoff), replays the recorded topology, re-opens the
user's channels with their qos, confirm mode and consumers, and then waits for
the connection to end. A lost connection or a ``320 CONNECTION_FORCED`` starts
the next round; an error that would only repeat (refused login, unknown vhost,
TLS verification, a hard error the application caused) or ``reconnect_timeout``
without a connection ends the block with that error, as ``connect_amqp`` would.
Leaving the block closes everything; no task outlives it.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any

import anyio
import anyio.abc

from .. import exceptions
from .._connect import connect_amqp
from .._connection import AmqpProtocol
from .._tasks import ConnectionTasks
from .channel import RobustChannel, _RobustChannelContext
from .policy import Backoff, Endpoints, describe, is_retryable
from .state import ConnectionEvent, EventKind, EventStream, Link
from .topology import Topology

logger = logging.getLogger("async_amqp.robust")


class RobustConnection:
    """A connection that survives broker restarts and network cuts.

    Create it with :func:`async_amqp.connect_robust`. Its channels
    (:class:`RobustChannel`) stay valid across reconnects.
    """

    def __init__(
        self,
        endpoints: Endpoints,
        *,
        reconnect_interval: float,
        max_reconnect_interval: float,
        reconnect_timeout: float | None,
    ) -> None:
        if reconnect_interval < 0 or max_reconnect_interval < reconnect_interval:
            raise exceptions.ConfigurationError(
                "need 0 <= reconnect_interval <= max_reconnect_interval"
            )
        self._endpoints = endpoints
        self._backoff = Backoff(reconnect_interval, max_reconnect_interval)
        self.reconnect_timeout = reconnect_timeout
        self._link = Link()
        self._topology = Topology()
        self._channels: list[RobustChannel] = []
        self._block_scope: anyio.CancelScope | None = None
        self._tasks = ConnectionTasks(on_error=self._give_up)
        self._supervisor_scope: anyio.CancelScope | None = None
        self._fatal: BaseException | None = None
        self._closed_by_user = False
        self._started = False
        #: set to leave the connection gracefully; the supervisor is cancelled only when
        #: it is not serving (cancelling would also stop the connection's reader)
        self._stop = anyio.Event()
        self._serving = False
        self._address = ""

    def __repr__(self) -> str:
        state = "connected" if self.is_connected else ("closed" if not self.is_open else "down")
        return f"<RobustConnection {self._address or '-'} generation={self.generation} {state}>"

    # -- state ----------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """True until the robust connection is closed or has given up."""
        return self._link.fatal is None

    @property
    def is_connected(self) -> bool:
        """True while a connection is up and recovered."""
        return self._link.ready

    @property
    def generation(self) -> int:
        """How many connections have been made (1 for the first)."""
        return self._link.generation

    @property
    def protocol(self) -> AmqpProtocol | None:
        """The current plain connection, or None while disconnected."""
        return self._link.protocol if self._link.ready else None

    @property
    def server_properties(self) -> dict[str, Any]:
        """The current broker's properties (empty while disconnected)."""
        protocol = self.protocol
        return {} if protocol is None else protocol.server_properties

    def events(self) -> EventStream:
        """Return a stream of state changes from now on (``with conn.events() as events``)."""
        return self._link.subscribe()

    async def wait_connected(self, after_generation: int = 0) -> None:
        """Wait until a connection later than *after_generation* is up and recovered.

        :raises: the robust connection's final error once it has ended
        """
        await self._link.wait_ready(after_generation)

    # -- lifetime -------------------------------------------------------------------------

    async def __aenter__(self) -> RobustConnection:
        self._lifetime_cm = self._lifetime()
        return await self._lifetime_cm.__aenter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        return await self._lifetime_cm.__aexit__(exc_type, exc, traceback)

    @asynccontextmanager
    async def _lifetime(self) -> AsyncIterator[RobustConnection]:
        # The supervisor runs in an outer group, the block and consumer callbacks in an
        # inner one: giving up cancels the block without cutting the supervisor's
        # connection short, so it still closes gracefully.
        try:
            async with anyio.create_task_group() as supervisor_group:
                await supervisor_group.start(self._supervise)
                async with anyio.create_task_group() as task_group:
                    self._block_scope = task_group.cancel_scope
                    # Consumer callbacks' starter: only once the first is queued.
                    self._tasks.serve_later_on_demand(task_group)
                    try:
                        yield self
                    finally:
                        self._block_scope = None
                        self._closed_by_user = self._fatal is None
                        self._stop_supervisor()
                        self._tasks.stop()  # none starts on demand from now on
                        task_group.cancel_scope.cancel()  # consumer callbacks
        except BaseExceptionGroup as group:
            error = _sole(group)
            raise error from error.__cause__
        fatal = self._fatal
        if fatal is not None and not self._closed_by_user:
            raise fatal from fatal.__cause__

    def _stop_supervisor(self) -> None:
        self._stop.set()
        scope = self._supervisor_scope
        if scope is not None and not self._serving:
            scope.cancel()

    def _shield_supervisor(self) -> None:
        """From now on only :meth:`_stop_supervisor` stops the supervisor.

        A cancellation from outside the block would otherwise also cancel the plain
        connection's reader, and its graceful close would wait in vain for close-ok.
        """
        scope = self._supervisor_scope
        if scope is not None:
            scope.shield = True

    async def close(self) -> None:
        """Close the connection and stop reconnecting; the rest of the block keeps running."""
        self._closed_by_user = True
        self._stop_supervisor()
        with anyio.CancelScope(shield=True):
            while self._supervisor_scope is not None:
                await self._link.wait_change()

    def _spawn(self, function: Callable[..., Awaitable[None]], *args: Any) -> None:
        """Run a task (a consumer callback) in the block's task group; its error is fatal."""
        self._tasks.start_later(functools.partial(function, *args))

    def _give_up(self, error: BaseException) -> None:
        """End the robust connection with *error*: raised out of its ``async with``."""
        if self._fatal is None and not self._closed_by_user:
            self._fatal = error
            logger.error("connection given up: %s", error)
        self._finish(error)
        if self._block_scope is not None:
            self._block_scope.cancel()

    def _finish(self, error: BaseException) -> None:
        """Fail every waiter and end every channel and consumer."""
        if self._link.fatal is not None:
            return
        self._link.set_fatal(error)
        clean = error is not self._fatal
        for channel in list(self._channels):
            channel.end(None if clean else error)
        self._channels.clear()
        self._emit(EventKind.CLOSED, reason=None if clean else error)

    def _emit(self, kind: EventKind, **fields: Any) -> None:
        self._link.emit(
            ConnectionEvent(kind, self._link.generation, address=self._address, **fields)
        )

    # -- channels -------------------------------------------------------------------------

    async def channel(self) -> RobustChannel:
        """Open a channel that survives reconnects (waits for a connection if there is none)."""
        channel = RobustChannel(self._link, self._topology, self._forget_channel, self._spawn)
        self._channels.append(channel)
        try:
            await channel.open()
        except BaseException:
            self._forget_channel(channel)
            raise
        return channel

    def new_channel(self) -> _RobustChannelContext:
        """Open a channel for the duration of an ``async with`` block."""
        return _RobustChannelContext(self.channel)

    def _forget_channel(self, channel: object) -> None:
        if channel in self._channels:
            self._channels.remove(channel)

    # -- the supervisor -------------------------------------------------------------------

    async def _supervise(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        try:
            with anyio.CancelScope() as scope:
                self._supervisor_scope = scope
                try:
                    await self._connect_forever(task_status)
                except Exception as error:
                    if not self._started and self._fatal is None:
                        self._fatal = error
                        self._finish(error)
                        raise  # the first connection failed: __aenter__ raises it
                    self._give_up(error)
        finally:  # also when cancelled from outside before the first connection
            self._supervisor_scope = None
            self._finish(exceptions.ConnectionClosedError(0, "connection closed by the client"))

    async def _connect_forever(self, task_status: anyio.abc.TaskStatus[None]) -> None:
        """Connect, recover, serve until lost; again and again until stopped or given up."""
        since = anyio.current_time()
        while True:
            last_error: BaseException | None = None
            for index, options in self._endpoints.round():
                error, connected = await self._session(index, options, since, task_status)
                if connected:
                    since = anyio.current_time()
                    self._backoff.reset()
                if error is None:
                    return
                if not is_retryable(error):
                    raise error
                last_error = error
                if connected:
                    break  # lost: back off once, then start with the next endpoint
            assert last_error is not None
            await self._back_off(since, last_error)

    async def _back_off(self, since: float, error: BaseException) -> None:
        delay = self._backoff.next_delay()
        if self.reconnect_timeout is not None:
            remaining = since + self.reconnect_timeout - anyio.current_time()
            if remaining <= 0:
                logger.error(
                    "no connection for %.3gs (reconnect_timeout): giving up", self.reconnect_timeout
                )
                raise exceptions.ReconnectTimeoutError(
                    0,
                    f"no connection within reconnect_timeout={self.reconnect_timeout}s: "
                    f"{str(error) or type(error).__name__}",
                ) from error
            delay = min(delay, remaining)
        logger.info("reconnecting in %.3gs", delay)
        self._emit(EventKind.RECONNECTING, reason=error, delay=delay)
        await anyio.sleep(delay)

    def _options(self, options: dict[str, object], since: float) -> dict[str, Any]:
        result: dict[str, Any] = dict(options)
        if self.reconnect_timeout is not None:
            remaining = max(0.001, since + self.reconnect_timeout - anyio.current_time())
            timeout = result.get("connection_timeout")
            result["connection_timeout"] = min(remaining, timeout or math.inf)
        return result

    async def _session(
        self,
        index: int,
        options: dict[str, object],
        since: float,
        task_status: anyio.abc.TaskStatus[None],
    ) -> tuple[BaseException | None, bool]:
        """One connection, from attempt to end: (why it ended, whether it had connected)."""
        address = describe(options)
        logger.debug("connecting to %s", address)
        connected = False
        if self._stop.is_set():
            return None, False
        try:
            protocol = connect_amqp(**self._options(options, since))
            async with protocol:
                connected = True
                self._endpoints.used(index)
                self._address = address
                self._link.generation += 1
                logger.info("connected to %s (generation %d)", address, self._link.generation)
                self._emit(EventKind.CONNECTED)
                await self._recover(protocol)
                if not self._started:
                    self._started = True
                    task_status.started()
                    self._shield_supervisor()
                self._serving = True
                try:
                    await self._stop.wait()
                finally:
                    self._serving = False
        except exceptions.ConfigurationError:
            raise
        except Exception as error:
            self._link.set_lost()
            if connected:
                logger.info("connection to %s lost: %s", address, error)
                self._emit(EventKind.DISCONNECTED, reason=error)
            else:
                logger.info("connecting to %s failed: %r", address, error)
            return error, connected
        return None, connected

    async def _recover(self, protocol: AmqpProtocol) -> None:
        """Replay the topology, then re-open every channel with its state and consumers."""
        started = anyio.current_time()
        generation = self._link.generation
        renamed: dict[str, str] = {}
        failures: list[BaseException] = []
        if len(self._topology):
            renamed, failures = await self._topology.replay(protocol)
        for channel in list(self._channels):
            try:
                await channel.recover_on(protocol, generation, renamed)
            except exceptions.ChannelClosedError as error:
                logger.warning("channel not recovered: %s", error)
                failures.append(error)
                not_recovered = exceptions.ChannelNotRecoveredError(
                    error.reply_code, f"channel not recovered: {error}"
                )
                not_recovered.__cause__ = error
                channel.end(not_recovered)
        self._link.set_ready(protocol)
        if generation > 1:
            logger.info(
                "recovered %d channel(s) and %d topology entries in %.3fs",
                len(self._channels),
                len(self._topology),
                anyio.current_time() - started,
            )
        self._emit(EventKind.RECOVERED, renamed=renamed, failures=tuple(failures))


def _sole(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The lone exception of (nested) one-exception groups, else the group itself."""
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error
