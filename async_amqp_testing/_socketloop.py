"""The socket loop: one anyio session per accepted connection, around its driver.

A :class:`SocketSession` moves bytes for a :class:`~._driver.ConnectionDriver`
(the synchronous protocol logic) over one anyio byte stream with three
tasks: the reader (bytes → the driver, never
awaiting anything but the socket), the writer (drains the model's outbox and
the core's buffer in one ``send`` per batch, honouring the broker's pause
and reply delay) and the heartbeat clock. It keeps the clocks RabbitMQ
keeps: the close-ok wait, the silent delay after a failed handshake, the
heartbeat timeout. What it needs of the broker is a :class:`SessionHost`
(the pause gate, the reply delay, the timer and the session-ended event).
Every error stays in its session: the listener and the other sessions never
see it.
"""

from __future__ import annotations

import logging
import math

import anyio
import anyio.abc

from async_amqp._core.heartbeat import HeartbeatAction
from async_amqp._core.trace import BROKER_FRAMES, FrameTrace

from ._driver import SLICE, ConnectionDriver
from ._model import BrokerModel, ConnectionModel
from ._ports import End, SessionHost
from ._settings import ConnectionSettings
from ._tls_accept import TLSPeer

__all__ = ["SHUTDOWN_TEXT", "SocketSession"]

logger = logging.getLogger("async_amqp_testing")

READ_SIZE = 1 << 18
#: RabbitMQ's text when the broker shuts down with connections open.
SHUTDOWN_TEXT = "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'"


class SocketSession:
    """One client connection to the fake broker (its driver's :class:`~._driver.Transport`).

    :param settings: the connection's settings
    :param model: the broker model
    :param host: the broker's hooks
    :param stream: the connected byte stream (already TLS-wrapped when TLS is on)
    :param session_id: a number for logs
    :param peer: the client address, for logs
    :param tls_peer: what the TLS handshake established (``None``: plain TCP)
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        model: BrokerModel,
        host: SessionHost,
        stream: anyio.abc.ByteStream,
        session_id: int,
        peer: str,
        tls_peer: TLSPeer | None = None,
    ) -> None:
        self.settings = settings
        self.host = host
        self.stream = stream
        self.session_id = session_id
        self.peer = peer
        self.driver = ConnectionDriver(
            settings, model, host, self, f"connection {session_id} ({peer})", tls_peer
        )
        self._send_wanted = anyio.Event()
        self._reading_resumed = anyio.Event()
        self._tuned = anyio.Event()
        self._task_group: anyio.abc.TaskGroup | None = None
        self._finishing = False
        self._close_timer_started = False
        self._trace = FrameTrace.pair(BROKER_FRAMES, f"connection {session_id} ({peer})")

    def __repr__(self) -> str:
        return f"<SocketSession {self.session_id} {self.peer} {self.driver.core.state.value}>"

    @property
    def name(self) -> str:
        """``connection N (peer)`` for logs."""
        return self.driver.name

    @property
    def connection(self) -> ConnectionModel | None:
        """The model's connection once connection.open succeeded."""
        return self.driver.connection

    # -- lifetime ------------------------------------------------------------------------

    async def run(self) -> None:
        """Serve the connection until it ends; never raises (errors are logged)."""
        logger.info("%s: accepted", self.name)
        try:
            async with anyio.create_task_group() as task_group:
                self._task_group = task_group
                task_group.start_soon(self._write_loop)
                task_group.start_soon(self._heartbeat_loop)
                task_group.start_soon(self._read_loop)
                task_group.start_soon(self._handshake_timer)
        except Exception:
            logger.exception("%s: internal error in the fake broker", self.name)
        finally:
            self._task_group = None
            self.driver.aborted = True
            self.driver.release_model()
            with anyio.CancelScope(shield=True):
                await anyio.aclose_forcefully(self.stream)
            self.host.session_ended(self)
            logger.info("%s: closed", self.name)

    def server_close(self, reply_code: int, reply_text: str) -> None:
        """Send connection.close and wait for close-ok (:meth:`ConnectionDriver.server_close`)."""
        self.driver.server_close(reply_code, reply_text)

    def unblock(self) -> None:
        """The broker's resource alarm cleared."""
        self.driver.unblock()

    # -- Transport ---------------------------------------------------------------------------

    def abort(self) -> None:
        """Close the socket now, without any AMQP close (also a fault injection)."""
        self.driver.aborted = True
        if self._task_group is not None:
            self._task_group.cancel_scope.cancel()

    def wake_writer(self) -> None:
        """Ask the writer to send whatever is buffered."""
        self._send_wanted.set()

    def close_after(self, timeout: float) -> None:
        """Close the socket after *timeout* seconds unless it closes sooner."""
        if self._close_timer_started or self._task_group is None:
            return
        self._close_timer_started = True

        async def close_later() -> None:
            await anyio.sleep(timeout)
            logger.info("%s: no close-ok or TCP close in %ss, closing", self.name, timeout)
            self.abort()

        self._task_group.start_soon(close_later)

    def tuned(self) -> None:
        """The heartbeat interval is known: start the heartbeat clock."""
        self._tuned.set()

    def resume_reading(self) -> None:
        """The resource alarm cleared: the reader may go on."""
        self._reading_resumed.set()

    # -- tasks ---------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        driver = self.driver
        while True:
            if driver.reading_blocked:
                self._reading_resumed = anyio.Event()
                await self._reading_resumed.wait()
                continue
            if driver.has_held_input:
                driver.receive_data(b"", anyio.current_time())
            else:
                try:
                    data = await self.stream.receive(READ_SIZE)
                except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
                    logger.debug("%s: the client closed the socket", self.name)
                    self.abort()
                    return
                except OSError as error:
                    logger.info("%s: connection lost: %r", self.name, error)
                    self.abort()
                    return
                if self._trace is not None:
                    self._trace[1].feed(data)
                driver.receive_data(data, anyio.current_time())
            self.host.deadlines_changed()
            self.wake_writer()
            if driver.end is End.FLUSH_THEN_CLOSE:
                self._finishing = True
                return
            if driver.end is End.SILENT_DELAY:
                await anyio.sleep(self.settings.silent_close_delay)
                self.abort()
                return

    async def _write_loop(self) -> None:
        driver = self.driver
        core = driver.core
        host = self.host
        while True:
            if host.output_paused:
                await host.wait_output_resumed()
            driver.drain_outbox(SLICE)
            if not core.has_data_to_send:
                if self._finishing:
                    self.abort()
                    return
                self._send_wanted = anyio.Event()
                await self._send_wanted.wait()
                continue
            if host.reply_delay > 0:
                await anyio.sleep(host.reply_delay)
                driver.drain_outbox(SLICE)
            data = core.data_to_send(anyio.current_time())
            if self._trace is not None:
                self._trace[0].feed(data)
            try:
                await self.stream.send(data)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as error:
                logger.info("%s: write failed: %r", self.name, error)
                self.abort()
                return

    async def _handshake_timer(self) -> None:
        """Like RabbitMQ (handshake_timeout): drop a connection not open within the limit."""
        await anyio.sleep(self.settings.handshake_timeout)
        if self.driver.connection is None:
            logger.info(
                "%s: handshake not finished in %ss, closing",
                self.name,
                self.settings.handshake_timeout,
            )
            self.abort()

    async def _heartbeat_loop(self) -> None:
        await self._tuned.wait()
        driver = self.driver
        core = driver.core
        while True:
            deadline = core.heartbeat.next_deadline()
            if math.isinf(deadline):
                return  # heartbeats are off
            await anyio.sleep_until(deadline)
            now = anyio.current_time()
            if driver.reading_blocked:
                core.heartbeat.received(now)  # like RabbitMQ: no timeout while blocked
            action = core.poll_heartbeat(now)
            if action is HeartbeatAction.SEND:
                self.wake_writer()
            elif action is HeartbeatAction.TIMED_OUT:
                logger.info(
                    "%s: missed heartbeats from client, timeout: %ss",
                    self.name,
                    core.heartbeat_interval,
                )
                self.abort()
                return
