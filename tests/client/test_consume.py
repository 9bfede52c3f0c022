"""Consuming: iterators and callbacks, acks, prefetch, redelivery, cancellation by either side."""

from __future__ import annotations

import anyio
import pytest

import async_amqp
from async_amqp import Envelope
from tests.support import BrokerTarget


async def fill(chan: async_amqp.Channel, queue: str, count: int) -> None:
    await chan.queue_declare(queue)
    for index in range(count):
        await chan.publish(str(index), "", queue)


async def test_consume_and_ack(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await fill(chan, queue, 5)
        bodies = []
        async with chan.new_consumer(queue_name=queue) as listener:
            assert listener.consumer_tag.startswith("amq.ctag-")
            async for body, envelope, _properties in listener:
                assert isinstance(envelope, Envelope)
                assert envelope.consumer_tag == listener.consumer_tag
                assert envelope.exchange_name == ""
                assert envelope.routing_key == queue
                assert envelope.is_redeliver is False
                bodies.append(body)
                await chan.basic_ack(envelope.delivery_tag)
                if len(bodies) == 5:
                    break
        assert bodies == [b"0", b"1", b"2", b"3", b"4"]
        result = await chan.queue_declare(queue, passive=True)
        assert result == {"queue": queue, "message_count": 0, "consumer_count": 0}


async def test_api_document_consumer_example(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    processed = []

    def process_message(body: bytes, envelope: Envelope, properties: object) -> None:
        processed.append(body)

    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await fill(chan, queue, 1)
        async with chan.new_consumer(queue_name=queue) as listener:
            async for body, envelope, properties in listener:
                process_message(body, envelope, properties)
                await chan.basic_ack(envelope.delivery_tag)
                await chan.queue_delete(queue)
            processed.append(b"I get here when the queue is deleted")
    assert processed == [b"0", b"I get here when the queue is deleted"]


async def test_server_cancel_ends_iteration_normally(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare(queue)
        async with chan.new_consumer(queue_name=queue) as listener:
            async with conn.new_channel() as other:
                await other.queue_delete(queue)
            async for _ in listener:
                pytest.fail("nothing was published")
            assert listener.cancelled_by_server
        assert chan.is_open
        await chan.basic_qos(prefetch_count=1)


async def test_unacked_messages_are_redelivered_after_nack(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await fill(chan, queue, 1)
        seen = []
        async with chan.new_consumer(queue_name=queue) as listener:
            async for body, envelope, _ in listener:
                seen.append((body, envelope.is_redeliver))
                if envelope.is_redeliver:
                    await chan.basic_ack(envelope.delivery_tag)
                    break
                await chan.basic_nack(envelope.delivery_tag, requeue=True)
        assert seen == [(b"0", False), (b"0", True)]


async def test_reject_without_requeue_drops(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await fill(chan, queue, 1)
        message = await chan.basic_get(queue)
        await chan.basic_reject(message["delivery_tag"])
        with pytest.raises(async_amqp.EmptyQueue):
            await chan.basic_get(queue)


async def test_prefetch_limits_unacked_deliveries(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await fill(chan, queue, 10)
        await chan.basic_qos(prefetch_count=3)
        async with chan.new_consumer(queue_name=queue) as listener:
            tags = []
            async for _, envelope, _ in listener:
                tags.append(envelope.delivery_tag)
                if len(tags) == 3:
                    break
            async with conn.new_channel() as probe:
                # three are out, unacked; seven still ready
                assert (await probe.queue_declare(queue, passive=True) or {})["message_count"] == 7
            await chan.basic_ack(tags[-1], multiple=True)
            async for _, envelope, _ in listener:
                tags.append(envelope.delivery_tag)
                if len(tags) == 6:
                    break
        assert tags == [1, 2, 3, 4, 5, 6]


async def test_leaving_a_consumer_requeues_what_it_did_not_process(
    amqp_broker: BrokerTarget,
) -> None:
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await fill(chan, queue, 4)
        async with chan.new_consumer(queue_name=queue) as listener:
            async for _body, envelope, _ in listener:
                await chan.basic_ack(envelope.delivery_tag)
                break
        # the rejected messages go back to the queue at their original positions; a
        # consumer waits for them (RabbitMQ may answer a basic.get before the requeue)
        bodies = []
        with anyio.fail_after(10):
            async with chan.new_consumer(queue_name=queue, no_ack=True) as listener:
                async for body, _envelope, _properties in listener:
                    bodies.append(body)
                    if len(bodies) == 3:
                        break
        assert bodies == [b"1", b"2", b"3"]


async def test_basic_get(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare(queue)
        with pytest.raises(async_amqp.EmptyQueue):
            await chan.basic_get(queue)
        await chan.confirm_select()
        await chan.publish(b"a", "", queue, properties={"app_id": "x"})
        await chan.publish(b"b", "", queue)
        message = await chan.basic_get(queue)
        assert message["message"] == b"a"
        assert message["message_count"] == 1
        assert message["delivery_tag"] == 1
        assert message["redelivered"] is False
        assert message["exchange_name"] == ""
        assert message["routing_key"] == queue
        assert message["properties"].app_id == "x"
        await chan.basic_client_ack(message["delivery_tag"])
        second = await chan.basic_get(queue, no_ack=True)
        assert (second["message"], second["message_count"]) == (b"b", 0)


async def test_unknown_delivery_tag_is_406(amqp_broker: BrokerTarget) -> None:
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.basic_ack(99)
        with pytest.raises(async_amqp.PreconditionFailedError) as caught:
            await chan.basic_qos(prefetch_count=1)
    assert caught.value.reply_text == "PRECONDITION_FAILED - unknown delivery tag 99"
    assert (caught.value.class_id, caught.value.method_id) == (60, 80)


async def test_recover_redelivers(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await fill(chan, queue, 1)
        async with chan.new_consumer(queue_name=queue) as listener:
            flags = []
            async for _, envelope, _ in listener:
                flags.append(envelope.is_redeliver)
                if len(flags) == 1:
                    assert await chan.basic_recover(requeue=True) is True
                else:
                    await chan.basic_ack(envelope.delivery_tag)
                    break
        assert flags == [False, True]


async def test_callback_consumer(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    received: list[bytes] = []
    all_in = anyio.Event()

    async def callback(
        channel: async_amqp.Channel, body: bytes, envelope: Envelope, properties: object
    ) -> None:
        received.append(body)
        await channel.basic_client_ack(envelope.delivery_tag)
        if len(received) == 3:
            all_in.set()

    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await fill(chan, queue, 3)
        result = await chan.basic_consume(callback, queue_name=queue)
        assert result["consumer_tag"].startswith("amq.ctag-")
        await all_in.wait()
        assert await chan.basic_cancel(result["consumer_tag"]) == {
            "consumer_tag": result["consumer_tag"]
        }
    assert received == [b"0", b"1", b"2"]


async def test_callback_exception_is_raised_out_of_the_connection(
    amqp_broker: BrokerTarget,
) -> None:
    queue = amqp_broker.queue_name()

    class Oops(Exception):
        pass

    def callback(*_: object) -> None:
        raise Oops

    with pytest.raises(Oops):
        async with amqp_broker.connect() as conn, conn.new_channel() as chan:
            await fill(chan, queue, 1)
            await chan.basic_consume(callback, queue_name=queue, no_ack=True)
            await anyio.sleep_forever()


async def test_duplicate_consumer_tag_is_refused_locally(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare(queue)
        async with chan.new_consumer(queue_name=queue, consumer_tag="mine"):
            with pytest.raises(async_amqp.DuplicateConsumerTag):
                async with chan.new_consumer(queue_name=queue, consumer_tag="mine"):
                    pass
        assert chan.is_open


async def test_exclusive_consumer_is_403(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare(queue)
        async with (
            chan.new_consumer(queue_name=queue, exclusive=True),
            conn.new_channel() as other,
        ):
            with pytest.raises(async_amqp.AccessRefusedError) as caught:
                async with other.new_consumer(queue_name=queue):
                    pass
    assert caught.value.reply_text == (
        f"ACCESS_REFUSED - queue '{queue}' in vhost '/' in exclusive use"
    )


async def test_no_wait_consumer_gets_a_client_tag(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await fill(chan, queue, 1)
        async with chan.new_consumer(queue_name=queue, no_wait=True, no_ack=True) as listener:
            async for body, envelope, _ in listener:
                assert body == b"0"
                assert envelope.consumer_tag == listener.consumer_tag
                break


async def test_slow_consumer_does_not_stall_other_channels(amqp_broker: BrokerTarget) -> None:
    slow_queue = amqp_broker.queue_name("slow")
    fast_queue = amqp_broker.queue_name("fast")
    async with (
        amqp_broker.connect() as conn,
        conn.new_channel() as slow,
        conn.new_channel() as fast,
    ):
        await fill(slow, slow_queue, 200)
        await fill(fast, fast_queue, 200)
        async with slow.new_consumer(queue_name=slow_queue, no_ack=True):
            # nobody reads the slow consumer: its deliveries pile up in its buffer
            received = 0
            async with fast.new_consumer(queue_name=fast_queue, no_ack=True) as listener:
                async for _ in listener:
                    received += 1
                    if received == 200:
                        break
        assert received == 200


async def test_cancel_ends_iteration_after_buffered_messages(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await fill(chan, queue, 1)
        async with chan.new_consumer(queue_name=queue, no_ack=True) as listener:
            async for body, _, _ in listener:
                assert body == b"0"
                await chan.basic_cancel(listener.consumer_tag)
            assert not listener.active


async def test_tx_commit_and_rollback(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare(queue)
        assert await chan.tx_select() is True
        await chan.publish(b"rolled back", "", queue)
        assert await chan.tx_rollback() is True
        await chan.publish(b"committed", "", queue)
        assert await chan.tx_commit() is True
        message = await chan.basic_get(queue, no_ack=True)
        assert message["message"] == b"committed"
        assert message["message_count"] == 0


async def test_tx_commit_without_select_is_406(amqp_broker: BrokerTarget) -> None:
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        with pytest.raises(async_amqp.PreconditionFailedError) as caught:
            await chan.tx_commit()
    assert caught.value.reply_text == "PRECONDITION_FAILED - channel is not transactional"


async def test_consumer_raises_when_its_channel_fails(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare(queue)
        with pytest.raises(async_amqp.PreconditionFailedError):
            async with chan.new_consumer(queue_name=queue) as listener:
                await chan.basic_ack(4711)  # unknown delivery tag: the broker closes the channel
                async for _ in listener:
                    pytest.fail("nothing was published")
        assert not chan.is_open
        assert conn.is_open
