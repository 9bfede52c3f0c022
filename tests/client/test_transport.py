"""The asyncio transport stream (plain TCP on asyncio) behaves like anyio's streams."""

from __future__ import annotations

import anyio
import anyio.abc
import pytest

from async_amqp._transport import AsyncioTransportStream, connect_tcp_fast
from tests.support import BrokerTarget


async def test_plain_connections_use_it_on_asyncio_only(
    amqp_broker: BrokerTarget, anyio_backend: str
) -> None:
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.basic_qos(prefetch_count=1)
        uses_it = isinstance(conn._stream, AsyncioTransportStream)
        assert uses_it is (anyio_backend == "asyncio")


async def _serve_once(payload: bytes, listener: anyio.abc.SocketListener) -> bytes:
    received = b""
    async with await listener.accept() as peer:
        await peer.send(payload)
        try:
            while True:
                received += await peer.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            pass
    return received


async def test_receive_send_and_end_of_stream(anyio_backend: str) -> None:
    listener = (await anyio.create_tcp_listener(local_host="127.0.0.1")).listeners[0]
    assert isinstance(listener, anyio.abc.SocketListener)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    got: list[bytes] = []
    async with listener, anyio.create_task_group() as tg:

        async def serve() -> None:
            got.append(await _serve_once(b"abcdef", listener))

        tg.start_soon(serve)
        stream = await connect_tcp_fast("127.0.0.1", port)
        if anyio_backend != "asyncio":
            assert stream is None
            stream = await anyio.connect_tcp("127.0.0.1", port)
        assert stream is not None
        with anyio.fail_after(5):
            first = await stream.receive(4)
            rest = b""
            while len(first + rest) < 6:
                rest += await stream.receive()
            assert first + rest == b"abcdef"
            assert len(first) <= 4
            await stream.send(b"hello")
            await stream.send_eof()
            with pytest.raises(anyio.EndOfStream):
                await stream.receive()
        await stream.aclose()
        with pytest.raises(anyio.ClosedResourceError):
            await stream.send(b"late")
    assert got == [b"hello"]
