"""The cancellation race, forced: the reader hands a waiter its reply, and the caller is
cancelled before it runs again, so it never sees the reply.

The order is forced without relying on timing: a connection subclass cancels the
caller's scope from inside the reader, in the same synchronous step in which it
dispatches the awaited reply. Cancelling first and delivering second is the order in
which both backends raise ``Cancelled`` in the caller although its waiter holds the
reply (trio has already rescheduled the parked task with ``Cancelled``; asyncio has
cancelled the future the task waits on). Whatever such a reply changed on the broker
for us must be undone exactly as for a reply that arrives after the caller gave up:
the channel is closed, the consumer cancelled and its messages requeued, the fetched
message rejected back to its queue.

In the other order (reply first, then cancel) both backends let the call complete, so
the caller owns what it asked for; :func:`test_reply_then_cancel` checks that too.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest
from pamqp import commands
from pamqp.base import Frame

import async_amqp
from async_amqp._core import events as ev
from async_amqp._core.client import ChannelState
from tests.support import BrokerTarget


class CancelOnReply(async_amqp.AmqpProtocol):
    """A connection whose reader cancels an armed scope as it dispatches a chosen reply."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.armed: tuple[type[Frame], anyio.CancelScope, bool] | None = None
        self.fired = False
        #: set when the reader has dispatched a channel's end (its close-ok or close)
        self.channel_closed = anyio.Event()
        # the reader looks its handlers up in this table: wrap the two we time
        dispatch = self._events.dispatch
        on_reply, on_channel_closed = dispatch[ev.ReplyArrived], dispatch[ev.ChannelClosed]

        def reply_arrived(event: ev.ReplyArrived) -> None:
            self._dispatch_armed(type(event.method), lambda: on_reply(event))

        def channel_closed(event: ev.ChannelClosed) -> None:
            reply_class = commands.Channel.Close if event.by_server else commands.Channel.CloseOk
            self._dispatch_armed(reply_class, lambda: on_channel_closed(event))
            self.channel_closed.set()

        dispatch[ev.ReplyArrived] = reply_arrived
        dispatch[ev.ChannelClosed] = channel_closed

    def arm(self, reply_class: type[Frame], scope: anyio.CancelScope, cancel_first: bool) -> None:
        """Cancel *scope* when the next *reply_class* reply is dispatched (before or after)."""
        self.armed = (reply_class, scope, cancel_first)
        self.fired = False

    def _dispatch_armed(self, reply_class: type[Frame], dispatch: Callable[[], None]) -> None:
        armed = self.armed
        if armed is None or reply_class is not armed[0]:
            dispatch()
            return
        _reply_class, scope, cancel_first = armed
        self.armed = None
        self.fired = True
        if cancel_first:
            scope.cancel()
            dispatch()
        else:
            dispatch()
            scope.cancel()


def connect(amqp_broker: BrokerTarget) -> CancelOnReply:
    conn = amqp_broker.connect(protocol_factory=CancelOnReply)
    assert isinstance(conn, CancelOnReply)
    return conn


async def cancelled_at_reply(
    conn: CancelOnReply,
    reply_class: type[Frame],
    call: Callable[[], Awaitable[Any]],
    *,
    cancel_first: bool = True,
) -> tuple[bool, Any]:
    """Run *call*, cancelled by the reader exactly when it dispatches *reply_class*.

    :returns: whether the call was cancelled, and its result when it was not
    """
    result: Any = None
    with anyio.fail_after(10):  # a hang guard only
        with anyio.CancelScope() as scope:
            conn.arm(reply_class, scope, cancel_first)
            result = await call()
    assert conn.fired, f"no {reply_class.name} was dispatched"
    return scope.cancelled_caught, result


async def next_message(chan: async_amqp.Channel, queue: str) -> tuple[bytes, bool]:
    """Consume *queue* until a message arrives; return its body and redelivered flag."""
    with anyio.fail_after(5):
        async with chan.new_consumer(queue_name=queue, no_ack=True) as listener:
            body, envelope, _properties = await listener.__anext__()
            return body, envelope.is_redeliver


async def confirmed_queue(amqp_broker: BrokerTarget, chan: async_amqp.Channel, body: bytes) -> str:
    """Declare a queue holding one message (publisher confirms make sure it is enqueued)."""
    queue = amqp_broker.queue_name()
    await chan.queue_declare(queue)
    await chan.confirm_select()
    await chan.publish(body, "", queue)
    return queue


@pytest.mark.parametrize("how", ["channel", "new_channel"])
async def test_open_channel(amqp_broker: BrokerTarget, how: str) -> None:
    conn = connect(amqp_broker)
    async with conn:

        async def open_channel() -> None:
            if how == "channel":
                await conn.channel()
            else:
                async with conn.new_channel():
                    pytest.fail("the block must not run")

        cancelled, _ = await cancelled_at_reply(conn, commands.Channel.OpenOk, open_channel)
        assert cancelled
        (number,) = conn._core._channels
        # the open-ok reached the waiter: the channel must be closed all the same
        assert conn._core.channel_state(number) is not ChannelState.OPEN
        with anyio.fail_after(5):  # the close-ok of the close the client must have sent
            await conn.channel_closed.wait()
        assert not conn._core._channels
        async with conn.new_channel() as chan:
            assert chan.channel_id == number  # the number was given back
            await chan.basic_qos(prefetch_count=0)


@pytest.mark.parametrize("how", ["new_consumer", "basic_consume"])
async def test_consumer_start(amqp_broker: BrokerTarget, how: str) -> None:
    conn = connect(amqp_broker)
    async with conn, conn.new_channel() as chan:
        queue = await confirmed_queue(amqp_broker, chan, b"waiting")
        consumer = chan.new_consumer(queue_name=queue)
        called: list[bytes] = []

        async def start() -> None:
            if how == "new_consumer":
                async with consumer:
                    pytest.fail("the consumer must not start")
            else:
                await chan.basic_consume(lambda _c, body, _e, _p: called.append(body), queue)

        cancelled, _ = await cancelled_at_reply(conn, commands.Basic.ConsumeOk, start)
        assert cancelled
        if how == "new_consumer":
            assert not consumer.active
        # the message the broker delivered to the cancelled consumer goes back to the queue
        assert await next_message(chan, queue) == (b"waiting", True)
        assert (await chan.queue_declare(queue, passive=True) or {})["consumer_count"] == 0
        assert called == []


async def test_basic_get(amqp_broker: BrokerTarget) -> None:
    conn = connect(amqp_broker)
    async with conn, conn.new_channel() as chan:
        queue = await confirmed_queue(amqp_broker, chan, b"fetched")
        cancelled, _ = await cancelled_at_reply(
            conn, commands.Basic.GetOk, lambda: chan.basic_get(queue)
        )
        assert cancelled
        # the fetched message is rejected back to the queue, not held unacknowledged
        assert await next_message(chan, queue) == (b"fetched", True)


async def test_basic_get_no_ack_reports_the_loss(
    amqp_broker: BrokerTarget, caplog: pytest.LogCaptureFixture
) -> None:
    conn = connect(amqp_broker)
    async with conn, conn.new_channel() as chan:
        queue = await confirmed_queue(amqp_broker, chan, b"gone")
        with caplog.at_level(logging.WARNING, logger="async_amqp"):
            cancelled, _ = await cancelled_at_reply(
                conn, commands.Basic.GetOk, lambda: chan.basic_get(queue, no_ack=True)
            )
        assert cancelled
        assert "cancelled basic_get(no_ack=True)" in caplog.text
        await chan.basic_qos(prefetch_count=0)
        assert chan.is_open


@pytest.mark.parametrize(
    "operation",
    [
        "queue_declare",
        "exchange_declare",
        "queue_purge",
        "basic_qos",
        "basic_recover",
        "confirm_select",
        "tx_select",
        "flow",
        "basic_cancel",
    ],
)
async def test_other_requests_keep_the_channel_in_step(
    amqp_broker: BrokerTarget, operation: str
) -> None:
    """Requests with nothing to undo: the channel stays usable and the next call gets its
    own reply (the cancelled caller's reply was consumed, not left for the next one)."""
    queue = amqp_broker.queue_name()
    exchange = amqp_broker.exchange_name()
    conn = connect(amqp_broker)
    async with conn, conn.new_channel() as chan:
        await chan.queue_declare(queue)
        consumer = chan.new_consumer(queue_name=queue)
        calls: dict[str, tuple[type[Frame], Callable[[], Awaitable[Any]]]] = {
            "queue_declare": (commands.Queue.DeclareOk, lambda: chan.queue_declare(queue)),
            "exchange_declare": (
                commands.Exchange.DeclareOk,
                lambda: chan.exchange_declare(exchange, "fanout"),
            ),
            "queue_purge": (commands.Queue.PurgeOk, lambda: chan.queue_purge(queue)),
            "basic_qos": (commands.Basic.QosOk, lambda: chan.basic_qos(prefetch_count=3)),
            "basic_recover": (commands.Basic.RecoverOk, chan.basic_recover),
            "confirm_select": (commands.Confirm.SelectOk, chan.confirm_select),
            "tx_select": (commands.Tx.SelectOk, chan.tx_select),
            "flow": (commands.Channel.FlowOk, lambda: chan.flow(True)),
            "basic_cancel": (
                commands.Basic.CancelOk,
                lambda: chan.basic_cancel(consumer.consumer_tag),
            ),
        }
        reply_class, call = calls[operation]
        async with consumer:
            cancelled, _ = await cancelled_at_reply(conn, reply_class, call)
            assert cancelled
            declared = await chan.queue_declare("", exclusive=True)
            assert (declared or {})["queue"].startswith("amq.gen-")
            assert chan.is_open
            # a cancelled basic_cancel still cancelled the consumer; nothing else touched it
            assert consumer.active is (operation != "basic_cancel")


async def test_channel_close(amqp_broker: BrokerTarget) -> None:
    conn = connect(amqp_broker)
    async with conn:
        chan = await conn.channel()
        cancelled, _ = await cancelled_at_reply(conn, commands.Channel.CloseOk, chan.close)
        assert cancelled
        assert not chan.is_open
        async with conn.new_channel() as other:
            await other.basic_qos(prefetch_count=0)


@pytest.mark.parametrize("request_kind", ["open_channel", "consume", "get"])
async def test_reply_then_cancel(amqp_broker: BrokerTarget, request_kind: str) -> None:
    """Reply first, cancel second: the call completes (both backends let a woken task
    finish its wait), and the caller owns the result; nothing is undone behind its back."""
    conn = connect(amqp_broker)
    async with conn, conn.new_channel() as chan:
        queue = await confirmed_queue(amqp_broker, chan, b"mine")
        if request_kind == "open_channel":
            cancelled, opened = await cancelled_at_reply(
                conn, commands.Channel.OpenOk, conn.channel, cancel_first=False
            )
            assert not cancelled
            assert opened.is_open
            await opened.basic_qos(prefetch_count=0)
            await opened.close()
        elif request_kind == "consume":
            consumer = chan.new_consumer(queue_name=queue)
            cancelled, _ = await cancelled_at_reply(
                conn, commands.Basic.ConsumeOk, consumer.__aenter__, cancel_first=False
            )
            assert not cancelled
            try:
                assert consumer.active
                body, _envelope, _properties = await consumer.__anext__()
                assert body == b"mine"
            finally:
                await consumer.__aexit__(None, None, None)
        else:
            cancelled, message = await cancelled_at_reply(
                conn, commands.Basic.GetOk, lambda: chan.basic_get(queue), cancel_first=False
            )
            assert not cancelled
            assert message["message"] == b"mine"
            await chan.basic_ack(message["delivery_tag"])
            with pytest.raises(async_amqp.EmptyQueueError):
                await chan.basic_get(queue)
