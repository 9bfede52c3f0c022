"""connect_robust against the fake broker's restart and its nodes (a cluster's failover)."""

from __future__ import annotations

import anyio

import async_amqp
from async_amqp import EventKind
from async_amqp_testing import FakeBroker
from tests.faultproxy import FAST


async def test_everything_is_restored_after_a_broker_restart() -> None:
    async with FakeBroker().serve() as broker:
        with anyio.fail_after(20):
            async with async_amqp.connect_robust(urls=[broker.url], **FAST) as conn:
                chan = await conn.channel()
                await chan.exchange_declare("events", "fanout")  # transient: gone at restart
                await chan.queue_declare("durable-jobs", durable=True)
                reply = await chan.queue_declare("", exclusive=True)
                assert reply is not None
                await chan.queue_bind(reply.name, "events")
                await chan.confirm_select()
                await chan.publish(b"kept", "", "durable-jobs", properties={"delivery_mode": 2})
                await chan.publish(b"lost", "", "durable-jobs")  # transient message
                old_name = reply.name
                await broker.restart()
                await conn.wait_connected(after_generation=1)
                assert reply.name != old_name
                await chan.publish(b"routed", "events", "", mandatory=True)  # binding is back
                async with chan.new_consumer(reply.name, no_ack=True) as consumer:
                    body, _, _ = await consumer.get()
                    assert body == b"routed"
                async with chan.new_consumer("durable-jobs") as consumer:
                    body, envelope, _ = await consumer.get()
                    assert body == b"kept"
                    await chan.basic_ack(envelope.delivery_tag)
                declared = await chan.queue_declare("durable-jobs", passive=True)
                assert declared is not None
                assert declared["message_count"] == 0  # the transient message did not survive


async def test_consumer_moves_to_the_second_node_when_the_first_stops() -> None:
    async with FakeBroker(nodes=2).serve() as broker:
        first, second = broker.urls
        with anyio.fail_after(20):
            robust = async_amqp.connect_robust(urls=broker.urls, **FAST)
            with robust.events() as events:
                async with robust as conn:
                    chan = await conn.channel()
                    await chan.queue_declare("orders", durable=True)
                    await chan.confirm_select()
                    async with chan.new_consumer("orders") as consumer:
                        await chan.publish(b"1", "", "orders")
                        body, envelope, _ = await consumer.get()
                        await chan.basic_ack(envelope.delivery_tag)
                        await broker.stop_node(0)  # gone for good
                        await conn.wait_connected(after_generation=1)
                        await chan.publish(b"2", "", "orders")
                        received = {body}
                        while received != {b"1", b"2"}:
                            body, envelope, _ = await consumer.get()
                            received.add(body)
                            await chan.basic_ack(envelope.delivery_tag)
                addresses = [
                    event.address async for event in events if event.kind is EventKind.CONNECTED
                ]
    port = [url.rsplit(":", 1)[1].rstrip("/") for url in (first, second)]
    assert addresses == [f"127.0.0.1:{port[0]}/", f"127.0.0.1:{port[1]}/"]
