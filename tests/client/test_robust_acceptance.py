"""connect_robust under network cuts, on the fake broker and on RabbitMQ, through a proxy.

Each test cuts every connection of a :class:`FaultProxy` while the client works
and checks that nothing was lost, nothing hung and no stale delivery tag reached
the broker. The numbers (cuts, duplicates, reconnect times) are printed with
``-s`` for the record.
"""

from __future__ import annotations

import logging

import anyio
import pytest

import async_amqp
from async_amqp import EventKind
from tests.faultproxy import ProxiedBroker, wait_until

MESSAGES = 200
CUT_AFTER = (40, 90, 140)


async def publish_confirmed(target: ProxiedBroker, queue: str, bodies: list[bytes]) -> None:
    """Publish with confirms on a plain, direct connection (not through the proxy)."""
    async with target.target.connect() as conn, conn.new_channel() as chan:
        await chan.confirm_select()
        async with anyio.create_task_group() as task_group:
            for body in bodies:
                task_group.start_soon(chan.publish, body, "", queue)


async def message_count(target: ProxiedBroker, queue: str) -> int:
    async with target.target.connect() as conn, conn.new_channel() as chan:
        declared = await chan.queue_declare(queue, passive=True)
        assert declared is not None
        return int(declared["message_count"])


async def test_consumer_receives_everything_across_three_cuts(
    proxied_broker: ProxiedBroker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="async_amqp.robust")
    queue = proxied_broker.target.queue_name("robust-consume")
    bodies = [b"message %d" % number for number in range(MESSAGES)]
    received: list[bytes] = []
    redelivered = 0
    reconnect_times: list[float] = []
    with anyio.fail_after(60):
        async with proxied_broker.robust() as conn:
            chan = await conn.channel()
            await chan.queue_declare(queue)
            await chan.basic_qos(prefetch_count=10)
            await publish_confirmed(proxied_broker, queue, bodies)
            async with chan.new_consumer(queue) as consumer:
                async for body, envelope, _properties in consumer:
                    received.append(body)
                    redelivered += envelope.is_redeliver
                    if len(received) in CUT_AFTER:
                        # Cut before acking: the ack, sent after the reconnect, is stale.
                        generation = conn.generation
                        started = anyio.current_time()
                        assert proxied_broker.proxy.cut() == 1
                        await conn.wait_connected(after_generation=generation)
                        reconnect_times.append(anyio.current_time() - started)
                    await chan.basic_ack(envelope.delivery_tag)
                    if set(received) == set(bodies):
                        break
            assert chan.is_open  # no 406 closed it
            assert conn.generation == 1 + len(CUT_AFTER)
    stale = [r for r in caplog.records if "dropping basic.ack of delivery tag" in r.getMessage()]
    assert len(stale) == len(CUT_AFTER)

    async def queue_empty() -> bool:  # the acks have reached the queue process
        return await message_count(proxied_broker, queue) == 0

    await wait_until(queue_empty)
    print(
        f"\n[{proxied_broker.target.kind}] consume: {MESSAGES} messages, {len(CUT_AFTER)} cuts, "
        f"{len(received) - MESSAGES} duplicates ({redelivered} marked redelivered), "
        f"{len(stale)} stale acks dropped, reconnect+recovery "
        + ", ".join(f"{t * 1000:.0f} ms" for t in reconnect_times)
    )


async def test_server_named_exclusive_queue_keeps_its_binding(
    proxied_broker: ProxiedBroker,
) -> None:
    exchange = proxied_broker.target.exchange_name("robust-direct")
    with anyio.fail_after(30):
        async with proxied_broker.robust() as conn:
            with conn.events() as events:
                chan = await conn.channel()
                await chan.exchange_declare(exchange, "direct")
                declared = await chan.queue_declare("", exclusive=True)
                assert declared is not None
                first_name = declared.name
                await chan.queue_bind(first_name, exchange, "key")
                async with chan.new_consumer(first_name) as consumer:
                    async with proxied_broker.target.connect() as plain, plain.new_channel() as pc:
                        await pc.publish(b"before", exchange, "key")
                        body, envelope, _ = await consumer.get()
                        assert body == b"before"
                        await chan.basic_ack(envelope.delivery_tag)
                        proxied_broker.proxy.cut()
                        await conn.wait_connected(after_generation=1)
                        assert declared.name != first_name  # the broker named it anew
                        assert declared["queue"] == declared.name
                        assert consumer.queue_name == declared.name
                        await pc.confirm_select()
                        await pc.publish(b"after", exchange, "key", mandatory=True)  # routed
                        body, envelope, _ = await consumer.get()
                        assert body == b"after"
                        assert envelope.routing_key == "key"
                        await chan.basic_ack(envelope.delivery_tag)
                kinds = []
                async for event in events:
                    kinds.append(event.kind)
                    if event.kind is EventKind.RECOVERED and event.generation == 2:
                        assert event.renamed == {first_name: declared.name}
                        break
    assert kinds == [
        EventKind.DISCONNECTED,
        EventKind.RECONNECTING,
        EventKind.CONNECTED,
        EventKind.RECOVERED,
    ]


async def test_confirmed_publishes_across_three_cuts(proxied_broker: ProxiedBroker) -> None:
    total, workers = 2000, 20
    queue = proxied_broker.target.queue_name("robust-confirm")
    confirmed: list[bytes] = []
    not_confirmed: list[bytes] = []
    retried_ok = 0
    with anyio.fail_after(90):
        async with proxied_broker.robust() as conn:
            chan = await conn.channel()
            await chan.queue_declare(queue)
            await chan.confirm_select()
            cut_points = {total // 4, total // 2, 3 * total // 4}
            cut_done = anyio.Event()

            async def worker(first: int) -> None:
                nonlocal retried_ok
                for number in range(first, total, workers):
                    body = b"%d" % number
                    try:
                        await chan.publish(body, "", queue)
                    except async_amqp.PublishNotConfirmedError:
                        not_confirmed.append(body)
                        await chan.publish(body, "", queue)  # at least once: publish again
                        retried_ok += 1
                        continue
                    confirmed.append(body)
                    if len(confirmed) in cut_points:
                        proxied_broker.proxy.cut()
                        if len(confirmed) == max(cut_points):
                            cut_done.set()

            async with anyio.create_task_group() as task_group:
                for first in range(workers):
                    task_group.start_soon(worker, first)
            assert cut_done.is_set()
            assert conn.generation == 4
    assert len(confirmed) + len(not_confirmed) == total
    assert retried_ok == len(not_confirmed)
    in_queue: list[bytes] = []
    async with proxied_broker.target.connect() as plain, plain.new_channel() as pc:
        with anyio.fail_after(30):
            async with pc.new_consumer(queue, no_ack=True) as consumer:
                async for body, _envelope, _properties in consumer:
                    in_queue.append(body)
                    if len(set(in_queue)) == total:
                        break
    assert set(in_queue) == {b"%d" % number for number in range(total)}
    duplicates = len(in_queue) - total
    assert duplicates <= len(not_confirmed)
    print(
        f"\n[{proxied_broker.target.kind}] confirm: {total} publishes by {workers} tasks, 3 cuts, "
        f"{len(not_confirmed)} raised PublishNotConfirmedError (published again), "
        f"{duplicates} duplicates in the queue"
    )
