"""The reader, the writer and the heartbeat clock of one connection's stream.

The reader turns bytes into core events and hands each to the connection's
:class:`~._connection_events.ConnectionEvents`, synchronously; the writer drains
whatever the core has buffered in one ``send``; the heartbeat clock asks the core
when to send a heartbeat and when the broker has been silent too long. None of
them raises: what ends them is recorded through the connection's events as fatal.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

import anyio
import anyio.abc
import sniffio

from . import exceptions
from ._connection_events import ConnectionEvents
from ._core.client import ConnectionState
from ._core.errors import ProtocolError
from ._core.heartbeat import HeartbeatAction
from ._core.trace import FrameTrace
from ._opening import violation_error
from ._port import ConnectionPort
from ._transport import READ_SIZE


class ConnectionIO:
    """The three tasks that move one connection's bytes."""

    def __init__(
        self,
        stream: anyio.abc.ByteStream,
        port: ConnectionPort,
        events: ConnectionEvents,
        *,
        trace: tuple[FrameTrace, FrameTrace] | None,
        address: tuple[str, int],
    ) -> None:
        self._stream = stream
        self._port = port
        self._core = port.core
        self._events = events
        self._trace = trace
        self._address = address
        #: set once the writer has sent what was left and stopped
        self.writer_done = anyio.Event()
        #: the stream's synchronous send, if it has one (see :meth:`send_now`)
        self._send_nowait: Callable[[bytes], int] | None = getattr(stream, "send_nowait", None)
        #: True while the writer waits for work, with nothing of its own left to send
        #: (also before it started: :meth:`send_now` may send the protocol header)
        self._writer_idle = True
        #: what :meth:`send_now` could not send: the writer sends it first
        self._leftover = b""
        #: set by :meth:`stop_idle_tasks`: the heartbeat clock ends, and the writer once
        #: it has sent everything on a stream that sends without awaiting
        self._stopping = anyio.Event()
        #: stops the stream's pushing (see :meth:`push_if_possible`)
        self._stop_pushing: Callable[[], None] = _nothing
        port.attach_sender(self.send_now)

    @property
    def sent_everything(self) -> bool:
        """True while the writer waits for work (or stopped so) and nothing is left to send."""
        return self._writer_idle and not self._leftover and not self._core.has_data_to_send

    def stop_idle_tasks(self) -> None:
        """Let the heartbeat clock end, and the writer once it has sent everything, if
        :meth:`send_now` can send whatever comes next without it (the stream sends
        without awaiting). For the close handshake: nothing but a close-ok is sent then.

        They end on their own, sooner and cheaper than by being cancelled.
        """
        self._stopping.set()
        if self._send_nowait is not None:
            self._port.wake_writer()

    def send_now(self) -> bool:
        """Send what the core buffers from the calling task: True if all of it went out.

        Only while the writer is idle (never while it is sending), and only on a stream
        that can send without awaiting. Whatever the kernel does not take at once is
        left to the writer, which the caller wakes when this returns False.
        """
        send_nowait = self._send_nowait
        if not self._writer_idle or send_nowait is None:
            return False
        core = self._core
        if not core.has_data_to_send:
            return True
        data = core.data_to_send(anyio.current_time())
        if self._trace is not None:
            self._trace[0].feed(data)
        sent = send_nowait(data)
        if sent == len(data):
            return True
        self._leftover = data[sent:]
        self._writer_idle = False  # it has something to send now
        return False

    async def write_loop(self) -> None:
        """The writer: send what the core buffers, in as few system calls as it can."""
        try:
            await self._write_until_done()
        finally:
            # Stopped while idle, with nothing half-sent: send_now may still send.
            self._writer_idle = self._writer_idle and not self._leftover
            self.writer_done.set()

    async def _write_until_done(self) -> None:
        """Send what the core buffers; once the connection has ended, send what is left."""
        stream = self._stream
        core = self._core
        port = self._port
        while True:
            data = self._leftover
            if data:
                self._leftover = b""
            elif not core.has_data_to_send:
                port.mark_drained()
                if port.failure is not None:
                    return
                self._writer_idle = True
                if self._send_nowait is not None and self._stopping.is_set():
                    return  # idle, nothing half-sent: send_now sends what comes next
                await port.wait_for_work()
                self._writer_idle = False
                continue
            else:
                data = core.data_to_send(anyio.current_time())
                if self._trace is not None:
                    self._trace[0].feed(data)
            try:
                await stream.send(data)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as error:
                if port.failure is None:
                    self._events.die(
                        self._events.tls_refusal(error)
                        or exceptions.ConnectionLostError(0, f"connection lost: {error!r}")
                    )
                return

    def push_if_possible(self) -> bool:
        """Have the stream push what arrives (plain TCP on asyncio): True if it will.

        Bytes are then handled in the event loop's callback for them
        (:meth:`_on_pushed`), a turn of the loop sooner than a reader task could, and
        the connection needs no reader task (:meth:`read_loop`) at all.
        """
        push_to = getattr(self._stream, "push_to", None)
        stop_pushing = getattr(self._stream, "stop_pushing", None)
        if push_to is None or stop_pushing is None:
            return False
        self._stop_pushing = stop_pushing
        push_to(self._on_pushed, self._on_pushed_end)
        return True

    async def read_loop(self) -> None:
        """The reader of a stream that cannot push: bytes to core events to waiters and
        buffers; never awaits user code.

        It ends once the connection is closed (close-ok read, or the broker's close
        answered): nothing after that needs reading, and leaving the block then need
        not wait for it.
        """
        stream = self._stream
        core = self._core
        while core.state is not ConnectionState.CLOSED:
            try:
                data = await stream.receive(READ_SIZE)
            except (
                anyio.EndOfStream,
                anyio.BrokenResourceError,
                anyio.ClosedResourceError,
                OSError,
            ) as error:
                self._events.on_eof(error)
                return
            try:
                self._handle(data, anyio.current_time())
            except ProtocolError as error:
                self._fail(error)
                return

    def _handle(self, data: bytes, now: float) -> None:
        """Bytes received: to the core, its events to their handlers, replies out.

        :raises ProtocolError: when the broker broke the protocol
        """
        if self._trace is not None:
            self._trace[1].feed(data)
        core = self._core
        dispatch = self._events.dispatch
        for event in core.receive(data, now):
            dispatch[type(event)](event)
        if core.has_data_to_send:
            self._port.flush()

    def _on_pushed(self, data: bytes) -> None:
        """The stream's callback for bytes that arrived (asyncio; see :meth:`push_if_possible`).

        It runs outside any task: sniffio is told which library runs it, so that what
        the handlers create (an ``anyio.Event``) finds its backend. A failure stops the
        pushing and ends the connection, as it would end the reader task.
        """
        token = sniffio.current_async_library_cvar.set("asyncio")
        try:
            self._handle(data, asyncio.get_running_loop().time())
        except ProtocolError as error:
            self._stop_pushing()
            self._fail(error)
        except Exception as error:  # a bug: fatal, as it is in any of the connection's tasks
            self._stop_pushing()
            self._events.die(error)
        finally:
            sniffio.current_async_library_cvar.reset(token)

    def _on_pushed_end(self, error: BaseException) -> None:
        """The stream's callback for its end (asyncio): what it means, as the reader's."""
        token = sniffio.current_async_library_cvar.set("asyncio")
        try:
            self._events.on_eof(error)
        finally:
            sniffio.current_async_library_cvar.reset(token)

    def _fail(self, error: ProtocolError) -> None:
        """The broker broke the protocol: queue our connection.close, and end.

        The writer sends the close (if it cannot go out at once) before the socket
        closes: the connection's exit waits for it, for at most ``FLUSH_TIMEOUT``.
        """
        self._core.fail(error)
        self._port.flush()
        self._events.die(violation_error(error, *self._address), keep_output=True)

    async def heartbeat_loop(self) -> None:
        """The heartbeat clock: send heartbeats; end the connection when the broker is silent.

        It starts with the other tasks and waits until the connection is open (the
        interval is negotiated then): starting it later would delay the first request.
        """
        try:
            await self._events.opened.wait()
        except Exception:
            return  # the connection did not open: whoever waited for it says why
        core = self._core
        stopping = self._stopping
        while True:
            deadline = core.heartbeat.next_deadline()
            if math.isinf(deadline):
                return
            with anyio.move_on_after(max(0.0, deadline - anyio.current_time())):
                await stopping.wait()
            if stopping.is_set():
                return
            action = core.poll_heartbeat(anyio.current_time())
            if action is HeartbeatAction.SEND:
                self._port.wake_writer()
            elif action is HeartbeatAction.TIMED_OUT:
                self._events.die(
                    exceptions.HeartbeatTimeoutError(
                        0,
                        f"no traffic from the broker for {2 * core.heartbeat_interval}s "
                        f"(heartbeat {core.heartbeat_interval}s)",
                    )
                )
                return


def _nothing() -> None:
    """Stop pushing, on a stream that never pushed."""
