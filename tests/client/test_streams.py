"""Streams on both brokers, as a 0-9-1 client sees them on RabbitMQ 3.10.

Publisher confirms are the barrier before a consumer attaches; consumers wait
for what they expect, so nothing here depends on timing. Absence is shown by
what arrives first after a later publish, never by waiting.
"""

from __future__ import annotations

import datetime
from typing import Any

import anyio
import pytest

import async_amqp
from tests.support import BrokerTarget

STREAM = {"x-queue-type": "stream"}

TEXTS = {
    "t": " of queue type rabbit_stream_queue",
    "none": "received none but current is the value",
    "ineq": "inequivalent arg",
}


def what(queue: str) -> str:
    return f"queue '{queue}' in vhost '/'"


async def declare_stream(chan: async_amqp.Channel, queue: str, **arguments: Any) -> None:
    """Declare a stream with extra arguments."""
    await chan.queue_declare(queue, durable=True, arguments={**STREAM, **arguments})


async def fill(chan: async_amqp.Channel, queue: str, count: int) -> None:
    """Publish m0..m<count-1> one confirm at a time."""
    await chan.confirm_select()
    for index in range(count):
        await chan.publish(f"m{index}".encode(), "", queue)


async def read(
    chan: async_amqp.Channel, queue: str, count: int, offset: Any = None
) -> list[tuple[bytes, int]]:
    """Consume *count* messages from *offset*, acking each: (body, x-stream-offset)."""
    arguments = {} if offset is None else {"x-stream-offset": offset}
    received: list[tuple[bytes, int]] = []
    with anyio.fail_after(10):
        async with chan.new_consumer(queue_name=queue, arguments=arguments) as listener:
            async for body, envelope, properties in listener:
                received.append((body, (properties.headers or {})["x-stream-offset"]))
                await chan.basic_ack(envelope.delivery_tag)
                if len(received) == count:
                    break
    return received


DECLARE_REFUSALS: list[tuple[dict[str, Any], dict[str, Any], str]] = [
    ({"durable": False}, {}, "invalid property 'non-durable' for {q}"),
    ({"exclusive": True}, {}, "invalid property 'exclusive-owner' for {q}"),
    ({"auto_delete": True}, {}, "invalid property 'auto-delete' for {q}"),
    ({}, {"x-max-age": "0D"}, "invalid arg 'x-max-age' for {q}: invalid_max_age"),
    ({}, {"x-max-age": "7W"}, "invalid arg 'x-max-age' for {q}: invalid_max_age"),
    ({}, {"x-max-age": True}, "invalid arg 'x-max-age' for {q}: {{unacceptable_type,bool}}"),
    # a stream checks x-max-age, then refuses other types' arguments, before generic checks
    (
        {},
        {"x-max-age": "1X", "x-max-length": 1},
        "invalid arg 'x-max-age' for {q}: invalid_max_age",
    ),
    ({}, {"x-overflow": "nope"}, "invalid arg 'x-overflow' for {q}{t}"),
    ({}, {"x-max-length": -1}, "invalid arg 'x-max-length' for {q}{t}"),
    ({}, {"x-message-ttl": 1000}, "invalid arg 'x-message-ttl' for {q}{t}"),
    ({}, {"x-dead-letter-exchange": "dlx"}, "invalid arg 'x-dead-letter-exchange' for {q}{t}"),
    ({}, {"x-delivery-limit": 3}, "invalid arg 'x-delivery-limit' for {q}{t}"),
    ({}, {"x-single-active-consumer": True}, "invalid arg 'x-single-active-consumer' for {q}{t}"),
    (
        {},
        {"x-stream-max-segment-size-bytes": -1},
        "invalid arg 'x-stream-max-segment-size-bytes' for {q}: {{value_negative,-1}}",
    ),
    (
        {},
        {"x-stream-max-segment-size-bytes": "big"},
        "invalid arg 'x-stream-max-segment-size-bytes' for {q}: \"expected integer, got longstr\"",
    ),
]


@pytest.mark.parametrize(("flags", "arguments", "text"), DECLARE_REFUSALS)
async def test_declare_refusals(
    amqp_broker: BrokerTarget, flags: dict[str, Any], arguments: dict[str, Any], text: str
) -> None:
    queue = amqp_broker.queue_name("stream")
    options = {"durable": True, **flags}
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        with pytest.raises(async_amqp.PreconditionFailedError) as caught:
            await chan.queue_declare(queue, arguments={**STREAM, **arguments}, **options)
    assert caught.value.reply_text == "PRECONDITION_FAILED - " + text.format(q=what(queue), **TEXTS)


async def test_server_named_stream_is_refused(amqp_broker: BrokerTarget) -> None:
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        with pytest.raises(async_amqp.PreconditionFailedError) as caught:
            await chan.queue_declare("", durable=True, arguments=STREAM)
    assert caught.value.reply_text == (
        "PRECONDITION_FAILED - Cannot declare a server-named queue for type rabbit_stream_queue"
    )


@pytest.mark.parametrize("max_age", ["1Y", "2M", "7D", "12h", "10m", "30s"])
async def test_retention_arguments_are_accepted(amqp_broker: BrokerTarget, max_age: str) -> None:
    queue = amqp_broker.queue_name("stream")
    arguments = {
        "x-max-age": max_age,
        "x-max-length-bytes": 10_000_000,
        "x-stream-max-segment-size-bytes": 1_000_000,
        "x-initial-cluster-size": 1,
        "x-queue-leader-locator": "client-local",
    }
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        declared = await chan.queue_declare(queue, durable=True, arguments={**STREAM, **arguments})
    assert declared == {"queue": queue, "message_count": 0, "consumer_count": 0}


async def test_offsets_and_replay(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name("stream")
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await declare_stream(chan, queue)
        await fill(chan, queue, 4)
        # A stream's declare-ok reports the message count of the last metrics snapshot
        # (RabbitMQ refreshes it every few seconds, so a redeclare right after publishing
        # usually says 0 and, if a refresh fell in between, the count then). The fake
        # broker takes no snapshots: always 0.
        declared = await chan.queue_declare(queue, durable=True, arguments=STREAM)
        assert declared["queue"] == queue
        assert declared["consumer_count"] == 0
        if amqp_broker.is_fake:
            assert declared["message_count"] == 0
        else:
            assert declared["message_count"] in (0, 1, 2, 3, 4)
        await chan.basic_qos(prefetch_count=10)
        everything = [(b"m0", 0), (b"m1", 1), (b"m2", 2), (b"m3", 3)]
        assert await read(chan, queue, 4, "first") == everything
        # acks removed nothing: the next consumer replays
        assert await read(chan, queue, 4, "first") == everything
        assert await read(chan, queue, 2, 2) == everything[2:]
        assert await read(chan, queue, 4, -1) == everything
        assert await read(chan, queue, 4, "10m") == everything
        assert await read(chan, queue, 4, datetime.datetime(2000, 1, 1)) == everything
        # each confirmed publish is a chunk of its own: "last" is the last message
        assert await read(chan, queue, 1, "last") == everything[3:]


@pytest.mark.parametrize(("offset", "skipped"), [(None, 0), ("next", 0), (3, 1)])
async def test_offsets_past_the_end_wait_for_new_messages(
    amqp_broker: BrokerTarget, offset: Any, skipped: int
) -> None:
    # the default is "next"; a numeric offset past the end waits for that very offset
    queue = amqp_broker.queue_name("stream")
    arguments = {} if offset is None else {"x-stream-offset": offset}
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await declare_stream(chan, queue)
        await fill(chan, queue, 2)
        async with conn.new_channel() as reader:
            await reader.basic_qos(prefetch_count=10)
            with anyio.fail_after(10):
                async with reader.new_consumer(queue_name=queue, arguments=arguments) as listener:
                    for _ in range(skipped):
                        await chan.publish(b"skipped", "", queue)
                    await chan.publish(b"new", "", queue)
                    body, envelope, properties = await listener.__anext__()
                    await reader.basic_ack(envelope.delivery_tag)
    assert (body, (properties.headers or {})["x-stream-offset"]) == (b"new", 2 + skipped)


async def test_properties_are_kept_and_headers_sorted(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name("stream")
    sent = {
        "headers": {"zz": 1, "aa": "s"},
        "expiration": "100000",
        "priority": 3,
        "message_id": "id-1",
        "delivery_mode": 2,
    }
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await declare_stream(chan, queue)
        await chan.confirm_select()
        await chan.publish(b"kept", "", queue, properties=sent)
        await chan.basic_qos(prefetch_count=1)
        with anyio.fail_after(10):
            async with chan.new_consumer(
                queue_name=queue, arguments={"x-stream-offset": "first"}
            ) as listener:
                _body, envelope, properties = await listener.__anext__()
                await chan.basic_ack(envelope.delivery_tag)
    assert properties.headers == {"aa": "s", "x-stream-offset": 0, "zz": 1}
    assert list(properties.headers) == ["aa", "x-stream-offset", "zz"]
    assert (properties.expiration, properties.priority, properties.message_id) == (
        "100000",
        3,
        "id-1",
    )
    assert properties.delivery_mode == 2


async def test_consumers_need_a_prefetch(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name("stream")
    async with amqp_broker.connect() as conn:
        async with conn.new_channel() as chan:
            await declare_stream(chan, queue)
        async with conn.new_channel() as chan:
            with pytest.raises(async_amqp.PreconditionFailedError) as caught:
                await chan.basic_consume(lambda *args: None, queue_name=queue)
        assert caught.value.reply_text == (
            f"PRECONDITION_FAILED - consumer prefetch count is not set for '{what(queue)}'"
        )
        async with conn.new_channel() as chan:
            await chan.basic_qos(prefetch_count=5)
            with pytest.raises(async_amqp.PreconditionFailedError) as caught:
                await chan.basic_consume(
                    lambda *args: None, queue_name=queue, arguments={"x-priority": 2}
                )
        assert caught.value.reply_text == (
            f"PRECONDITION_FAILED - invalid arg 'x-priority' for {what(queue)} "
            "of queue type rabbit_stream_queue"
        )


async def _stream_with_one_delivery(
    amqp_broker: BrokerTarget, conn: async_amqp.AmqpProtocol, chan: async_amqp.Channel
) -> tuple[str, int]:
    queue = amqp_broker.queue_name("stream")
    await declare_stream(chan, queue)
    await fill(chan, queue, 1)
    await chan.basic_qos(prefetch_count=5)
    received: list[int] = []
    got = anyio.Event()

    def on_message(_chan: object, _body: bytes, envelope: Any, _properties: object) -> None:
        received.append(envelope.delivery_tag)
        got.set()

    await chan.basic_consume(on_message, queue_name=queue, arguments={"x-stream-offset": "first"})
    with anyio.fail_after(10):
        await got.wait()
    return queue, received[0]


@pytest.mark.parametrize("operation", ["nack", "reject", "nack-no-requeue"])
async def test_nack_and_reject_are_connection_errors(
    amqp_broker: BrokerTarget, operation: str
) -> None:
    with pytest.raises(async_amqp.NotImplementedByBrokerError) as caught:
        async with amqp_broker.connect() as conn, conn.new_channel() as chan:
            queue, tag = await _stream_with_one_delivery(amqp_broker, conn, chan)
            if operation == "reject":
                await chan.basic_reject(tag, requeue=True)
            else:
                await chan.basic_nack(tag, requeue=operation == "nack")
            await anyio.sleep_forever()
    assert caught.value.reply_text == (
        f"NOT_IMPLEMENTED - basic.nack and basic.reject not supported by stream queues "
        f"{what(queue)}"
    )


async def test_recover_is_an_internal_error(amqp_broker: BrokerTarget) -> None:
    with pytest.raises(async_amqp.BrokerInternalError) as caught:
        async with amqp_broker.connect() as conn, conn.new_channel() as chan:
            await _stream_with_one_delivery(amqp_broker, conn, chan)
            await chan.basic_recover(requeue=True)
    assert caught.value.reply_text == "INTERNAL_ERROR"


@pytest.mark.parametrize("operation", ["basic.get", "queue.purge", "no-ack consume"])
async def test_unsupported_operations_are_connection_errors(
    amqp_broker: BrokerTarget, operation: str
) -> None:
    queue = amqp_broker.queue_name("stream")
    with pytest.raises(async_amqp.NotImplementedByBrokerError) as caught:
        async with amqp_broker.connect() as conn, conn.new_channel() as chan:
            await declare_stream(chan, queue)
            await chan.basic_qos(prefetch_count=5)
            if operation == "basic.get":
                await chan.basic_get(queue)
            elif operation == "queue.purge":
                await chan.queue_purge(queue)
            else:
                await chan.basic_consume(lambda *args: None, queue_name=queue, no_ack=True)
    detail = "automatic acknowledgement" if operation == "no-ack consume" else operation
    assert caught.value.reply_text == (
        f"NOT_IMPLEMENTED - {detail} not supported by stream queues {what(queue)}"
    )


async def test_unparsable_offset_is_an_internal_error(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name("stream")
    with pytest.raises(async_amqp.BrokerInternalError):
        async with amqp_broker.connect() as conn, conn.new_channel() as chan:
            await declare_stream(chan, queue)
            await chan.basic_qos(prefetch_count=5)
            await chan.basic_consume(
                lambda *args: None, queue_name=queue, arguments={"x-stream-offset": "soon"}
            )


async def test_conditional_delete_deletes_a_stream(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name("stream")
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await declare_stream(chan, queue)
        await fill(chan, queue, 2)
        # the stream counts no messages, so if_empty does not stop the delete
        assert await chan.queue_delete(queue, if_empty=True) == {"message_count": 0}
        with pytest.raises(async_amqp.NotFoundError):
            await chan.queue_declare(queue, passive=True)
