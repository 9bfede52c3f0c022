"""A one-connection AMQP server whose behaviour a test scripts, for failure cases a
well-behaved broker never produces (silence, garbage, abrupt hang-ups)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress

import anyio
import anyio.abc

from async_amqp._core import server as sv

Script = Callable[["ScriptedPeer"], Awaitable[None]]


class ScriptedPeer:
    """The server side of one accepted connection, driven by a test script."""

    def __init__(self, stream: anyio.abc.ByteStream, heartbeat: int) -> None:
        self.stream = stream
        self.core = sv.ServerConnection(
            server_properties={"product": "scripted", "capabilities": {}},
            heartbeat=heartbeat,
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


@asynccontextmanager
async def scripted_broker(script: Script, heartbeat: int = 0) -> AsyncIterator[int]:
    """Serve one connection with *script*; yield the port."""
    listener = (await anyio.create_tcp_listener(local_host="127.0.0.1")).listeners[0]
    assert isinstance(listener, anyio.abc.SocketListener)  # typed as a plain Listener
    port = listener.extra(anyio.abc.SocketAttribute.local_port)

    async def serve_one() -> None:
        async with listener:
            stream = await listener.accept()
            async with stream:
                peer = ScriptedPeer(stream, heartbeat)
                with suppress(
                    anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError
                ):
                    await script(peer)

    async with anyio.create_task_group() as tg:
        tg.start_soon(serve_one)
        yield port
        tg.cancel_scope.cancel()
