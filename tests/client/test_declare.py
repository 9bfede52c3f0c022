"""Exchanges and queues: declare, passive, bind, unbind, purge, delete, and their errors."""

from __future__ import annotations

import anyio
import pytest

import async_amqp
from tests.support import BrokerTarget


async def test_queue_declare_server_named(amqp_broker: BrokerTarget) -> None:
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        result = await chan.queue_declare("", exclusive=True)
        assert result is not None
        assert result["queue"].startswith("amq.gen-")
        assert len(result["queue"]) == len("amq.gen-") + 22
        assert result["message_count"] == 0
        assert result["consumer_count"] == 0


async def test_api_document_queue_declare_example(amqp_broker: BrokerTarget) -> None:
    async with amqp_broker.connect() as conn, conn.new_channel() as channel:
        result = await channel.queue_declare(
            queue_name="", durable=True, arguments={"x-max-priority": 4}
        )
        assert result is not None
        await channel.queue_delete(result["queue"])


async def test_api_document_bind_example(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    exchange = amqp_broker.exchange_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare(queue_name=queue)
        await chan.exchange_declare(exchange_name=exchange)
        await chan.queue_bind(queue, exchange, routing_key="")
        await chan.confirm_select()  # the ack means "enqueued": a reliable barrier
        await chan.publish("routed", exchange, "")
        assert (await chan.queue_declare(queue, passive=True) or {})["message_count"] == 1


async def test_api_document_exchange_declare_example(amqp_broker: BrokerTarget) -> None:
    exchange = amqp_broker.exchange_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.exchange_declare(exchange_name=exchange, auto_delete=True)
        # a passive declare checks existence only
        assert await chan.exchange_declare(exchange, passive=True) == {"exchange": exchange}


async def test_queue_counts_and_purge_and_delete(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare(queue)
        await chan.confirm_select()
        for index in range(3):
            await chan.publish(str(index), "", queue)
        assert await chan.queue_declare(queue, passive=True) == {
            "queue": queue,
            "message_count": 3,
            "consumer_count": 0,
        }
        assert await chan.queue_purge(queue) == {"message_count": 3}
        await chan.publish("again", "", queue)
        assert await chan.queue_delete(queue) == {"message_count": 1}
        assert await chan.queue_delete(queue) == {"message_count": 0}


async def test_queue_delete_if_empty_refuses(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn:
        async with conn.new_channel() as chan:
            await chan.queue_declare(queue)
            await chan.confirm_select()
            await chan.publish("x", "", queue)
            with pytest.raises(async_amqp.PreconditionFailedError) as caught:
                await chan.queue_delete(queue, if_empty=True)
        assert (
            caught.value.reply_text
            == f"PRECONDITION_FAILED - queue '{queue}' in vhost '/' not empty"
        )


async def test_queue_redeclare_with_other_flags_is_406(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare(queue, durable=False)
        with pytest.raises(async_amqp.PreconditionFailedError) as caught:
            await chan.queue_declare(queue, durable=True)
    assert caught.value.reply_text == (
        f"PRECONDITION_FAILED - inequivalent arg 'durable' for queue '{queue}' in vhost '/': "
        "received 'true' but current is 'false'"
    )


async def test_exclusive_queue_is_locked_for_other_connections(amqp_broker: BrokerTarget) -> None:
    async with amqp_broker.connect() as owner, owner.new_channel() as chan:
        queue = (await chan.queue_declare("", exclusive=True) or {})["queue"]
        async with amqp_broker.connect() as other, other.new_channel() as other_chan:
            with pytest.raises(async_amqp.ResourceLockedError) as caught:
                await other_chan.queue_declare(queue, passive=True)
        assert caught.value.reply_code == 405
        assert caught.value.reply_text.startswith(
            f"RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '{queue}'"
        )
        async with owner.new_channel() as second:
            assert (await second.queue_declare(queue, passive=True) or {})["queue"] == queue


async def test_exchange_passive_missing_and_reserved_names(amqp_broker: BrokerTarget) -> None:
    missing = amqp_broker.exchange_name("missing")
    async with amqp_broker.connect() as conn:
        async with conn.new_channel() as chan:
            with pytest.raises(async_amqp.NotFoundError) as caught:
                await chan.exchange_declare(missing, passive=True)
            assert caught.value.reply_text == f"NOT_FOUND - no exchange '{missing}' in vhost '/'"
        async with conn.new_channel() as chan:
            with pytest.raises(async_amqp.AccessRefusedError) as refused:
                await chan.exchange_declare("amq.mine", "direct")
            assert refused.value.reply_text == (
                "ACCESS_REFUSED - exchange name 'amq.mine' contains reserved prefix 'amq.*'"
            )
        async with conn.new_channel() as chan:
            assert await chan.exchange_declare("amq.topic", "topic", durable=True)


async def test_exchange_redeclare_with_other_type_is_406(amqp_broker: BrokerTarget) -> None:
    exchange = amqp_broker.exchange_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.exchange_declare(exchange, "fanout")
        with pytest.raises(async_amqp.PreconditionFailedError) as caught:
            await chan.exchange_declare(exchange, "topic")
    assert caught.value.reply_text == (
        f"PRECONDITION_FAILED - inequivalent arg 'type' for exchange '{exchange}' in vhost '/': "
        "received 'topic' but current is 'fanout'"
    )


async def test_exchange_to_exchange_bindings_route(amqp_broker: BrokerTarget) -> None:
    source = amqp_broker.exchange_name("src")
    destination = amqp_broker.exchange_name("dst")
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.exchange_declare(source, "topic")
        await chan.exchange_declare(destination, "fanout")
        await chan.confirm_select()
        await chan.queue_declare(queue)
        await chan.queue_bind(queue, destination)
        await chan.exchange_bind(destination, source, "a.*")
        await chan.publish("match", source, "a.b")
        await chan.publish("no match", source, "b.a")
        await chan.exchange_unbind(destination, source, "a.*")
        await chan.publish("unbound", source, "a.c")
        message = await chan.basic_get(queue, no_ack=True)
        assert message["message"] == b"match"
        with pytest.raises(async_amqp.EmptyQueue):
            await chan.basic_get(queue, no_ack=True)


async def test_exchange_delete_if_unused(amqp_broker: BrokerTarget) -> None:
    exchange = amqp_broker.exchange_name()
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn:
        async with conn.new_channel() as chan:
            await chan.exchange_declare(exchange, "direct")
            await chan.queue_declare(queue)
            await chan.queue_bind(queue, exchange, "k")
            with pytest.raises(async_amqp.PreconditionFailedError) as caught:
                await chan.exchange_delete(exchange, if_unused=True)
            assert caught.value.reply_text == (
                f"PRECONDITION_FAILED - exchange '{exchange}' in vhost '/' in use"
            )
        async with conn.new_channel() as chan:
            await chan.queue_unbind(queue, exchange, "k")
            assert await chan.exchange_delete(exchange, if_unused=True) is True


@pytest.mark.parametrize(
    ("exchange_type", "binding_key", "routing_key", "routed"),
    [
        ("direct", "a", "a", True),
        ("direct", "a", "b", False),
        ("fanout", "ignored", "anything", True),
        ("topic", "a.*.c", "a.b.c", True),
        ("topic", "a.#", "a", True),
        ("topic", "*", "", False),
        ("topic", "#.a.#", "a", True),
        ("topic", "a.#.*.c", "a.c", False),
    ],
)
async def test_routing_by_exchange_type(
    amqp_broker: BrokerTarget,
    exchange_type: str,
    binding_key: str,
    routing_key: str,
    routed: bool,
) -> None:
    exchange = amqp_broker.exchange_name()
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.exchange_declare(exchange, exchange_type, auto_delete=True)
        await chan.queue_declare(queue)
        await chan.confirm_select()
        await chan.queue_bind(queue, exchange, binding_key)
        await chan.publish("m", exchange, routing_key)
        count = (await chan.queue_declare(queue, passive=True) or {})["message_count"]
        assert count == (1 if routed else 0)


async def test_headers_exchange(amqp_broker: BrokerTarget) -> None:
    exchange = amqp_broker.exchange_name()
    all_queue = amqp_broker.queue_name("all")
    any_queue = amqp_broker.queue_name("any")
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.exchange_declare(exchange, "headers")
        await chan.queue_declare(all_queue)
        await chan.queue_declare(any_queue)
        await chan.queue_bind(all_queue, exchange, arguments={"x-match": "all", "a": 1, "b": "x"})
        await chan.queue_bind(any_queue, exchange, arguments={"x-match": "any", "a": 1, "b": "x"})
        await chan.confirm_select()
        await chan.publish("both", exchange, "", properties={"headers": {"a": 1, "b": "x"}})
        await chan.publish("one", exchange, "", properties={"headers": {"a": 1}})
        await chan.publish("none", exchange, "")
        counts = [
            (await chan.queue_declare(queue, passive=True) or {})["message_count"]
            for queue in (all_queue, any_queue)
        ]
        assert counts == [1, 2]


async def test_no_wait_declare_then_barrier(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    exchange = amqp_broker.exchange_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        assert await chan.exchange_declare(exchange, "direct", no_wait=True) is None
        assert await chan.queue_declare(queue, no_wait=True) is None
        assert await chan.queue_bind(queue, exchange, "k", no_wait=True) is None
        await chan.confirm_select()
        await chan.publish("m", exchange, "k")
        assert (await chan.queue_declare(queue, passive=True) or {})["message_count"] == 1


async def test_no_wait_error_arrives_as_channel_close(amqp_broker: BrokerTarget) -> None:
    missing = amqp_broker.queue_name("missing")
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_delete(missing, no_wait=True)  # fine: deleting nothing
        await chan.queue_bind(missing, "amq.direct", "k", no_wait=True)
        with pytest.raises(async_amqp.NotFoundError):
            with anyio.fail_after(5):
                await chan.queue_declare(missing, passive=True)
