"""RabbitMQ extensions the fake broker models, checked end to end on both brokers:
priorities, TTL, length limits, dead-lettering, alternate exchanges, CC/BCC.

Confirms are the barrier everywhere ("acked" means "enqueued"), and consumers wait
for what arrives asynchronously, so nothing here depends on timing.
"""

from __future__ import annotations

import anyio
import pytest

import async_amqp
from tests.support import BrokerTarget


async def drain(chan: async_amqp.Channel, queue: str, count: int) -> list[bytes]:
    """Receive *count* messages from *queue* (no_ack), in delivery order."""
    bodies: list[bytes] = []
    with anyio.fail_after(10):
        async with chan.new_consumer(queue_name=queue, no_ack=True) as listener:
            async for body, _envelope, _properties in listener:
                bodies.append(body)
                if len(bodies) == count:
                    break
    return bodies


async def test_priority_queue_delivers_highest_first(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare(queue, arguments={"x-max-priority": 5})
        await chan.confirm_select()
        for body, priority in ((b"low", 1), (b"none", None), (b"high", 5), (b"over", 9)):
            properties = {} if priority is None else {"priority": priority}
            await chan.publish(body, "", queue, properties=properties)
        # priorities above the maximum count as the maximum; FIFO within a priority
        assert await drain(chan, queue, 4) == [b"high", b"over", b"low", b"none"]


async def test_ttl_zero_drops_what_no_consumer_takes(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare(queue, arguments={"x-message-ttl": 0})
        await chan.confirm_select()
        await chan.publish(b"expires at once", "", queue)
        with pytest.raises(async_amqp.EmptyQueue):
            await chan.basic_get(queue, no_ack=True)


async def test_max_length_drops_the_head(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare(queue, arguments={"x-max-length": 2})
        await chan.confirm_select()
        for body in (b"1", b"2", b"3"):
            await chan.publish(body, "", queue)
        assert (await chan.queue_declare(queue, passive=True) or {})["message_count"] == 2
        assert await drain(chan, queue, 2) == [b"2", b"3"]


async def test_rejected_messages_are_dead_lettered_with_x_death(
    amqp_broker: BrokerTarget,
) -> None:
    queue = amqp_broker.queue_name()
    dead = amqp_broker.queue_name("dead")
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare(dead)
        await chan.queue_declare(
            queue,
            arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": dead},
        )
        await chan.confirm_select()
        await chan.publish(b"doomed", "", queue, properties={"headers": {"mine": "kept"}})
        message = await chan.basic_get(queue)
        await chan.basic_reject(message["delivery_tag"], requeue=False)
        with anyio.fail_after(10):
            async with chan.new_consumer(queue_name=dead, no_ack=True) as listener:
                body, envelope, properties = await listener.__anext__()
    assert body == b"doomed"
    assert envelope.routing_key == dead
    headers = properties.headers or {}
    assert headers["mine"] == "kept"
    assert headers["x-first-death-reason"] == "rejected"
    assert headers["x-first-death-queue"] == queue
    (death,) = headers["x-death"]
    assert (death["reason"], death["queue"], death["count"]) == ("rejected", queue, 1)
    assert death["routing-keys"] == [queue]


async def test_alternate_exchange_takes_what_nothing_else_routes(
    amqp_broker: BrokerTarget,
) -> None:
    exchange = amqp_broker.exchange_name()
    alternate = amqp_broker.exchange_name("alternate")
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.exchange_declare(alternate, "fanout")
        await chan.exchange_declare(exchange, "direct", arguments={"alternate-exchange": alternate})
        await chan.queue_declare(queue)
        await chan.queue_bind(queue, alternate)
        await chan.confirm_select()
        # routed by the alternate exchange, so a mandatory publish is not returned
        await chan.publish(b"caught", exchange, "no-binding", mandatory=True)
        assert await drain(chan, queue, 1) == [b"caught"]


async def test_cc_and_bcc_route_to_more_queues_and_bcc_is_removed(
    amqp_broker: BrokerTarget,
) -> None:
    first, second, third = (amqp_broker.queue_name(n) for n in ("first", "second", "third"))
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        for queue in (first, second, third):
            await chan.queue_declare(queue)
        await chan.confirm_select()
        await chan.publish(
            b"copied", "", first, properties={"headers": {"CC": [second], "BCC": [third]}}
        )
        received = {}
        for queue in (first, second, third):
            message = await chan.basic_get(queue, no_ack=True)
            received[queue] = (message["message"], message["properties"].headers or {})
    assert all(body == b"copied" for body, _ in received.values())
    assert all("BCC" not in headers for _, headers in received.values())
    assert received[first][1]["CC"] == [second]
