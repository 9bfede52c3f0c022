"""A one-connection AMQP server whose behaviour a test scripts, for failure cases a
well-behaved broker never produces (silence, garbage, abrupt hang-ups)."""

from __future__ import annotations

import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress

import anyio
import anyio.abc
from pamqp import commands

from async_amqp._core import server as sv
from async_amqp._core.wire import FrameReader, decode_method

Script = Callable[["ScriptedPeer"], Awaitable[None]]


class ScriptedPeer:
    """The server side of one accepted connection, driven by a test script."""

    def __init__(self, stream: anyio.abc.ByteStream, heartbeat: int, frame_max: int) -> None:
        self.stream = stream
        self.core = sv.ServerConnection(
            server_properties={"product": "scripted", "capabilities": {}},
            heartbeat=heartbeat,
            frame_max=frame_max,
        )
        self.events: list[sv.ServerEvent] = []

    async def flush(self) -> None:
        data = self.core.data_to_send(anyio.current_time())
        if data:
            await self.stream.send(data)

    async def receive_events(self) -> list[sv.ServerEvent]:
        """Read once, feed the core, send what it answered (open-ok, close-ok, ...)."""
        data = await self.stream.receive()
        events = self.core.receive(data, anyio.current_time())
        self.events += events
        await self.flush()
        return events

    async def until(self, event_type: type[sv.ServerEvent]) -> sv.ServerEvent:
        while True:
            for event in await self.receive_events():
                if isinstance(event, event_type):
                    return event

    async def handshake(self) -> None:
        await self.until(sv.LoginRequested)
        self.core.accept_login()
        await self.flush()
        await self.until(sv.OpenRequested)
        self.core.accept_open()
        await self.flush()

    async def read_close(self) -> commands.Connection.Close | None:
        """Read raw frames until the client's connection.close; None if it hung up first."""
        reader = FrameReader()
        while True:
            try:
                data = await self.stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                return None
            for frame_type, channel_id, payload in reader.feed(data):
                if frame_type == 1 and channel_id == 0:
                    method = decode_method(payload)
                    if isinstance(method, commands.Connection.Close):
                        return method

    async def reset(self) -> None:
        """Drop the connection with a TCP reset (a network cut), not an orderly close."""
        raw = self.stream.extra(anyio.abc.SocketAttribute.raw_socket)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await self.stream.aclose()

    async def answer_consume(self) -> tuple[int, str]:
        """Wait for basic.consume and confirm it; return its channel and consumer tag."""
        while True:
            event = await self.until(sv.MethodReceived)
            assert isinstance(event, sv.MethodReceived)
            if isinstance(event.method, commands.Basic.Consume):
                tag = event.method.consumer_tag or "ctag"
                self.core.send_method(event.channel_id, commands.Basic.ConsumeOk(tag))
                await self.flush()
                return event.channel_id, tag


@asynccontextmanager
async def scripted_broker(
    script: Script, heartbeat: int = 0, frame_max: int = 131072, *, finish: bool = False
) -> AsyncIterator[int]:
    """Serve one connection with *script*; yield the port.

    :param heartbeat: the heartbeat the peer offers in connection.tune
    :param frame_max: the frame_max the peer offers in connection.tune
    :param finish: on exit, let the script finish (within 5 s) before it is cancelled:
        for a script that reads what the client sent last (its connection.close,
        on the wire before the client's error is raised, but not yet read)
    """
    listener = (await anyio.create_tcp_listener(local_host="127.0.0.1")).listeners[0]
    assert isinstance(listener, anyio.abc.SocketListener)  # typed as a plain Listener
    port = listener.extra(anyio.abc.SocketAttribute.local_port)

    finished = anyio.Event()

    async def serve_one() -> None:
        try:
            async with listener:
                stream = await listener.accept()
                async with stream:
                    peer = ScriptedPeer(stream, heartbeat, frame_max)
                    with suppress(
                        anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError
                    ):
                        await script(peer)
        finally:
            finished.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(serve_one)
        yield port
        if finish:
            with anyio.move_on_after(5):
                await finished.wait()
        tg.cancel_scope.cancel()
