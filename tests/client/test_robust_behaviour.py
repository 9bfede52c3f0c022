"""connect_robust: what is recovered and what is not, publishing while down, leaving the block."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest

import async_amqp
from async_amqp import EventKind
from async_amqp_testing import FakeBroker
from tests.faultproxy import FAST, ProxiedBroker, wait_until


async def cut_and_wait(target: ProxiedBroker, conn: async_amqp.RobustConnection) -> None:
    """Cut the connection and wait until it is back and recovered."""
    generation = conn.generation
    assert target.proxy.cut() == 1
    await conn.wait_connected(after_generation=generation)


async def test_forced_close_320_is_recovered(
    fake_broker: FakeBroker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="async_amqp.robust")
    with anyio.fail_after(10):
        async with async_amqp.connect_robust(urls=[fake_broker.url], **FAST) as conn:
            chan = await conn.channel()
            await chan.queue_declare("q-forced")
            assert fake_broker.close_connection(None, 320, "CONNECTION_FORCED - restart") == 1
            await conn.wait_connected(after_generation=1)
            await chan.publish(b"after", "", "q-forced")
            declared = await chan.queue_declare("q-forced", passive=True)
            assert declared is not None
            assert declared["message_count"] == 1
    address = f"127.0.0.1:{fake_broker.port}/"
    states = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert states[0] == f"connected to {address} (generation 1)"
    assert states[1] == (f"connection to {address} lost: 320 CONNECTION_FORCED - restart")
    assert states[2].startswith("reconnecting in ")
    assert states[3] == f"connected to {address} (generation 2)"
    assert states[4].startswith("recovered 1 channel(s) and 1 topology entries in ")


async def test_hard_error_caused_by_the_user_is_raised(proxied_broker: ProxiedBroker) -> None:
    with anyio.fail_after(10), pytest.raises(async_amqp.CommandInvalidError) as caught:
        async with proxied_broker.robust() as conn:
            chan = await conn.channel()
            await chan.exchange_declare(proxied_broker.target.exchange_name(), "no-such-type")
    assert caught.value.reply_code == 503
    assert proxied_broker.proxy.accepted == 1  # not retried


async def test_channel_closed_by_a_channel_error_is_not_resurrected(
    proxied_broker: ProxiedBroker,
) -> None:
    missing = proxied_broker.target.queue_name("missing")
    with anyio.fail_after(10):
        async with proxied_broker.robust() as conn:
            broken = await conn.channel()
            healthy = await conn.channel()
            with pytest.raises(async_amqp.NotFoundError):
                await broken.queue_declare(missing, passive=True)
            assert not broken.is_open
            await cut_and_wait(proxied_broker, conn)
            assert not broken.is_open
            with pytest.raises(async_amqp.NotFoundError):
                await broken.queue_declare("")
            assert healthy.is_open
            assert await healthy.queue_declare("", exclusive=True) is not None


async def test_deleted_and_unbound_entities_are_not_replayed(proxied_broker: ProxiedBroker) -> None:
    target = proxied_broker.target
    deleted, kept = target.queue_name("deleted"), target.queue_name("kept")
    exchange = target.exchange_name("unbound")
    with anyio.fail_after(20):
        async with proxied_broker.robust() as conn:
            chan = await conn.channel()
            await chan.exchange_declare(exchange, "fanout")
            await chan.queue_declare(deleted)
            await chan.queue_declare(kept)
            await chan.queue_bind(kept, exchange)
            await chan.queue_unbind(kept, exchange)
            await chan.queue_delete(deleted)
            await cut_and_wait(proxied_broker, conn)
            async with target.connect() as plain:
                async with plain.new_channel() as pc:
                    with pytest.raises(async_amqp.NotFoundError):
                        await pc.queue_declare(deleted, passive=True)
                async with plain.new_channel() as pc:
                    await pc.confirm_select()
                    with pytest.raises(async_amqp.MessageReturnedError):  # no binding
                        await pc.publish(b"x", exchange, "", mandatory=True)
                    assert await pc.queue_declare(kept, passive=True) is not None


async def test_exchange_to_exchange_binding_is_replayed(proxied_broker: ProxiedBroker) -> None:
    target = proxied_broker.target
    source, destination = target.exchange_name("src"), target.exchange_name("dst")
    with anyio.fail_after(20):
        async with proxied_broker.robust() as conn:
            chan = await conn.channel()
            await chan.exchange_declare(source, "topic")
            await chan.exchange_declare(destination, "fanout")
            await chan.exchange_bind(destination, source, "a.#")
            queue = await chan.queue_declare("", exclusive=True, auto_delete=True)
            assert queue is not None
            await chan.queue_bind(queue.name, destination)
            async with chan.new_consumer(queue.name, no_ack=True) as consumer:
                await cut_and_wait(proxied_broker, conn)
                async with target.connect() as plain, plain.new_channel() as pc:
                    await pc.confirm_select()
                    await pc.publish(b"routed twice", source, "a.b", mandatory=True)
                body, envelope, _ = await consumer.get()
                assert (body, envelope.exchange_name) == (b"routed twice", source)


async def test_qos_is_restored(proxied_broker: ProxiedBroker) -> None:
    queue = proxied_broker.target.queue_name("qos")
    with anyio.fail_after(20):
        async with proxied_broker.robust() as conn:
            chan = await conn.channel()
            await chan.queue_declare(queue)
            await chan.basic_qos(prefetch_count=2)
            await cut_and_wait(proxied_broker, conn)
            async with proxied_broker.target.connect() as plain, plain.new_channel() as pc:
                await pc.confirm_select()
                for number in range(5):
                    await pc.publish(b"%d" % number, "", queue)
                async with chan.new_consumer(queue) as consumer:
                    await consumer.get()
                    await consumer.get()
                    # unacked: prefetch 2 holds the other three in the queue

                    async def three_ready() -> bool:
                        declared = await pc.queue_declare(queue, passive=True)
                        return declared is not None and declared["message_count"] == 3

                    await wait_until(three_ready)
                    with anyio.move_on_after(0.1):
                        await consumer.get()
                        pytest.fail("a third delivery despite prefetch_count=2")


async def test_publish_while_disconnected_waits_for_the_reconnect(
    proxied_broker: ProxiedBroker,
) -> None:
    queue = proxied_broker.target.queue_name("waits")
    proxy = proxied_broker.proxy
    with anyio.fail_after(20):
        async with proxied_broker.robust() as conn:
            chan = await conn.channel()
            await chan.queue_declare(queue)
            await chan.confirm_select()
            proxy.refusing = True
            proxy.cut()
            await wait_disconnected(conn)
            with anyio.move_on_after(0.2) as scope:  # the caller's own bound
                await chan.publish(b"gave up", "", queue)
            assert scope.cancelled_caught
            assert not conn.is_connected
            published = anyio.Event()

            async def publish() -> None:
                await chan.publish(b"waited", "", queue)
                published.set()

            async with anyio.create_task_group() as task_group:
                task_group.start_soon(publish)
                await anyio.sleep(0.1)
                assert not published.is_set()
                proxy.refusing = False
            declared = await chan.queue_declare(queue, passive=True)
            assert declared is not None
            assert declared["message_count"] == 1


async def test_callback_consumer_continues_across_a_cut(proxied_broker: ProxiedBroker) -> None:
    queue = proxied_broker.target.queue_name("callback")
    seen: list[bytes] = []
    enough = anyio.Event()

    async def on_message(chan: Any, body: bytes, envelope: Any, properties: Any) -> None:
        seen.append(body)
        await chan.basic_ack(envelope.delivery_tag)
        if {b"before", b"after"} <= set(seen):
            enough.set()

    with anyio.fail_after(20):
        async with proxied_broker.robust() as conn:
            chan = await conn.channel()
            await chan.queue_declare(queue)
            await chan.basic_consume(on_message, queue, consumer_tag="my-tag")
            await chan.publish(b"before", "", queue)
            await wait_until(lambda: bool(seen))
            await cut_and_wait(proxied_broker, conn)
            await chan.publish(b"after", "", queue)
            await enough.wait()
            async with proxied_broker.target.connect() as plain, plain.new_channel() as pc:
                declared = await pc.queue_declare(queue, passive=True)
                assert declared is not None
                assert declared["consumer_count"] == 1  # restored once, with its tag


async def test_leaving_the_block_leaves_nothing_behind(proxied_broker: ProxiedBroker) -> None:
    proxy = proxied_broker.proxy
    await anyio.wait_all_tasks_blocked()  # the fixtures' listeners have all started
    before = _task_count()
    robust = proxied_broker.robust()
    with anyio.fail_after(20), robust.events() as events:
        async with robust as conn:
            chan = await conn.channel()
            queue = await chan.queue_declare("", exclusive=True)
            assert queue is not None
            async with chan.new_consumer(queue.name) as consumer:
                await cut_and_wait(proxied_broker, conn)
                assert consumer.active
        assert not conn.is_open
        assert not consumer.active
        await wait_until(lambda: proxy.active == 0)
        kinds = [event.kind async for event in events]
    assert kinds[-1] is EventKind.CLOSED
    await wait_until(lambda: _task_count() <= before)  # a leak would stay above
    with pytest.raises(async_amqp.ConnectionClosedError):
        await chan.publish(b"too late", "", queue.name)


async def wait_disconnected(conn: async_amqp.RobustConnection) -> None:
    """Wait until the client has noticed that its connection is gone."""
    await wait_until(lambda: not conn.is_connected)


def _task_count() -> int:
    """Every task of the event loop: asyncio's set, or trio's tree from the root task."""
    import sniffio

    if sniffio.current_async_library() == "asyncio":
        import asyncio

        return len(asyncio.all_tasks())
    import trio

    def count(task: trio.lowlevel.Task) -> int:
        return 1 + sum(
            count(child) for nursery in task.child_nurseries for child in nursery.child_tasks
        )

    root = trio.lowlevel.current_root_task()
    assert root is not None
    return count(root)


async def test_stale_ack_is_dropped_and_logged(
    proxied_broker: ProxiedBroker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="async_amqp.robust")
    queue = proxied_broker.target.queue_name("stale")
    with anyio.fail_after(20):
        async with proxied_broker.robust() as conn:
            chan = await conn.channel()
            await chan.queue_declare(queue)
            await chan.publish(b"m", "", queue)
            async with chan.new_consumer(queue) as consumer:
                _, first, _ = await consumer.get()
                await cut_and_wait(proxied_broker, conn)
                await chan.basic_ack(first.delivery_tag)
                await chan.basic_nack(first.delivery_tag)
                await chan.basic_reject(first.delivery_tag)
                _, again, _ = await consumer.get()
                assert again.is_redeliver
                assert again.delivery_tag > first.delivery_tag  # tags keep growing
                await chan.basic_ack(again.delivery_tag)
            assert chan.is_open
    dropped = [r.getMessage() for r in caplog.records if r.getMessage().startswith("dropping")]
    assert dropped == [
        f"dropping basic.{what} of delivery tag {first.delivery_tag} from an earlier connection"
        for what in ("ack", "nack", "reject")
    ]


async def test_basic_get_tags_are_offset_too(proxied_broker: ProxiedBroker) -> None:
    queue = proxied_broker.target.queue_name("get")
    with anyio.fail_after(20):
        async with proxied_broker.robust() as conn:
            chan = await conn.channel()
            await chan.queue_declare(queue)
            await chan.confirm_select()
            await chan.publish(b"a", "", queue)
            first = await chan.basic_get(queue)
            await cut_and_wait(proxied_broker, conn)
            second = await chan.basic_get(queue)  # "a" again: it was not acknowledged
            assert (second["message"], second["redelivered"]) == (b"a", True)
            assert second["delivery_tag"] > first["delivery_tag"]
            await chan.basic_ack(first["delivery_tag"])  # stale: dropped
            await chan.basic_ack(second["delivery_tag"])
            with pytest.raises(async_amqp.EmptyQueueError):
                await chan.basic_get(queue)
            assert chan.is_open


async def test_close_inside_the_block_stops_reconnecting(proxied_broker: ProxiedBroker) -> None:
    proxy = proxied_broker.proxy
    with anyio.fail_after(20):
        async with proxied_broker.robust() as conn:
            chan = await conn.channel()
            await conn.close()
            assert not conn.is_open
            assert not conn.is_connected
            await wait_until(lambda: proxy.active == 0)
            with pytest.raises(async_amqp.ConnectionClosedError):
                await chan.queue_declare("")
            await conn.close()  # a second close does nothing
        assert proxy.accepted == 1


@pytest.mark.parametrize("connected", [True, False])
async def test_cancelling_the_block_from_outside_leaves_at_once(
    proxied_broker: ProxiedBroker, connected: bool
) -> None:
    from async_amqp._robust.channel import CLOSE_TIMEOUT

    proxy = proxied_broker.proxy
    # Well under the close timeout: leaving must not wait for a close-ok nobody reads.
    with anyio.fail_after(CLOSE_TIMEOUT - 2):
        with anyio.move_on_after(0.3) as scope:
            async with proxied_broker.robust() as conn:
                chan = await conn.channel()
                if not connected:
                    proxy.refusing = True
                    proxy.cut()
                await chan.queue_declare("", exclusive=True)
                await anyio.sleep_forever()
        assert scope.cancelled_caught
        assert not conn.is_open
        await wait_until(lambda: proxy.active == 0)


async def test_cancelling_the_first_connection_attempts(proxied_broker: ProxiedBroker) -> None:
    proxy = proxied_broker.proxy
    proxy.refusing = True
    robust = proxied_broker.robust()
    with anyio.fail_after(10), anyio.move_on_after(0.2) as scope:
        async with robust:
            pytest.fail("connected through a proxy that refuses")
    assert scope.cancelled_caught
    assert not robust.is_open
    with pytest.raises(async_amqp.ConnectionClosedError):
        await robust.wait_connected()


async def test_the_callback_starter_starts_with_the_first_callback(
    fake_broker: FakeBroker,
) -> None:
    """Like a plain connection's, the robust connection's consumer-callback starter is
    not started until a callback is queued (most connections never queue one)."""
    ran = anyio.Event()

    async def on_message(chan: Any, body: bytes, envelope: Any, properties: Any) -> None:
        ran.set()

    with anyio.fail_after(10):
        async with async_amqp.connect_robust(urls=[fake_broker.url]) as conn:
            chan = await conn.channel()
            tasks = conn._tasks
            assert tasks._serve_later_in is not None  # kept for a start on demand
            queue = await chan.queue_declare("", exclusive=True)
            assert queue is not None
            await chan.basic_consume(on_message, queue.name, no_ack=True)
            await chan.publish(b"m", "", queue.name)
            await ran.wait()
            assert tasks._serve_later_in is None  # started
        assert tasks._serve_later_in is None
