"""Quorum queues on both brokers, as a 0-9-1 client sees them on RabbitMQ 3.10.

Quorum queues apply acks, rejects and dead-lettering asynchronously on RabbitMQ,
so these tests use only barriers that hold there: publisher confirms before a
count or a get, a basic.get after a reject on the same channel (the queue sees
them in order), and consumers that wait for dead-lettered messages. Message
counts are never read right after a reject (RabbitMQ may not have applied it).
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest

import async_amqp
from tests.support import BrokerTarget

QUORUM = {"x-queue-type": "quorum"}


async def declare_quorum(chan: async_amqp.Channel, queue: str, **arguments: Any) -> None:
    """Declare a durable quorum queue with extra arguments."""
    await chan.queue_declare(queue, durable=True, arguments={**QUORUM, **arguments})


async def get(chan: async_amqp.Channel, queue: str) -> tuple[bytes, int | None, bool, int]:
    """basic.get: (body, x-delivery-count, redelivered, delivery tag)."""
    message = await chan.basic_get(queue)
    headers = message["properties"].headers or {}
    return (
        message["message"],
        headers.get("x-delivery-count"),
        message["redelivered"],
        message["delivery_tag"],
    )


async def first_message(
    chan: async_amqp.Channel, queue: str
) -> tuple[bytes, async_amqp.Properties]:
    """Wait for one message on *queue* (no_ack) and return its body and properties."""
    with anyio.fail_after(10):
        async with chan.new_consumer(queue_name=queue, no_ack=True) as listener:
            body, _envelope, properties = await listener.__anext__()
    return body, properties


TEXTS = {
    "t": " of queue type rabbit_quorum_queue",
    "none": "received none but current is the value",
    "ineq": "inequivalent arg",
}


def what(queue: str) -> str:
    return f"queue '{queue}' in vhost '/'"


DECLARE_REFUSALS: list[tuple[dict[str, Any], dict[str, Any], str]] = [
    ({"durable": False}, {}, "invalid property 'non-durable' for {q}"),
    ({"exclusive": True}, {}, "invalid property 'exclusive-owner' for {q}"),
    ({"auto_delete": True}, {}, "invalid property 'auto-delete' for {q}"),
    ({"exclusive": True, "auto_delete": True}, {}, "invalid property 'auto-delete' for {q}"),
    ({"durable": False, "exclusive": True}, {}, "invalid property 'exclusive-owner' for {q}"),
    (
        {"durable": False},
        {"x-max-priority": 5},
        "invalid arg 'x-max-priority' for {q}{t}",
    ),
    ({}, {"x-queue-mode": "lazy"}, "invalid arg 'x-queue-mode' for {q}{t}"),
    ({}, {"x-max-age": "1D"}, "invalid arg 'x-max-age' for {q}{t}"),
    (
        {},
        {"x-stream-max-segment-size-bytes": 1000},
        "invalid arg 'x-stream-max-segment-size-bytes' for {q}{t}",
    ),
    ({}, {"x-queue-version": 2}, "invalid arg 'x-queue-version' for {q}{t}"),
    (
        {},
        {"x-max-priority": 5, "x-overflow": "nope"},
        "invalid arg 'x-overflow' for {q}: invalid_overflow",
    ),
    (
        {},
        {"x-dead-letter-strategy": "nope"},
        "invalid arg 'x-dead-letter-strategy' for {q}: invalid_dlx_strategy",
    ),
    (
        {},
        {"x-queue-leader-locator": "nope"},
        "invalid arg 'x-queue-leader-locator' for {q}: invalid_queue_locator_arg",
    ),
    ({}, {"x-max-length": -1}, "invalid arg 'x-max-length' for {q}: {{value_negative,-1}}"),
]


@pytest.mark.parametrize(("flags", "arguments", "text"), DECLARE_REFUSALS)
async def test_declare_refusals(
    amqp_broker: BrokerTarget, flags: dict[str, Any], arguments: dict[str, Any], text: str
) -> None:
    queue = amqp_broker.queue_name("quorum")
    options = {"durable": True, **flags}
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        with pytest.raises(async_amqp.PreconditionFailedError) as caught:
            await chan.queue_declare(queue, arguments={**QUORUM, **arguments}, **options)
    assert caught.value.reply_text == "PRECONDITION_FAILED - " + text.format(q=what(queue), **TEXTS)


async def test_server_named_quorum_queue_is_refused_first(amqp_broker: BrokerTarget) -> None:
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        with pytest.raises(async_amqp.PreconditionFailedError) as caught:
            await chan.queue_declare(
                "", auto_delete=True, arguments={**QUORUM, "x-max-priority": 1}
            )
    assert caught.value.reply_text == (
        "PRECONDITION_FAILED - Cannot declare a server-named queue for type rabbit_quorum_queue"
    )


async def test_accepted_arguments(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name("quorum")
    arguments = {
        "x-delivery-limit": "not validated",
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish-dlx",
        "x-max-in-memory-length": 5,
        "x-quorum-initial-group-size": 1,
        "x-queue-leader-locator": "balanced",
        "x-single-active-consumer": True,
        "x-message-ttl": 60000,
        "x-expires": 600000,
        "x-unknown": 1,
    }
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        declared = await chan.queue_declare(queue, durable=True, arguments={**QUORUM, **arguments})
    assert declared == {"queue": queue, "message_count": 0, "consumer_count": 0}


REDECLARES: list[tuple[dict[str, Any], str]] = [
    # x-dead-letter-strategy is compared before everything else, even x-queue-type
    ({}, "{ineq} 'x-dead-letter-strategy' for {q}: {none} 'at-most-once' of type 'longstr'"),
    (
        {"x-dead-letter-strategy": "at-most-once"},
        "{ineq} 'x-queue-type' for {q}: {none} 'quorum' of type 'longstr'",
    ),
    (
        {"x-dead-letter-strategy": "at-most-once", "x-queue-type": "classic"},
        "{ineq} 'x-queue-type' for {q}: received 'classic' but current is 'quorum'",
    ),
    (
        {**QUORUM, "x-dead-letter-strategy": "at-most-once"},
        "{ineq} 'x-delivery-limit' for {q}: {none} '3' of type 'byte'",
    ),
    (
        {**QUORUM, "x-dead-letter-strategy": "at-most-once", "x-delivery-limit": 4},
        "{ineq} 'x-delivery-limit' for {q}: received '4' but current is '3'",
    ),
]


@pytest.mark.parametrize(("arguments", "text"), REDECLARES)
async def test_redeclare_equivalence(
    amqp_broker: BrokerTarget, arguments: dict[str, Any], text: str
) -> None:
    queue = amqp_broker.queue_name("quorum")
    async with amqp_broker.connect() as conn:
        async with conn.new_channel() as chan:
            await declare_quorum(
                chan, queue, **{"x-delivery-limit": 3, "x-dead-letter-strategy": "at-most-once"}
            )
        async with conn.new_channel() as chan:
            with pytest.raises(async_amqp.PreconditionFailedError) as caught:
                await chan.queue_declare(queue, durable=True, arguments=arguments)
    assert caught.value.reply_text == "PRECONDITION_FAILED - " + text.format(q=what(queue), **TEXTS)


async def test_delivery_count_and_requeue_positions_without_a_limit(
    amqp_broker: BrokerTarget,
) -> None:
    queue = amqp_broker.queue_name("quorum")
    async with amqp_broker.connect() as conn:
        async with conn.new_channel() as chan:
            await declare_quorum(chan, queue)
            await chan.confirm_select()
            for body in (b"A", b"B", b"C"):
                await chan.publish(body, "", queue, properties={"headers": {"z": 1, "a": "s"}})
            message = await chan.basic_get(queue)
            # x-delivery-count is there from the first delivery; the headers come sorted
            assert list(message["properties"].headers) == ["a", "x-delivery-count", "z"]
            assert message["properties"].headers["x-delivery-count"] == 0
            assert message["message_count"] == 2
            await chan.basic_reject(message["delivery_tag"], requeue=True)
            # an explicit requeue without a delivery limit goes to the back
            b = await get(chan, queue)
            assert b[:3] == (b"B", 0, False)
            await chan.basic_nack(b[3], requeue=True)
            c = await get(chan, queue)
            assert c[:3] == (b"C", 0, False)
            await chan.basic_recover(requeue=True)  # recover also counts and goes to the back
            assert (await get(chan, queue))[:3] == (b"A", 1, True)
        # closing a channel returns its unacked message to the front, counted
        async with conn.new_channel() as chan:
            assert (await get(chan, queue))[:3] == (b"A", 2, True)
        async with conn.new_channel() as chan:
            assert (await get(chan, queue))[:3] == (b"A", 3, True)
    # so does closing the connection
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        assert (await get(chan, queue))[:3] == (b"A", 4, True)
        assert (await get(chan, queue))[:3] == (b"B", 1, True)


async def test_delivery_limit_dead_letters_and_requeues_to_the_front(
    amqp_broker: BrokerTarget,
) -> None:
    queue = amqp_broker.queue_name("quorum")
    dead = amqp_broker.queue_name("dead")
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await declare_quorum(chan, dead)
        await declare_quorum(
            chan,
            queue,
            **{
                "x-delivery-limit": 1,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": dead,
            },
        )
        await chan.confirm_select()
        await chan.publish(b"poison", "", queue)
        await chan.publish(b"next", "", queue)
        first = await get(chan, queue)
        await chan.basic_reject(first[3], requeue=True)
        # with a delivery limit a requeued message goes back to the front
        second = await get(chan, queue)
        assert second[:3] == (b"poison", 1, True)
        await chan.basic_reject(second[3], requeue=True)
        body, properties = await first_message(chan, dead)
        assert (await get(chan, queue))[:2] == (b"next", 0)
    assert body == b"poison"
    headers = properties.headers or {}
    assert headers["x-first-death-reason"] == "delivery_limit"
    (death,) = headers["x-death"]
    assert (death["reason"], death["queue"], death["count"]) == ("delivery_limit", queue, 1)


async def test_delivery_limit_zero_drops_on_the_first_requeue(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name("quorum")
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await declare_quorum(chan, queue, **{"x-delivery-limit": 0})
        await chan.confirm_select()
        await chan.publish(b"once", "", queue)
        await chan.publish(b"later", "", queue)
        first = await get(chan, queue)
        await chan.basic_nack(first[3], requeue=True)
        assert (await get(chan, queue))[:2] == (b"later", 0)


@pytest.mark.parametrize("overflow", ["drop-head", "reject-publish-dlx"])
async def test_drop_head_dead_letters_maxlen(amqp_broker: BrokerTarget, overflow: str) -> None:
    # reject-publish-dlx is accepted but behaves as drop-head on a 3.10 quorum queue
    queue = amqp_broker.queue_name("quorum")
    dead = amqp_broker.queue_name("dead")
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await declare_quorum(chan, dead)
        await declare_quorum(
            chan,
            queue,
            **{
                "x-max-length": 1,
                "x-overflow": overflow,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": dead,
            },
        )
        await chan.confirm_select()
        await chan.publish(b"old", "", queue)
        await chan.publish(b"new", "", queue)  # acked
        body, properties = await first_message(chan, dead)
        assert (await get(chan, queue))[0] == b"new"
    assert body == b"old"
    assert (properties.headers or {})["x-first-death-reason"] == "maxlen"


async def test_reject_publish_refuses_only_once_over_the_limit(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name("quorum")
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await declare_quorum(chan, queue, **{"x-max-length": 1, "x-overflow": "reject-publish"})
        await chan.confirm_select()
        await chan.publish(b"1", "", queue)
        await chan.publish(b"2", "", queue)  # the queue was not over its limit yet
        with pytest.raises(async_amqp.PublishFailedError):
            await chan.publish(b"3", "", queue)
        assert [(await get(chan, queue))[0] for _ in range(2)] == [b"1", b"2"]
        with pytest.raises(async_amqp.EmptyQueueError):
            await chan.basic_get(queue)


async def test_message_ttl_dead_letters_expired(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name("quorum")
    dead = amqp_broker.queue_name("dead")
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await declare_quorum(chan, dead)
        await declare_quorum(
            chan,
            queue,
            **{
                "x-message-ttl": 20,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": dead,
            },
        )
        await chan.confirm_select()
        await chan.publish(b"stale", "", queue)
        body, properties = await first_message(chan, dead)
    assert body == b"stale"
    assert (properties.headers or {})["x-first-death-reason"] == "expired"


async def test_single_active_consumer_takes_everything(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name("quorum")
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await declare_quorum(chan, queue, **{"x-single-active-consumer": True})
        async with conn.new_channel() as other:
            # the first consumer is active even with a lower priority
            async with (
                other.new_consumer(queue_name=queue, arguments={"x-priority": 1}) as first,
                other.new_consumer(queue_name=queue, arguments={"x-priority": 9}),
            ):
                await chan.confirm_select()
                for body in (b"1", b"2"):
                    await chan.publish(body, "", queue)
                received = []
                with anyio.fail_after(10):
                    async for body, envelope, _properties in first:
                        received.append(body)
                        await other.basic_ack(envelope.delivery_tag)
                        if len(received) == 2:
                            break
    assert received == [b"1", b"2"]


async def test_global_qos_cannot_consume(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name("quorum")
    with pytest.raises(async_amqp.NotImplementedByBrokerError) as caught:
        async with amqp_broker.connect() as conn, conn.new_channel() as chan:
            await declare_quorum(chan, queue)
            await chan.basic_qos(prefetch_count=5, connection_global=True)
            await chan.basic_consume(lambda *args: None, queue_name=queue)
    assert caught.value.reply_text == (
        f"NOT_IMPLEMENTED - {what(queue)} does not support global qos"
    )


@pytest.mark.parametrize("flag", ["if_unused", "if_empty"])
async def test_conditional_delete_is_not_implemented(amqp_broker: BrokerTarget, flag: str) -> None:
    queue = amqp_broker.queue_name("quorum")
    with pytest.raises(async_amqp.NotImplementedByBrokerError) as caught:
        async with amqp_broker.connect() as conn, conn.new_channel() as chan:
            await declare_quorum(chan, queue)
            await chan.queue_delete(
                queue, if_unused=flag == "if_unused", if_empty=flag == "if_empty"
            )
    assert caught.value.reply_text == (
        f"NOT_IMPLEMENTED - cannot delete {what(queue)}. queue.delete operations with "
        f"{flag.replace('_', '-')} flag set are not supported by quorum queues"
    )


async def test_purge_and_counts(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name("quorum")
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await declare_quorum(chan, queue)
        await chan.confirm_select()
        for body in (b"1", b"2", b"3"):
            await chan.publish(body, "", queue)
        declared = await chan.queue_declare(queue, durable=True, arguments=QUORUM)
        assert declared == {"queue": queue, "message_count": 3, "consumer_count": 0}
        assert (await chan.basic_get(queue, no_ack=True))["message_count"] == 2
        assert await chan.queue_purge(queue) == {"message_count": 2}
        assert await chan.queue_delete(queue) == {"message_count": 0}


async def test_stream_offset_is_refused_for_a_quorum_consumer(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name("quorum")
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await declare_quorum(chan, queue)
        with pytest.raises(async_amqp.PreconditionFailedError) as caught:
            await chan.basic_consume(
                lambda *args: None, queue_name=queue, arguments={"x-stream-offset": "first"}
            )
    assert caught.value.reply_text == (
        f"PRECONDITION_FAILED - invalid arg 'x-stream-offset' for {what(queue)} "
        "of queue type rabbit_quorum_queue"
    )


async def test_consumer_priorities(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name("quorum")
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await declare_quorum(chan, queue)
        async with conn.new_channel() as other:
            await other.basic_qos(prefetch_count=1)
            async with (
                other.new_consumer(queue_name=queue, arguments={"x-priority": 1}) as low,
                other.new_consumer(queue_name=queue, arguments={"x-priority": 9}) as high,
            ):
                await chan.confirm_select()
                for body in (b"1", b"2"):
                    await chan.publish(body, "", queue)
                with anyio.fail_after(10):
                    # the high-priority consumer is served first; when its prefetch is
                    # full, the next message goes to the low-priority one
                    first, _, _ = await high.__anext__()
                    second, _, _ = await low.__anext__()
    assert (first, second) == (b"1", b"2")


async def test_reject_publish_counts_bytes_too(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name("quorum")
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await declare_quorum(
            chan, queue, **{"x-max-length-bytes": 3, "x-overflow": "reject-publish"}
        )
        await chan.confirm_select()
        await chan.publish(b"four", "", queue)  # larger than the limit, but the queue was empty
        with pytest.raises(async_amqp.PublishFailedError):
            await chan.publish(b"ab", "", queue)
        assert (await get(chan, queue))[0] == b"four"


async def test_at_least_once_dead_lettering(amqp_broker: BrokerTarget) -> None:
    # at-least-once needs reject-publish; with a routable target it looks like at-most-once
    queue = amqp_broker.queue_name("quorum")
    dead = amqp_broker.queue_name("dead")
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await declare_quorum(chan, dead)
        await declare_quorum(
            chan,
            queue,
            **{
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": dead,
            },
        )
        await chan.confirm_select()
        await chan.publish(b"refused", "", queue)
        message = await chan.basic_get(queue)
        await chan.basic_reject(message["delivery_tag"], requeue=False)
        body, properties = await first_message(chan, dead)
    assert body == b"refused"
    headers = properties.headers or {}
    assert headers["x-first-death-reason"] == "rejected"
    # a consumer's first delivery has no x-delivery-count (basic.get would show 0)
    assert "x-delivery-count" not in headers
