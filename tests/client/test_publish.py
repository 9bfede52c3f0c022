"""Publishing: payload types, properties, large and empty bodies, returns, confirms."""

from __future__ import annotations

import datetime
from typing import TypedDict

import anyio
import pytest

import async_amqp
from async_amqp import Properties
from tests.support import BrokerTarget


class AllProperties(TypedDict):
    """Every basic property, as keyword arguments of :class:`Properties`."""

    content_type: str
    content_encoding: str
    headers: dict[str, object]
    delivery_mode: int
    priority: int
    correlation_id: str
    reply_to: str
    expiration: str
    message_id: str
    timestamp: datetime.datetime
    message_type: str
    user_id: str
    app_id: str
    cluster_id: str


ALL_PROPERTIES: AllProperties = {
    "content_type": "application/json",
    "content_encoding": "utf-8",
    "headers": {
        "int": 42,
        "neg": -7,
        "big": 2**40,
        "str": "text",
        "bool": True,
        "float": 1.5,
        "list": [1, "two", False],
        "table": {"nested": "yes"},
        "none": None,
        "time": datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.UTC),
    },
    "delivery_mode": 2,
    "priority": 7,
    "correlation_id": "corr-1",
    "reply_to": "reply.queue",
    "expiration": "60000",
    "message_id": "msg-1",
    "timestamp": datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
    "message_type": "greeting",
    "user_id": "guest",
    "app_id": "tests",
    "cluster_id": "cluster-a",
}


@pytest.mark.parametrize(
    "payload",
    [b"bytes", bytearray(b"bytearray"), memoryview(b"memoryview"), "str \u00e9\u2603"],
    ids=["bytes", "bytearray", "memoryview", "str"],
)
async def test_payload_types(
    amqp_broker: BrokerTarget, payload: bytes | bytearray | memoryview | str
) -> None:
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare(queue)
        await chan.publish(payload, "", queue)
        message = await chan.basic_get(queue, no_ack=True)
        expected = payload.encode() if isinstance(payload, str) else bytes(payload)
        assert message["message"] == expected


async def test_wrong_payload_type_is_a_type_error(amqp_broker: BrokerTarget) -> None:
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        with pytest.raises(TypeError, match="payload"):
            await chan.publish(12, "", "q")  # type: ignore[arg-type]  # the wrong type is the test
        with pytest.raises(ValueError, match="message_type"):
            await chan.publish(b"", "", "q", properties={"type": "t"})
        assert chan.is_open


@pytest.mark.parametrize("as_object", [False, True], ids=["dict", "Properties"])
async def test_all_properties_round_trip(amqp_broker: BrokerTarget, as_object: bool) -> None:
    queue = amqp_broker.queue_name()
    properties = Properties(**ALL_PROPERTIES) if as_object else dict(ALL_PROPERTIES)
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare(queue)
        await chan.publish(b"p", "", queue, properties=properties)
        async with chan.new_consumer(queue_name=queue, no_ack=True) as listener:
            async for _body, _envelope, received in listener:  # noqa: B007
                break
    assert isinstance(received, Properties)
    assert received.as_dict() == ALL_PROPERTIES


async def test_large_and_empty_bodies(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    large = bytes(range(256)) * 20000  # 5 MB, many frames
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare(queue)
        await chan.publish(large, "", queue)
        await chan.publish(b"", "", queue)
        first = await chan.basic_get(queue, no_ack=True)
        second = await chan.basic_get(queue, no_ack=True)
    assert first["message"] == large
    assert second["message"] == b""


async def test_publish_to_missing_exchange_closes_the_channel(amqp_broker: BrokerTarget) -> None:
    missing = amqp_broker.exchange_name("missing")
    async with amqp_broker.connect() as conn:
        async with conn.new_channel() as chan:
            await chan.publish(b"x", missing, "k")
            with pytest.raises(async_amqp.NotFoundError) as caught:
                await chan.basic_qos(prefetch_count=1)
        assert caught.value.reply_text == f"NOT_FOUND - no exchange '{missing}' in vhost '/'"
        assert (caught.value.class_id, caught.value.method_id) == (60, 40)


async def test_confirmed_publish_to_missing_exchange_raises(amqp_broker: BrokerTarget) -> None:
    missing = amqp_broker.exchange_name("missing")
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.confirm_select()
        with pytest.raises(async_amqp.NotFoundError):
            await chan.publish(b"x", missing, "k")


async def test_returns_are_buffered_until_iterated(amqp_broker: BrokerTarget) -> None:
    nowhere = amqp_broker.queue_name("nowhere")
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare(queue)
        await chan.publish(b"one", "", nowhere, properties={"message_id": "1"}, mandatory=True)
        await chan.publish(b"routed", "", queue, mandatory=True)
        await chan.publish(b"two", "", nowhere, mandatory=True)
        await chan.publish(b"dropped silently", "", nowhere)
        returned = []
        async for body, envelope, properties in chan:
            returned.append(
                (
                    body,
                    envelope.reply_code,
                    envelope.reply_text,
                    envelope.exchange_name,
                    envelope.routing_key,
                    properties.message_id,
                )
            )
            if len(returned) == 2:
                break
    assert returned == [
        (b"one", 312, "NO_ROUTE", "", nowhere, "1"),
        (b"two", 312, "NO_ROUTE", "", nowhere, None),
    ]


async def test_returns_iteration_ends_when_the_channel_closes(amqp_broker: BrokerTarget) -> None:
    seen: list[bytes] = []
    async with amqp_broker.connect() as conn:
        chan = await conn.channel()

        async def do_returns() -> None:
            async for body, _envelope, _properties in chan:
                seen.append(body)

        async with anyio.create_task_group() as tg:
            tg.start_soon(do_returns)
            await chan.publish(b"back", "", amqp_broker.queue_name("nowhere"), mandatory=True)
            await chan.confirm_select()
            await chan.publish(b"sync", "", amqp_broker.queue_name("nowhere"))
            await chan.close()
    assert seen == [b"back"]


async def test_confirms_many_concurrent_publishers(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    count = 2000
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare(queue)
        await chan.confirm_select()
        done: list[int] = []

        async def publish(index: int) -> None:
            await chan.publish(str(index), "", queue)
            done.append(index)

        async with anyio.create_task_group() as tg:
            for index in range(count):
                tg.start_soon(publish, index)
        assert sorted(done) == list(range(count))
        assert (await chan.queue_declare(queue, passive=True) or {})["message_count"] == count


async def test_confirmed_mandatory_return_tells_its_publisher(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    nowhere = amqp_broker.queue_name("nowhere")
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare(queue)
        await chan.confirm_select()
        outcomes: dict[str, str] = {}

        async def publish(name: str, routing_key: str) -> None:
            try:
                await chan.publish(name, "", routing_key, mandatory=True)
                outcomes[name] = "acked"
            except async_amqp.MessageReturnedError as error:
                assert error.reply_code == 312
                assert error.body == name.encode()
                outcomes[name] = "returned"

        async with anyio.create_task_group() as tg:
            for index in range(20):
                tg.start_soon(publish, f"r{index}", queue if index % 3 else nowhere)
        assert outcomes == {
            f"r{index}": ("acked" if index % 3 else "returned") for index in range(20)
        }
        returned = []
        async for body, envelope, _ in chan:  # noqa: B007 - envelope is used below
            returned.append(body)
            if len(returned) == 7:
                break
        assert sorted(returned) == sorted(f"r{index}".encode() for index in range(0, 20, 3))
        assert isinstance(
            async_amqp.MessageReturnedError(1, envelope, b"", async_amqp.Properties()),
            async_amqp.PublishFailed,
        )


async def test_nack_raises_publish_failed(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare(
            queue, arguments={"x-max-length": 1, "x-overflow": "reject-publish"}
        )
        await chan.confirm_select()
        await chan.publish(b"fits", "", queue)
        with pytest.raises(async_amqp.PublishFailed) as caught:
            await chan.publish(b"overflows", "", queue)
        assert caught.value.delivery_tag == 2
        await chan.publish(b"still usable after a nack", "", "")


async def test_immediate_is_not_implemented(amqp_broker: BrokerTarget) -> None:
    with pytest.raises(async_amqp.NotImplementedByBrokerError) as caught:
        async with amqp_broker.connect() as conn, conn.new_channel() as chan:
            await chan.publish(b"x", "", "q", immediate=True)
            await chan.basic_qos(prefetch_count=1)
    assert caught.value.reply_text == "NOT_IMPLEMENTED - immediate=true"


async def test_basic_publish_is_publish(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare(queue)
        await chan.basic_publish("old name", "", queue)
        assert (await chan.basic_get(queue, no_ack=True))["message"] == b"old name"
