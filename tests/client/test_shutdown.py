"""Leaving ``async with connect_amqp()``: promptly when cancelled from outside, with a
close handshake the connection's own tasks can still complete, bounded when the peer
does not answer; and a broker's ``connection.close`` answered with ``close-ok``.

The time bounds here are hang guards, not benchmarks: without the fix a cancelled
block waited the full close timeout (5 s) for a close-ok nobody could read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import anyio
import pytest
from pamqp import commands

import async_amqp
from async_amqp._core import server as sv
from async_amqp._core.wire import FrameReader, decode_method, encode_method
from tests.support import BrokerTarget

from .scripted import ScriptedPeer, scripted_broker

#: well under the 5 s a cancelled block used to take; a hang guard, not a benchmark
PROMPT = 2.0


async def hold(stack: AsyncExitStack, conn: async_amqp.AmqpProtocol, what: str, queue: str) -> None:
    """Open what the block holds when it is cancelled: a channel, a consumer, or nothing."""
    if what == "connection":
        return
    chan = await stack.enter_async_context(conn.new_channel())
    await chan.queue_declare(queue)
    if what == "consumer":
        await chan.confirm_select()
        await chan.publish(b"unacked", "", queue)
        listener = await stack.enter_async_context(chan.new_consumer(queue_name=queue))
        body, _envelope, _properties = await listener.__anext__()
        assert body == b"unacked"  # delivered, never acknowledged


@pytest.mark.parametrize("what", ["connection", "channel", "consumer"])
@pytest.mark.parametrize("how", ["move_on_after", "task_group"])
async def test_cancelled_block_exits_promptly(
    amqp_broker: BrokerTarget, how: str, what: str
) -> None:
    queue = amqp_broker.queue_name()
    cancelled_at = 0.0

    async def block(ready: anyio.Event) -> None:
        async with amqp_broker.connect() as conn, AsyncExitStack() as stack:
            await hold(stack, conn, what, queue)
            ready.set()
            await anyio.sleep_forever()

    with anyio.fail_after(30):  # the hang guard of the test itself
        if how == "move_on_after":
            ready = anyio.Event()
            with anyio.move_on_after(60) as scope:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(block, ready)
                    await ready.wait()
                    cancelled_at = anyio.current_time()
                    scope.deadline = cancelled_at  # the enclosing deadline passes now
            assert scope.cancelled_caught
        else:
            async with anyio.create_task_group() as tg:
                ready = anyio.Event()
                tg.start_soon(block, ready)
                await ready.wait()
                cancelled_at = anyio.current_time()
                tg.cancel_scope.cancel()
    elapsed = anyio.current_time() - cancelled_at
    assert elapsed < PROMPT, f"the cancelled block took {elapsed:.2f}s to exit"
    if what == "consumer":  # the broker requeued the unacknowledged message
        async with amqp_broker.connect() as conn, conn.new_channel() as chan:
            with anyio.fail_after(5):
                async with chan.new_consumer(queue_name=queue, no_ack=True) as listener:
                    body, envelope, _properties = await listener.__anext__()
            assert (body, envelope.is_redeliver) == (b"unacked", True)


@asynccontextmanager
async def recording_peer(*, answer_close: bool) -> AsyncIterator[tuple[int, list[str]]]:
    """A scripted broker that opens the connection, then records what the client closes.

    :param answer_close: send close-ok for the client's connection.close (else stay silent)
    """
    seen: list[str] = []

    async def script(peer: ScriptedPeer) -> None:
        await peer.handshake()
        closed = False
        while True:
            data = await peer.stream.receive()
            for event in peer.core.receive(data, anyio.current_time()):
                if isinstance(event, sv.ChannelClosedByClient):
                    seen.append("channel.close")  # the core queued its close-ok
                elif isinstance(event, sv.ConnectionClosedByClient):
                    seen.append(f"connection.close {event.reply_code}")
                    closed = True
                elif isinstance(event, sv.ChannelOpened):
                    seen.append("channel.open")
            if answer_close or not closed:
                await peer.flush()

    async with scripted_broker(script) as port:
        yield port, seen


@pytest.mark.parametrize("answer_close", [True, False], ids=["answering", "silent"])
async def test_cancelled_block_still_closes_the_connection(answer_close: bool) -> None:
    """The close handshake runs although the block was cancelled: connection.close is
    sent and its close-ok read; a peer that never answers holds the exit for at most
    the cancelled-close bound, not the full close timeout."""
    async with recording_peer(answer_close=answer_close) as (port, seen):
        with anyio.fail_after(30):
            with anyio.CancelScope() as scope:
                async with async_amqp.connect_amqp("127.0.0.1", port) as conn:
                    await conn.channel()
                    cancelled_at = anyio.current_time()
                    scope.cancel()
                    await anyio.sleep_forever()
            elapsed = anyio.current_time() - cancelled_at
        assert scope.cancelled_caught
        assert elapsed < PROMPT, f"the cancelled block took {elapsed:.2f}s to exit"
        assert seen == ["channel.open", "channel.close", "connection.close 200"]
        if answer_close:
            assert elapsed < async_amqp._timeouts.CANCELLED_CLOSE_TIMEOUT


async def test_server_close_is_answered_with_close_ok() -> None:
    confirmed = anyio.Event()

    async def close_from_server(peer: ScriptedPeer) -> None:
        await peer.handshake()
        await peer.until(sv.ChannelOpened)
        await peer.flush()
        peer.core.close_connection(320, "CONNECTION_FORCED - closed by the test")
        await peer.flush()
        await peer.until(sv.ConnectionCloseConfirmed)
        confirmed.set()

    async with scripted_broker(close_from_server) as port:
        with anyio.fail_after(10):
            with pytest.raises(async_amqp.ConnectionForcedError) as raised:
                async with async_amqp.connect_amqp("127.0.0.1", port) as conn:
                    await conn.channel()
                    await anyio.sleep_forever()
            assert raised.value.reply_code == 320
            with anyio.move_on_after(PROMPT):
                await confirmed.wait()
    assert confirmed.is_set(), "the client never answered connection.close with close-ok"


async def test_a_server_close_crossing_ours_is_answered_with_close_ok() -> None:
    """The broker closes the connection while the client waits for its own close-ok.

    While the client waits, its writer has stopped (it had sent everything); the
    close-ok answering the broker's close still goes out, and the block is left at
    once, without an error (the client was closing anyway) and without waiting for
    the close timeout.
    """
    answered = anyio.Event()

    async def cross_the_close(peer: ScriptedPeer) -> None:
        await peer.handshake()
        close = await peer.read_close()
        assert close is not None
        assert close.reply_code == 200
        forced = commands.Connection.Close(320, "CONNECTION_FORCED - crossing", 0, 0)
        await peer.stream.send(encode_method(0, forced))
        reader = FrameReader()
        while True:
            for _, _, payload in reader.feed(await peer.stream.receive()):
                if isinstance(decode_method(payload), commands.Connection.CloseOk):
                    answered.set()
                    return

    async with scripted_broker(cross_the_close, finish=True) as port:
        with anyio.fail_after(10):
            started = anyio.current_time()
            async with async_amqp.connect_amqp("127.0.0.1", port) as conn:
                pass
            elapsed = anyio.current_time() - started
    assert answered.is_set(), "the broker's connection.close was not answered with close-ok"
    assert not conn.is_open
    assert elapsed < PROMPT, f"leaving the block took {elapsed:.2f}s"
