"""Plain TCP on asyncio: sessions fed by asyncio protocol callbacks, no reader task.

anyio's asyncio socket stream pauses reading whenever no ``receive`` waits and
resumes it around every wait, and a reader task plus a writer task cost loop
turns between a request and its reply. Here the listening sockets (bound by
anyio, so binding behaves as everywhere else) are served by
``loop.create_server``; each connection's :class:`BrokerProtocol` (a buffered
protocol: asyncio reads into its :class:`~._arena.ReceiveArena`) hands what
arrives to its :class:`TransportSession` straight from ``buffer_updated``, the
driver processes it synchronously, and the replies go out with one
``transport.write`` per received chunk, in the same loop iteration. Output the
session did not cause itself (deliveries from other connections, heartbeats)
is written from one ``call_soon`` per batch. The writer task is kept for the
broker's pause and reply delay, which need time.

Flow control: reading pauses while the transport's write buffer is over its
high-water mark (the client does not read), while the driver is blocked by the
resource alarm, and once the connection is ending. TLS connections and the
trio backend keep :class:`~._socketloop.StreamSession`. Only public asyncio
APIs are used.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable

import anyio
import anyio.abc

from async_amqp._core.server_events import Received

from ._arena import ReceiveArena
from ._model import BrokerModel
from ._ports import End, SessionHost
from ._settings import ConnectionSettings
from ._socketloop import SocketSession

__all__ = ["BrokerProtocol", "TransportSession", "serve_protocols"]

logger = logging.getLogger("async_amqp_testing")

#: Seconds a closed socket may take to hand over what is still buffered before it is reset.
CLOSE_GRACE = 5.0


class BrokerProtocol(asyncio.BufferedProtocol):
    """One accepted connection; keeps what arrives until its session is attached.

    asyncio reads into its :class:`~._arena.ReceiveArena`; each read reaches the
    session as the arena's bytes so far and where the new ones start.
    """

    def __init__(
        self, accepted: Callable[[BrokerProtocol], None], arena: ReceiveArena | None = None
    ) -> None:
        self._accepted = accepted
        self.transport: asyncio.Transport | None = None
        self.session: TransportSession | None = None
        self._arena = ReceiveArena() if arena is None else arena
        # Reads before the session is attached: copies (reading in place starts only
        # once the session has seen a large publish).
        self._early: list[Received] = []
        self._ended: tuple[Exception | None] | None = None
        self._writing_paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._accepted(self)

    def attach(self, session: TransportSession) -> None:
        """Hand everything to *session* from now on (what arrived before it first)."""
        self.session = session
        early, self._early = self._early, []
        if early:
            session.received(b"".join(early), 0)
        if self._writing_paused:
            session.writing_paused(True)
        if self._ended is not None:
            session.input_ended(self._ended[0])

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._arena.free()

    def buffer_updated(self, nbytes: int) -> None:
        arena = self._arena
        data, start = arena.filled(nbytes)
        session = self.session
        if session is not None:
            core = session.driver.core
            before = core.large_commands
            session.received(data, start)
            arena.read_was(core.large_commands != before)
        else:
            assert not arena.views
            self._early.append(data)

    def eof_received(self) -> bool:
        self.connection_lost(None)
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        if self.session is None:
            if self._ended is None:
                self._ended = (exc,)
        else:
            self.session.input_ended(exc)

    def pause_writing(self) -> None:
        self._writing_paused = True
        if self.session is not None:
            self.session.writing_paused(True)

    def resume_writing(self) -> None:
        self._writing_paused = False
        if self.session is not None:
            self.session.writing_paused(False)


class TransportSession(SocketSession):
    """A session fed by a :class:`BrokerProtocol`; writes to its asyncio transport.

    :param protocol: the connection's protocol (attached once the session runs)
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        model: BrokerModel,
        host: SessionHost,
        protocol: BrokerProtocol,
        session_id: int,
        peer: str,
    ) -> None:
        super().__init__(settings, model, host, session_id, peer)
        assert protocol.transport is not None
        self._protocol = protocol
        self._transport = protocol.transport
        self._loop = asyncio.get_running_loop()
        self._processing = False
        self._flush_scheduled = False
        self._writing_paused = False
        self._reading_paused = False
        self._gone = False
        self._silent_timer: asyncio.TimerHandle | None = None

    # -- byte level ----------------------------------------------------------------------

    def _start_reading(self, task_group: anyio.abc.TaskGroup) -> None:
        self._protocol.attach(self)

    async def _send(self, data: bytes) -> bool:
        if self._gone or self._transport.is_closing():
            logger.info("%s: write failed: the socket is closed", self.name)
            self.abort()
            return False
        self._transport.write(data)
        return True

    async def _close_socket(self) -> None:
        self._close_transport()
        await anyio.lowlevel.checkpoint()

    def _close_transport(self) -> None:
        if self._silent_timer is not None:
            self._silent_timer.cancel()
        transport = self._transport
        if transport.is_closing():
            return
        if transport.get_write_buffer_size():
            transport.close()  # hands over what is buffered first
            self._loop.call_later(CLOSE_GRACE, transport.abort)
        else:
            transport.abort()

    # -- protocol callbacks --------------------------------------------------------------

    def received(self, data: Received, start: int) -> None:
        """Bytes arrived (*data*: the arena's so far, new from *start*): process them
        and write the replies, now."""
        if not self.driver.aborted:
            self._process(data, start)

    def input_ended(self, error: Exception | None) -> None:
        """The client closed the socket (*error*: how it broke, if it did)."""
        self._gone = True
        if self.driver.aborted:
            return
        if error is None:
            logger.debug("%s: the client closed the socket", self.name)
        else:
            logger.info("%s: connection lost: %r", self.name, error)
        self.abort()

    def writing_paused(self, paused: bool) -> None:
        """The transport's write buffer went over (True) or under (False) its limits."""
        self._writing_paused = paused
        self._update_reading()

    # -- Transport -----------------------------------------------------------------------

    def wake_writer(self) -> None:
        """Send whatever is buffered: after the current input, or from the next loop turn."""
        if self._processing or self._flush_scheduled:
            return
        self._flush_scheduled = True
        self._loop.call_soon(self._scheduled_flush)

    def output_ready(self) -> None:
        """A slice of a long output is encoded: write it now, the rest follows."""
        if not self._gone and not self.driver.aborted:
            self._write_out()

    def resume_reading(self) -> None:
        """The resource alarm cleared: process what was held, then read again."""
        self._loop.call_soon(self._resume_held)

    def abort(self) -> None:
        """Close the socket now, without any AMQP close (also a fault injection)."""
        super().abort()
        self._update_reading()

    # -- internals -----------------------------------------------------------------------

    def _after_input(self) -> None:
        end = self.driver.end
        if end is End.FLUSH_THEN_CLOSE:
            self._finishing = True
        elif end is End.SILENT_DELAY and self._silent_timer is None:
            self._silent_timer = self._loop.call_later(self.settings.silent_close_delay, self.abort)
        self._flush()
        self._update_reading()
        self.host.deadlines_changed()

    def _resume_held(self) -> None:
        driver = self.driver
        if not (driver.aborted or driver.reading_blocked):
            self._process(None)

    def _process(self, data: Received | None, start: int = 0) -> None:
        """Feed *data* (new from *start*; ``None``: what an alarm held back) to the
        driver, then write.

        An error here is the broker's own bug: it is logged and ends this session only.
        """
        self._processing = True
        try:
            if data is not None:
                self._take_input(data, self._now(), start)
            elif self.driver.has_held_input:
                self._take_held(self._now())
            self._after_input()
        except Exception:
            logger.exception("%s: internal error in the fake broker", self.name)
            self.abort()
        finally:
            self._processing = False

    def _scheduled_flush(self) -> None:
        self._flush_scheduled = False
        try:
            self._flush()
        except Exception:
            logger.exception("%s: internal error in the fake broker", self.name)
            self.abort()

    def _flush(self) -> None:
        """Write what is buffered, unless the writer task must (pause, reply delay)."""
        host = self.host
        if self.driver.aborted or self._task_group is None:
            return
        if host.output_paused or host.reply_delay > 0:
            self._send_wanted.set()
            return
        self.driver.drain_outbox()
        if not self._gone:
            self._write_out()
        if self._finishing:
            self.abort()

    def _write_out(self) -> None:
        """Write what the core has encoded, unless the writer task must (pause, delay)."""
        host = self.host
        if host.output_paused or host.reply_delay > 0 or self._task_group is None:
            return
        if self.driver.core.has_data_to_send:
            self._transport.write(self._output(self._now()))

    def _update_reading(self) -> None:
        driver = self.driver
        paused = (
            self._writing_paused
            or driver.reading_blocked
            or driver.end is not None
            or driver.aborted
        )
        if paused is self._reading_paused or self._transport.is_closing():
            return
        self._reading_paused = paused
        if paused:
            self._transport.pause_reading()
        else:
            self._transport.resume_reading()


async def serve_protocols(
    listener: anyio.abc.Listener[anyio.abc.SocketStream],
    accepted: Callable[[BrokerProtocol], None],
) -> None:
    """Serve *listener*'s sockets with :class:`BrokerProtocol` until cancelled.

    :param listener: a TCP listener from :func:`anyio.create_tcp_listener` (its sockets
        are served by asyncio instead of its ``serve``; it must still be closed)
    :param accepted: called with each new connection's protocol (in a loop callback)
    """
    loop = asyncio.get_running_loop()
    servers: list[asyncio.Server] = []
    try:
        for each in getattr(listener, "listeners", [listener]):
            sock = each.extra(anyio.abc.SocketAttribute.raw_socket)
            server = await loop.create_server(
                lambda: BrokerProtocol(accepted), sock=sock, backlog=65536, start_serving=False
            )
            servers.append(server)  # closed below even when cancelled from here on
            await server.start_serving()
        await anyio.sleep_forever()
    finally:
        for server in servers:
            server.close()
