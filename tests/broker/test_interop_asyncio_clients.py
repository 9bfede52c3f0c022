"""aio-pika and aiormq against the fake broker (asyncio-only clients: trio is skipped).

Realistic workflows: topic routing with headers, iterating a queue with
acks and qos, publisher confirms and mandatory returns, the RPC pattern,
large messages, and aiormq's low-level calls.
"""

from __future__ import annotations

import asyncio

import aio_pika
import aio_pika.abc
import aio_pika.exceptions
import aiormq
import pytest
from aio_pika.patterns import RPC

from async_amqp_testing import FakeBroker


@pytest.fixture(
    params=[
        "asyncio",
        pytest.param(
            "trio", marks=pytest.mark.skip(reason="aio-pika and aiormq run on asyncio only")
        ),
    ]
)
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_aio_pika_topic_routing_headers_and_ack(fake_broker: FakeBroker) -> None:
    connection = await aio_pika.connect(fake_broker.url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange("logs", aio_pika.ExchangeType.TOPIC)
        queue = await channel.declare_queue("errors", durable=True)
        await queue.bind(exchange, routing_key="*.error")
        await exchange.publish(
            aio_pika.Message(
                b"disk full",
                headers={"host": "db1", "count": 3},
                content_type="text/plain",
                correlation_id="c-9",
            ),
            routing_key="db.error",
        )
        await exchange.publish(aio_pika.Message(b"fine"), routing_key="db.info")
        await channel.set_qos(prefetch_count=1)
        async with queue.iterator() as messages:
            async for message in messages:
                async with message.process():
                    assert message.body == b"disk full"
                    assert message.headers == {"host": "db1", "count": 3}
                    assert message.content_type == "text/plain"
                    assert message.correlation_id == "c-9"
                    assert message.routing_key == "db.error"
                break
        declared = await channel.declare_queue("errors", passive=True)
        assert declared.declaration_result.message_count == 0
    assert fake_broker.unacked() == []


async def test_aio_pika_confirms_and_returns(fake_broker: FakeBroker) -> None:
    connection = await aio_pika.connect(fake_broker.url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        await channel.declare_queue("confirmed")
        confirmation = await channel.default_exchange.publish(
            aio_pika.Message(b"kept"), routing_key="confirmed", mandatory=True
        )
        assert confirmation is not None
        with pytest.raises(aio_pika.exceptions.DeliveryError):
            await channel.default_exchange.publish(
                aio_pika.Message(b"lost"), routing_key="nobody-here", mandatory=True
            )
    assert [m.body for m in fake_broker.messages("confirmed")] == [b"kept"]


async def test_aio_pika_rpc_pattern(fake_broker: FakeBroker) -> None:
    connection = await aio_pika.connect(fake_broker.url)
    async with connection:
        channel = await connection.channel()
        rpc = await RPC.create(channel)

        async def multiply(*, x: int, y: int) -> int:
            return x * y

        await rpc.register("multiply", multiply, auto_delete=True)
        assert await asyncio.wait_for(rpc.proxy.multiply(x=6, y=7), 10) == 42
        await rpc.close()


async def test_aio_pika_large_message_and_get(fake_broker: FakeBroker) -> None:
    body = b"0123456789abcdef" * 100_000  # 1.6 MB
    connection = await aio_pika.connect(fake_broker.url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True)
        await channel.default_exchange.publish(aio_pika.Message(body), routing_key=queue.name)
        message = await queue.get(timeout=10)
        assert message is not None
        assert message.body == body
        await message.ack()
        assert await queue.get(fail=False) is None


async def test_aiormq_low_level(fake_broker: FakeBroker) -> None:
    connection = await aiormq.connect(fake_broker.url)
    try:
        channel = await connection.channel()
        declared = await channel.queue_declare("raw-q")
        assert declared.queue == "raw-q"
        await channel.basic_publish(
            b"payload",
            routing_key="raw-q",
            properties=aiormq.spec.Basic.Properties(message_id="id-1", headers={"k": "v"}),
        )
        received: asyncio.Queue[aiormq.abc.DeliveredMessage] = asyncio.Queue()

        async def on_message(message: aiormq.abc.DeliveredMessage) -> None:
            await received.put(message)

        consume_ok = await channel.basic_consume("raw-q", on_message, consumer_tag="raw-ctag")
        assert consume_ok.consumer_tag == "raw-ctag"
        message = await asyncio.wait_for(received.get(), 10)
        assert message.body == b"payload"
        assert message.header.properties.message_id == "id-1"
        assert message.header.properties.headers == {"k": "v"}
        assert message.delivery_tag is not None
        await channel.basic_ack(message.delivery_tag)
        await channel.basic_cancel("raw-ctag")
        assert (await channel.queue_delete("raw-q")).message_count == 0
    finally:
        await connection.close()


async def test_aiormq_consumer_cancelled_by_the_server(fake_broker: FakeBroker) -> None:
    connection = await aiormq.connect(fake_broker.url)
    try:
        channel = await connection.channel()
        assert isinstance(channel, aiormq.Channel)  # typed as AbstractChannel: no .consumers
        await channel.queue_declare("doomed")

        async def ignore(message: aiormq.abc.DeliveredMessage) -> None:
            del message

        await channel.basic_consume("doomed", ignore, consumer_tag="c", no_ack=True)
        assert fake_broker.cancel_consumer("doomed") == 1
        await channel.queue_declare("doomed", passive=True)  # a barrier after the cancel
        assert fake_broker.queue("doomed").consumers == ()
        assert "c" not in channel.consumers
    finally:
        await connection.close()
