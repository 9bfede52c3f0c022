"""The socket loop: one anyio session per accepted connection, around its driver.

A :class:`SocketSession` moves bytes for a :class:`~._driver.ConnectionDriver`
(the synchronous protocol logic). What it keeps for every connection: the
writer task (drains the model's outbox and the core's buffer in one write per
batch, honouring the broker's pause and reply delay), the heartbeat clock, the
handshake timer and the clocks RabbitMQ keeps (the close-ok wait, the silent
delay after a failed handshake, the heartbeat timeout). Received bytes reach
the driver in one place (:meth:`SocketSession._take_input`). What it needs of
the broker is a :class:`SessionHost` (the pause gate, the reply delay, the
timer and the session-ended event). Every error stays in its session: the
listener and the other sessions never see it.

The byte level comes in two kinds: :class:`StreamSession` reads and writes an
anyio byte stream with a reader task (TLS, trio), and
:class:`~._transport_session.TransportSession` is fed by an asyncio protocol's
callbacks and writes to its transport in the same loop iteration (plain TCP
on asyncio).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable

import anyio
import anyio.abc
import sniffio

from async_amqp._core.heartbeat import HeartbeatAction
from async_amqp._core.server_events import Received
from async_amqp._core.trace import BROKER_FRAMES, FrameTrace

from ._driver import ConnectionDriver
from ._model import BrokerModel, ConnectionModel
from ._ports import End, SessionHost
from ._settings import ConnectionSettings
from ._tls_accept import TLSPeer

__all__ = ["SHUTDOWN_TEXT", "SocketSession", "StreamSession", "loop_clock"]

logger = logging.getLogger("async_amqp_testing")

#: The most bytes a :class:`StreamSession` reads at once (about 170 small publishes): the
#: output of one read (confirms, deliveries) is written before the next is processed, so
#: a publisher's confirm window keeps moving while the broker reads a long backlog, as
#: RabbitMQ confirms as it goes. (The asyncio protocol session writes between slices of a
#: read instead: ``INPUT_SLICE`` in ``_publishing.py``.)
READ_SIZE = 1 << 15
#: RabbitMQ's text when the broker shuts down with connections open.
SHUTDOWN_TEXT = "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'"


def loop_clock() -> Callable[[], float]:
    """The running event loop's clock, read without anyio's backend lookup on every call."""
    library = sniffio.current_async_library()
    if library == "asyncio":
        return asyncio.get_running_loop().time
    if library == "trio":
        import trio  # only with the trio backend

        return trio.current_time
    return anyio.current_time


class SocketSession:
    """One client connection to the fake broker (its driver's :class:`~._driver.Transport`).

    The byte level is a subclass's: :meth:`_start_reading` (start feeding received
    bytes to :meth:`_take_input`), :meth:`_send`, :meth:`_close_socket` and
    :meth:`resume_reading`.

    :param settings: the connection's settings
    :param model: the broker model
    :param host: the broker's hooks
    :param session_id: a number for logs
    :param peer: the client address, for logs
    :param tls_peer: what the TLS handshake established (``None``: plain TCP)
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        model: BrokerModel,
        host: SessionHost,
        session_id: int,
        peer: str,
        tls_peer: TLSPeer | None = None,
    ) -> None:
        self.settings = settings
        self.host = host
        self.session_id = session_id
        self.peer = peer
        self.driver = ConnectionDriver(
            settings, model, host, self, f"connection {session_id} ({peer})", tls_peer
        )
        self._send_wanted = anyio.Event()
        self._tuned = anyio.Event()
        self._task_group: anyio.abc.TaskGroup | None = None
        self._now = loop_clock()
        #: True while received bytes are processed: the output is written after them.
        self._processing = False
        #: True while a write is under way (the writer task's, or the reader's own).
        self._writing = False
        self._finishing = False
        self._close_timer_started = False
        self._trace = FrameTrace.pair(BROKER_FRAMES, f"connection {session_id} ({peer})")

    def __repr__(self) -> str:
        kind = type(self).__name__
        return f"<{kind} {self.session_id} {self.peer} {self.driver.core.state.value}>"

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
                task_group.start_soon(self._handshake_timer)
                self._start_reading(task_group)
        except Exception:
            logger.exception("%s: internal error in the fake broker", self.name)
        finally:
            self._task_group = None
            self.driver.aborted = True
            self.driver.release_model()
            with anyio.CancelScope(shield=True):
                await self._close_socket()
            self.host.session_ended(self)
            logger.info("%s: closed", self.name)

    def server_close(self, reply_code: int, reply_text: str) -> None:
        """Send connection.close and wait for close-ok (:meth:`ConnectionDriver.server_close`)."""
        self.driver.server_close(reply_code, reply_text)

    def unblock(self) -> None:
        """The broker's resource alarm cleared."""
        self.driver.unblock()

    # -- byte level (a subclass's) ---------------------------------------------------------

    def _start_reading(self, task_group: anyio.abc.TaskGroup) -> None:
        """Start feeding received bytes to :meth:`_take_input`."""
        raise NotImplementedError

    async def _send(self, data: bytes) -> bool:
        """Write *data*; return False when the socket is gone (the session is aborted)."""
        raise NotImplementedError

    async def _close_socket(self) -> None:
        """Close the socket (without any AMQP close)."""
        raise NotImplementedError

    def resume_reading(self) -> None:
        """The resource alarm cleared: the reader may go on."""
        raise NotImplementedError

    # -- input ---------------------------------------------------------------------------

    def _take_input(self, data: Received, now: float, start: int = 0) -> None:
        """Feed received bytes to the driver: the one place they reach it.

        *data* is ``bytes``, or a receive arena's bytes so far (new from *start*; see
        :mod:`._arena`). The caller writes the output, then calls the host's
        ``deadlines_changed`` (the input may have set TTLs or expiries).
        """
        if self._trace is not None:
            self._trace[1].feed(data[start:])
        self.driver.receive_data(data, now)

    def _take_held(self, now: float) -> None:
        """Let the driver read what it held back while blocked (the resource alarm cleared)."""
        self.driver.receive_data(b"", now)

    def _output(self, now: float) -> bytes:
        """Everything the core has buffered for the socket, as one write."""
        data = self.driver.core.data_to_send(now)
        if self._trace is not None:
            self._trace[0].feed(data)
        return data

    # -- Transport ---------------------------------------------------------------------------

    def abort(self) -> None:
        """Close the socket now, without any AMQP close (also a fault injection)."""
        self.driver.aborted = True
        if self._task_group is not None:
            self._task_group.cancel_scope.cancel()

    def wake_writer(self) -> None:
        """Ask the writer to send whatever is buffered (after the input being processed)."""
        if not self._processing:
            self._send_wanted.set()

    def output_ready(self) -> None:
        """A slice of a long output is encoded (written with the rest here)."""

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

    # -- tasks ---------------------------------------------------------------------------

    async def _write_loop(self) -> None:
        driver = self.driver
        core = driver.core
        host = self.host
        while True:
            if host.output_paused:
                await host.wait_output_resumed()
            driver.drain_outbox()
            if not core.has_data_to_send or self._writing:
                if self._finishing and not self._writing:
                    self.abort()
                    return
                self._send_wanted = anyio.Event()
                await self._send_wanted.wait()
                continue
            if host.reply_delay > 0:
                await anyio.sleep(host.reply_delay)
                driver.drain_outbox()
                if self._writing or not core.has_data_to_send:
                    continue  # written meanwhile (the delay was lifted)
            if not await self._write(self._output(self._now())):
                return

    async def _write(self, data: bytes) -> bool:
        """:meth:`_send` *data*, the one write under way; False when the socket is gone."""
        self._writing = True
        try:
            return await self._send(data)
        finally:
            self._writing = False

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
            now = self._now()
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


class StreamSession(SocketSession):
    """A session over an anyio byte stream: a reader task, and the writer task's sends.

    :param stream: the connected byte stream (already TLS-wrapped when TLS is on)
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
        super().__init__(settings, model, host, session_id, peer, tls_peer)
        self.stream = stream
        self._reading_resumed = anyio.Event()

    def _start_reading(self, task_group: anyio.abc.TaskGroup) -> None:
        task_group.start_soon(self._read_loop)

    async def _close_socket(self) -> None:
        await anyio.aclose_forcefully(self.stream)

    def resume_reading(self) -> None:
        """The resource alarm cleared: the reader may go on."""
        self._reading_resumed.set()

    async def _send(self, data: bytes) -> bool:
        try:
            await self.stream.send(data)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as error:
            logger.info("%s: write failed: %r", self.name, error)
            self.abort()
            return False
        return True

    async def _read_loop(self) -> None:
        driver = self.driver
        while True:
            if driver.reading_blocked:
                self._reading_resumed = anyio.Event()
                await self._reading_resumed.wait()
                continue
            data = b""
            if not driver.has_held_input:
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
            self._processing = True
            try:
                if data:
                    self._take_input(data, self._now())
                else:
                    self._take_held(self._now())
            finally:
                self._processing = False
            if driver.end is End.FLUSH_THEN_CLOSE:
                self._finishing = True
            written = await self._write_now()
            self.host.deadlines_changed()
            if not written or self._finishing:
                return
            if driver.end is End.SILENT_DELAY:
                await anyio.sleep(self.settings.silent_close_delay)
                self.abort()
                return

    async def _write_now(self) -> bool:
        """After input: write its output from the reader, unless the writer task must."""
        host = self.host
        if self._writing or self._finishing or host.output_paused or host.reply_delay > 0:
            self._send_wanted.set()  # the writer task writes (and closes when finishing)
            return True
        driver = self.driver
        driver.drain_outbox()
        if not driver.core.has_data_to_send:
            return True
        written = await self._write(self._output(self._now()))
        if driver.core.has_data_to_send:  # queued meanwhile (other connections' deliveries)
            self._send_wanted.set()
        return written
