"""Cancellation is normal in anyio: every awaiting call can be cancelled before its
request is sent and while its reply is pending, and the next call on the same
channel still works (the late reply is consumed and, where it changed broker state
on our behalf, undone)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any
from unittest.mock import patch

import anyio
import anyio.lowlevel
import pytest

import async_amqp
from async_amqp._core.client import ChannelState
from async_amqp._port import ConnectionPort
from tests.support import BrokerTarget


def pending_requests(chan: async_amqp.Channel) -> int:
    """How many synchronous requests of *chan* await their reply (test-only peek)."""
    state = chan._core._channels.get(chan.channel_id)
    return len(state.replies) if state is not None else 0


def unconfirmed(chan: async_amqp.Channel) -> int:
    """How many publishes of *chan* await their confirm (test-only peek)."""
    state = chan._core._channels.get(chan.channel_id)
    return len(state.confirms) if state is not None and state.confirms else 0


async def cancel_while_pending(
    chan: async_amqp.Channel | None,
    call: Callable[[], Awaitable[Any]],
    probe: Callable[[], int] | None = None,
) -> None:
    """Start *call*; cancel it once its request is sent (``probe`` changed), before any reply.

    A caller about to wait sends its request itself (``ConnectionPort.flush``): the
    cancel comes right after that, in the same scheduling step, so the reply (a
    network round trip away) cannot have been read yet. Polling between steps would
    race: the reply may be read in the very next step, before the poll sees the
    request pending.
    """
    if probe is None:
        assert chan is not None
        probe = lambda: pending_requests(chan)  # noqa: E731
    scope = anyio.CancelScope()
    completed = False
    before = probe()
    flush = ConnectionPort.flush

    def flush_then_cancel(port: ConnectionPort) -> None:
        flush(port)
        if probe() != before:
            scope.cancel()

    async def run() -> None:
        nonlocal completed
        with scope, patch.object(ConnectionPort, "flush", flush_then_cancel):
            await call()
            completed = True

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        while probe() == before and not scope.cancel_called:
            await anyio.lowlevel.checkpoint()
        scope.cancel()
    assert scope.cancelled_caught, "the call finished before it could be cancelled"
    assert not completed


async def next_message(chan: async_amqp.Channel, queue: str) -> bytes:
    """Consume *queue* until a message arrives (requeues reach RabbitMQ's queue late)."""
    with anyio.fail_after(10):
        async with chan.new_consumer(queue_name=queue, no_ack=True) as listener:
            body, _envelope, _properties = await listener.__anext__()
            return body


async def cancelled_before_sending(call: Callable[[], Awaitable[Any]]) -> None:
    with anyio.CancelScope() as scope:
        scope.cancel()
        await call()
        pytest.fail("a cancelled call must not complete")
    assert scope.cancelled_caught


async def test_queue_declare(amqp_broker: BrokerTarget) -> None:
    first, second = amqp_broker.queue_name("first"), amqp_broker.queue_name("second")
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await cancelled_before_sending(lambda: chan.queue_declare(first))
        await cancel_while_pending(chan, lambda: chan.queue_declare(second))
        # the next call gets its own reply, not the late one
        assert (await chan.queue_declare("", exclusive=True) or {})["queue"].startswith("amq.gen-")
        assert (await chan.queue_declare(second, passive=True) or {})["queue"] == second
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        with pytest.raises(async_amqp.NotFoundError):
            await chan.queue_declare(first, passive=True)  # never sent


@pytest.mark.parametrize(
    "operation",
    [
        "exchange_declare",
        "exchange_bind",
        "exchange_unbind",
        "exchange_delete",
        "queue_bind",
        "queue_unbind",
        "queue_purge",
        "queue_delete",
        "basic_qos",
        "basic_recover",
        "flow",
        "confirm_select",
        "tx_select",
    ],
)
async def test_simple_requests(amqp_broker: BrokerTarget, operation: str) -> None:
    queue = amqp_broker.queue_name()
    exchange = amqp_broker.exchange_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare(queue)
        await chan.exchange_declare(exchange, "fanout")
        calls: dict[str, Callable[[], Awaitable[Any]]] = {
            "exchange_declare": lambda: chan.exchange_declare(exchange, "fanout"),
            "exchange_bind": lambda: chan.exchange_bind(exchange, "amq.fanout"),
            "exchange_unbind": lambda: chan.exchange_unbind(exchange, "amq.fanout"),
            "exchange_delete": lambda: chan.exchange_delete(exchange),
            "queue_bind": lambda: chan.queue_bind(queue, exchange),
            "queue_unbind": lambda: chan.queue_unbind(queue, exchange),
            "queue_purge": lambda: chan.queue_purge(queue),
            "queue_delete": lambda: chan.queue_delete(queue),
            "basic_qos": lambda: chan.basic_qos(prefetch_count=5),
            "basic_recover": lambda: chan.basic_recover(),
            "flow": lambda: chan.flow(True),
            "confirm_select": lambda: chan.confirm_select(),
            "tx_select": lambda: chan.tx_select(),
        }
        await cancelled_before_sending(calls[operation])
        await cancel_while_pending(chan, calls[operation])
        result = await chan.queue_declare("", exclusive=True)
        assert result is not None
        assert result["queue"].startswith("amq.gen-")
        assert chan.is_open


async def test_open_channel(amqp_broker: BrokerTarget) -> None:
    async with amqp_broker.connect() as conn:
        await cancelled_before_sending(conn.channel)
        await cancel_while_pending(None, conn.channel, probe=lambda: len(conn._core._channels))
        async with conn.new_channel() as chan:
            # the abandoned channel is closed once its open-ok arrives (its close-ok may
            # still be on its way: RabbitMQ's channels answer independently)
            assert (await chan.queue_declare("", exclusive=True) or {})["queue"]
            others = [number for number in conn._core._channels if number != chan.channel_id]
            assert all(conn._core.channel_state(n) is not ChannelState.OPEN for n in others)


async def test_consumer_start(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare(queue)

        async def start() -> None:
            async with chan.new_consumer(queue_name=queue):
                pytest.fail("the consumer must not start")

        await cancelled_before_sending(start)
        await cancel_while_pending(chan, start)
        await chan.basic_qos(prefetch_count=0)  # after this, the late consume-ok was undone
        await chan.confirm_select()
        await chan.publish(b"for nobody", "", queue)
        # if the orphaned consumer got it, it was rejected back: either way it is not lost
        assert await next_message(chan, queue) == b"for nobody"
        assert (await chan.queue_declare(queue, passive=True) or {})["consumer_count"] == 0


async def test_basic_get(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare(queue)
        await chan.confirm_select()
        await chan.publish(b"kept", "", queue)
        await cancelled_before_sending(lambda: chan.basic_get(queue))
        await cancel_while_pending(chan, lambda: chan.basic_get(queue))
        # the late get-ok's message is rejected back to the queue, not lost
        assert await next_message(chan, queue) == b"kept"


async def test_confirmed_publish(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare(queue)
        await chan.confirm_select()
        await cancelled_before_sending(lambda: chan.publish(b"never", "", queue))
        await cancel_while_pending(
            chan,
            lambda: chan.publish(b"sent, wait abandoned", "", queue),
            probe=lambda: unconfirmed(chan),
        )
        await chan.publish(b"confirmed", "", queue)
        bodies = [(await chan.basic_get(queue, no_ack=True))["message"] for _ in range(2)]
        assert bodies == [b"sent, wait abandoned", b"confirmed"]


async def test_consumer_iteration_and_returns_iteration(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare(queue)
        async with chan.new_consumer(queue_name=queue, no_ack=True) as listener:
            with anyio.move_on_after(0.05):
                await listener.__anext__()
            with anyio.move_on_after(0.05):
                await chan.__anext__()
            await chan.publish(b"after", "", queue)
            body, _, _ = await listener.__anext__()
            assert body == b"after"
            await chan.publish(b"returned", "", amqp_broker.queue_name("nowhere"), mandatory=True)
            returned, envelope, _ = await chan.__anext__()
            assert (returned, envelope.reply_code) == (b"returned", 312)


async def test_basic_cancel_and_close(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn:
        chan = await conn.channel()
        await chan.queue_declare(queue)
        async with chan.new_consumer(queue_name=queue) as listener:
            await cancel_while_pending(chan, lambda: chan.basic_cancel(listener.consumer_tag))
            await chan.basic_qos(prefetch_count=0)
            assert not listener.active
        await cancel_while_pending(chan, chan.close)
        async with conn.new_channel() as other:
            await other.basic_qos(prefetch_count=0)
            assert not chan.is_open


async def test_acks_cancelled_before_sending_send_nothing(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare(queue)
        await chan.confirm_select()
        await chan.publish(b"m", "", queue)
        message = await chan.basic_get(queue)
        settles: tuple[Callable[[int], Awaitable[None]], ...] = (
            chan.basic_ack,
            chan.basic_nack,
            chan.basic_reject,
        )
        for settle in settles:
            await cancelled_before_sending(functools.partial(settle, message["delivery_tag"]))
        await chan.basic_ack(message["delivery_tag"])
        await chan.basic_qos(prefetch_count=0)  # a double ack would have closed the channel
        assert chan.is_open


async def test_connect_cancelled_during_handshake(amqp_broker: BrokerTarget) -> None:
    with anyio.move_on_after(0) as scope:
        async with amqp_broker.connect():
            pytest.fail("the connection must not open")
    assert scope.cancelled_caught
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.basic_qos(prefetch_count=0)
