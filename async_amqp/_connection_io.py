"""The reader, the writer and the heartbeat clock of one connection's stream.

The reader turns bytes into core events and hands each to the connection's
:class:`~._connection_events.ConnectionEvents`, synchronously; the writer drains
whatever the core has buffered in one ``send``; the heartbeat clock asks the core
when to send a heartbeat and when the broker has been silent too long. None of
them raises: what ends them is recorded through the connection's events as fatal.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import anyio
import anyio.abc

from . import exceptions
from ._connection_events import ConnectionEvents
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
        self._writer_idle = False
        #: what :meth:`send_now` could not send: the writer sends it first
        self._leftover = b""
        port.attach_sender(self.send_now)

    @property
    def sent_everything(self) -> bool:
        """True while the writer waits for work and nothing is left to send."""
        return self._writer_idle and not self._leftover and not self._core.has_data_to_send

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
            self._writer_idle = False
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

    async def read_loop(self) -> None:
        """The reader: bytes to core events to waiters and buffers; never awaits user code."""
        stream = self._stream
        core = self._core
        dispatch = self._events.dispatch
        while True:
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
            if self._trace is not None:
                self._trace[1].feed(data)
            try:
                events = core.receive(data, anyio.current_time())
            except ProtocolError as error:
                core.fail(error)
                self._port.wake_writer()
                await self._flush_quietly()
                self._events.die(violation_error(error, *self._address))
                return
            for event in events:
                dispatch[type(event)](event)
            if core.has_data_to_send:
                self._port.flush()

    async def _flush_quietly(self) -> None:
        """Let the writer send what is queued (a connection.close), for at most a second."""
        with anyio.move_on_after(1):
            while self._core.has_data_to_send:
                await self._port.wait_drained()

    async def heartbeat_loop(self) -> None:
        """The heartbeat clock: send heartbeats; end the connection when the broker is silent."""
        core = self._core
        while True:
            deadline = core.heartbeat.next_deadline()
            if math.isinf(deadline):
                return
            await anyio.sleep(max(0.0, deadline - anyio.current_time()))
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
