"""Timestamps a ``datetime`` cannot hold (year 10000 or later) reach the user as the
integer that was sent, end to end: pika publishes microseconds since the epoch, the
broker delivers them, and this client consumes and gets them."""

from __future__ import annotations

import datetime

import anyio
import anyio.to_thread
import pika

from tests.support import BrokerTarget

#: 2024-12-05 05:36:40.123456 UTC in microseconds since the epoch.
MICROSECONDS = 1_733_377_000_123_456


def _publish_with_pika(url: str, queue: str, timestamp: int) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        for body in (b"consumed", b"fetched"):
            channel.basic_publish(
                "", queue, body, pika.BasicProperties(timestamp=timestamp, message_id="m")
            )
    finally:
        connection.close()


async def test_a_pika_microsecond_timestamp_reaches_consumer_and_get(
    amqp_broker: BrokerTarget,
) -> None:
    queue = amqp_broker.queue_name()
    await _consume_and_get_pika_timestamps(amqp_broker, queue)


async def _consume_and_get_pika_timestamps(amqp_broker: BrokerTarget, queue: str) -> None:
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare(queue)
        await anyio.to_thread.run_sync(_publish_with_pika, amqp_broker.url, queue, MICROSECONDS)
        await chan.basic_qos(prefetch_count=1)
        with anyio.fail_after(10):
            async with chan.new_consumer(queue) as consumer:
                async for body, envelope, properties in consumer:
                    assert body == b"consumed"
                    assert properties.timestamp == MICROSECONDS
                    assert properties.message_id == "m"
                    await chan.basic_ack(envelope.delivery_tag)
                    break
            fetched = await chan.basic_get(queue, no_ack=True)
        assert fetched["message"] == b"fetched"
        assert fetched["properties"].timestamp == MICROSECONDS
        assert conn.is_open


async def test_an_integer_timestamp_round_trips_and_a_datetime_stays_a_datetime(
    amqp_broker: BrokerTarget,
) -> None:
    queue = amqp_broker.queue_name()
    moment = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.UTC)
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare(queue)
        await chan.confirm_select()
        await chan.publish(b"int", "", queue, properties={"timestamp": MICROSECONDS})
        await chan.publish(b"date", "", queue, properties={"timestamp": moment})
        first = await chan.basic_get(queue, no_ack=True)
        second = await chan.basic_get(queue, no_ack=True)
    assert first["properties"].timestamp == MICROSECONDS
    assert second["properties"].timestamp == moment
