"""The plain-TCP streams (asyncio transport, trio socket) behave like anyio's streams."""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable

import anyio
import anyio.abc
import anyio.lowlevel
import pytest

from async_amqp._transport import (
    AsyncioTransportStream,
    TrioSocketStream,
    connect_tcp_fast,
    connect_trio_address,
    plain_tcp_stream,
)
from tests.support import BrokerTarget

STREAM_CLASSES = {"asyncio": AsyncioTransportStream, "trio": TrioSocketStream}


async def test_plain_connections_use_the_backends_stream(
    amqp_broker: BrokerTarget, anyio_backend: str
) -> None:
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.basic_qos(prefetch_count=1)
        assert type(conn._stream) is STREAM_CLASSES[anyio_backend]
        raw = conn._stream.extra(anyio.abc.SocketAttribute.raw_socket)
        assert raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)  # no Nagle delay


async def _open_plain(port: int, host: str = "127.0.0.1") -> anyio.abc.ByteStream:
    """The stream ``connect_amqp`` would use for plain TCP on this backend."""
    stream = await connect_tcp_fast(host, port) or await connect_trio_address(host, port)
    if stream is None:
        stream = plain_tcp_stream(await anyio.connect_tcp(host, port))
    return stream


async def test_a_host_name_on_trio_wraps_anyios_stream(anyio_backend: str) -> None:
    """Only an address skips anyio's connect; a name is resolved and raced by anyio."""
    listener, port = await _listen()
    async with listener:
        assert await connect_trio_address("localhost", port) is None
        stream = await _open_plain(port, "localhost")
        assert type(stream) is STREAM_CLASSES[anyio_backend]
        async with await listener.accept() as peer:
            await peer.send(b"named")
            with anyio.fail_after(5):
                assert await stream.receive() == b"named"
            await stream.send(b"back")
            assert await peer.receive() == b"back"
        address = stream.extra(anyio.abc.SocketAttribute.remote_address)
        assert address[1] == port
        await stream.aclose()


async def _listen() -> tuple[anyio.abc.SocketListener, int]:
    listener = (await anyio.create_tcp_listener(local_host="127.0.0.1")).listeners[0]
    assert isinstance(listener, anyio.abc.SocketListener)
    return listener, listener.extra(anyio.abc.SocketAttribute.local_port)


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
        stream = await _open_plain(port)
        assert type(stream) is STREAM_CLASSES[anyio_backend]
        assert stream.extra(anyio.abc.SocketAttribute.remote_address)[1] == port
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


async def test_large_sends_wait_for_a_slow_reader(anyio_backend: str) -> None:
    """A send bigger than the kernel's buffers completes once the peer has read it all."""
    listener, port = await _listen()
    payload = bytes(range(256)) * (16 * 1024)  # 4 MiB
    received = bytearray()
    async with listener, anyio.create_task_group() as tg:

        async def serve() -> None:
            async with await listener.accept() as peer:
                await anyio.sleep(0.05)  # let the sender fill the buffers first
                while len(received) < 2 * len(payload):
                    received.extend(await peer.receive(65536))
                    await anyio.lowlevel.checkpoint()

        tg.start_soon(serve)
        stream = await _open_plain(port)
        with anyio.fail_after(10):
            await stream.send(payload)
            await stream.send(payload)
        await stream.aclose()
    assert bytes(received) == payload + payload


async def test_close_wakes_a_waiting_receive(anyio_backend: str) -> None:
    listener, port = await _listen()
    async with listener:
        stream = await _open_plain(port)
        async with await listener.accept():
            outcome: list[BaseException] = []
            async with anyio.create_task_group() as tg:

                async def receive() -> None:
                    try:
                        await stream.receive()
                    except Exception as error:
                        outcome.append(error)

                tg.start_soon(receive)
                await anyio.sleep(0.05)
                await stream.aclose()
            assert len(outcome) == 1
            assert isinstance(outcome[0], anyio.ClosedResourceError)
            with pytest.raises(anyio.ClosedResourceError):
                await stream.receive()


async def test_a_waiting_receive_is_cancellable(anyio_backend: str) -> None:
    listener, port = await _listen()
    async with listener:
        stream = await _open_plain(port)
        async with await listener.accept() as peer:
            with anyio.move_on_after(0.05) as scope:
                await stream.receive()
            assert scope.cancelled_caught
            await peer.send(b"still works")
            with anyio.fail_after(5):
                assert await stream.receive() == b"still works"
        await stream.aclose()


async def test_a_reset_connection_is_broken(anyio_backend: str) -> None:
    listener, port = await _listen()
    async with listener:
        stream = await _open_plain(port)
        peer = await listener.accept()
        raw = peer.extra(anyio.abc.SocketAttribute.raw_socket)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await peer.aclose()  # linger 0: the peer resets the connection
        with anyio.fail_after(5), pytest.raises(anyio.BrokenResourceError):
            for _ in range(100):  # the reset may take a send or two to be noticed
                await stream.send(b"x" * 1024)
                await anyio.sleep(0.01)
        await stream.aclose()


async def test_what_a_waiting_caller_cannot_send_is_left_to_the_writer(
    amqp_broker: BrokerTarget, anyio_backend: str
) -> None:
    """A confirm-mode publish sends its own frames; a small send buffer takes only part.

    The kernel takes what fits of the 2 MiB message at once, the writer sends the rest,
    and the frames of a request queued behind it follow in order.
    """
    queue = amqp_broker.queue_name()
    body = bytes(range(256)) * (8 * 1024)
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        assert conn._stream is not None
        raw = conn._stream.extra(anyio.abc.SocketAttribute.raw_socket)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        await chan.queue_declare(queue)
        await chan.confirm_select()
        with anyio.fail_after(20):
            await chan.publish(body, "", queue)
            declared = await chan.queue_declare(queue, passive=True)
            assert declared is not None
            assert declared["message_count"] == 1
            got = await chan.basic_get(queue, no_ack=True)
        assert got is not None
        assert got["message"] == body


async def test_a_bug_in_an_event_handler_ends_the_connection_with_it(
    amqp_broker: BrokerTarget,
) -> None:
    # On asyncio the reply is handled in the transport's callback, outside any task:
    # the error must still reach the connection (not the event loop's log) and end it.
    from async_amqp import _core

    def broken(event: object) -> None:
        raise RuntimeError("a handler's bug")

    with anyio.fail_after(10), pytest.raises(RuntimeError, match="a handler's bug"):
        async with amqp_broker.connect() as conn:
            conn._events.dispatch[_core.events.ReplyArrived] = broken
            async with conn.new_channel():
                pytest.fail("the channel's open-ok never reached it")
    assert not conn.is_open


async def test_bytes_arriving_while_the_reader_waits_are_handled_in_order(
    amqp_broker: BrokerTarget,
) -> None:
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare(queue, exclusive=True)
        for index in range(200):
            await chan.publish(str(index).encode(), "", queue)
        received = []
        async with chan.new_consumer(queue_name=queue, no_ack=True) as listener:
            async for body, _envelope, _properties in listener:
                received.append(body)
                if len(received) == 200:
                    break
        assert received == [str(index).encode() for index in range(200)]


async def _until(condition: Callable[[], bool]) -> None:
    """Poll the stream's state (its callbacks set no event a test could wait on)."""
    for _ in range(1000):
        if condition():
            return
        await anyio.sleep(0.005)
    pytest.fail("the condition did not become true within 5 s")


async def _asyncio_stream(port: int) -> AsyncioTransportStream:
    stream = await _open_plain(port)
    assert isinstance(stream, AsyncioTransportStream)
    return stream


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_pushed_bytes_arrive_in_order_and_the_end_once(anyio_backend: str) -> None:
    """asyncio's stream pushes: what came before ``push_to`` first, then each arrival,
    then the peer's end, once, as the error ``receive`` would raise."""
    listener, port = await _listen()
    async with listener:
        stream = await _asyncio_stream(port)
        got: list[bytes] = []
        ends: list[BaseException] = []
        async with await listener.accept() as peer:
            await peer.send(b"early")
            await _until(lambda: bool(stream._protocol.chunks))
            stream.push_to(got.append, ends.append)
            assert got == [b"early"]
            await peer.send(b"late")
            await _until(lambda: len(b"".join(got)) == 9)
        await _until(lambda: bool(ends))
        await stream.aclose()
        await anyio.sleep(0.05)  # the transport's connection_lost comes a turn later
    assert b"".join(got) == b"earlylate"
    assert len(ends) == 1
    assert isinstance(ends[0], anyio.EndOfStream)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_pushing_reports_a_reset_an_own_close_and_an_end_before_it_began(
    anyio_backend: str,
) -> None:
    listener, port = await _listen()
    async with listener:
        reset_ends: list[BaseException] = []
        reset = await _asyncio_stream(port)
        reset.push_to(lambda data: None, reset_ends.append)
        peer = await listener.accept()
        raw = peer.extra(anyio.abc.SocketAttribute.raw_socket)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await peer.aclose()
        await _until(lambda: bool(reset_ends))
        assert isinstance(reset_ends[0], anyio.BrokenResourceError)
        await reset.aclose()

        own_ends: list[BaseException] = []
        own = await _asyncio_stream(port)
        async with await listener.accept():
            own.push_to(lambda data: None, own_ends.append)
            await own.aclose()
            await _until(lambda: bool(own_ends))
        assert isinstance(own_ends[0], anyio.ClosedResourceError)

        late_ends: list[BaseException] = []
        late = await _asyncio_stream(port)
        await (await listener.accept()).aclose()
        await _until(lambda: late._protocol.eof or late._protocol.closed)
        late.push_to(lambda data: None, late_ends.append)
        assert len(late_ends) == 1
        assert isinstance(late_ends[0], anyio.EndOfStream)
        await late.aclose()
    await anyio.sleep(0.05)
    assert [len(reset_ends), len(own_ends), len(late_ends)] == [1, 1, 1]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_stop_pushing_stops_bytes_and_the_end(anyio_backend: str) -> None:
    listener, port = await _listen()
    async with listener:
        stream = await _asyncio_stream(port)
        got: list[bytes] = []
        ends: list[BaseException] = []
        async with await listener.accept() as peer:
            stream.push_to(got.append, ends.append)
            await peer.send(b"one")
            await _until(lambda: got == [b"one"])
            stream.stop_pushing()
            await peer.send(b"two")
            await _until(lambda: bool(stream._protocol.chunks))
        await _until(lambda: stream._protocol.eof or stream._protocol.closed)
        await stream.aclose()
    assert got == [b"one"]
    assert ends == []
