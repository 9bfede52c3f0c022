"""Fault injection through the FakeBroker API, seen by our client and by raw connections.

Forced closes and dropped sockets must surface as the client's typed errors;
a resource alarm must block publishers the way RabbitMQ does (only connections
that publish are told, and the broker stops reading them); server-side
consumer cancels must end ``async for``; paused replies must be held, not lost.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
import anyio.abc
import pytest
from pamqp import commands

import async_amqp
from async_amqp_testing import FakeBroker
from async_amqp_testing.raw import DEFAULT_CAPABILITIES, RawConnection


async def wait_until(predicate: Callable[[], bool]) -> None:
    """Poll *predicate* (state another task changes) until it holds, at most 10 s."""
    with anyio.fail_after(10):
        while not predicate():  # noqa: ASYNC110 - the state belongs to the client under test
            await anyio.sleep(0.005)


async def test_forced_close_raises_connection_forced(fake_broker: FakeBroker) -> None:
    with pytest.raises(async_amqp.ConnectionForcedError) as caught:
        async with fake_broker.connect(client_properties={"connection_name": "victim"}) as conn:
            async with conn.new_channel() as channel:
                await channel.queue_declare("q-forced")
                assert fake_broker.close_connection("victim") == 1
                with anyio.fail_after(10):
                    await anyio.sleep_forever()
    assert caught.value.reply_code == 320
    assert caught.value.reply_text == "CONNECTION_FORCED - Closed via management plugin"
    await wait_until(lambda: fake_broker.connections() == [])


async def test_forced_close_with_custom_code_and_text(fake_broker: FakeBroker) -> None:
    async with await RawConnection.connect(fake_broker.host, fake_broker.port) as raw:
        await raw.handshake()
        (info,) = fake_broker.connections()
        fake_broker.close_connection(info, 320, "CONNECTION_FORCED - bye")
        close = await raw.expect_connection_close()
        assert (close.reply_code, close.reply_text, close.class_id, close.method_id) == (
            320,
            "CONNECTION_FORCED - bye",
            0,
            0,
        )
        assert await raw.wait_closed() == []


async def test_dropped_connection_raises_connection_lost(fake_broker: FakeBroker) -> None:
    with pytest.raises(async_amqp.ConnectionLostError):
        async with fake_broker.connect() as conn:
            async with conn.new_channel() as channel:
                await channel.queue_declare("q-dropped")
                assert fake_broker.drop_connection() == 1
                with anyio.fail_after(10):
                    await anyio.sleep_forever()


async def test_close_and_drop_of_unknown_connections_do_nothing(fake_broker: FakeBroker) -> None:
    async with fake_broker.connect() as conn:
        assert fake_broker.close_connection(999) == 0
        assert fake_broker.drop_connection("no-such-name") == 0
        async with conn.new_channel() as channel:
            await channel.queue_declare("q-still-fine")


async def test_shutdown_closes_clients_with_320() -> None:
    broker = FakeBroker()
    stop = anyio.Event()

    async def serve(*, task_status: anyio.abc.TaskStatus[None]) -> None:
        async with broker.serve():
            task_status.started()
            await stop.wait()

    async with anyio.create_task_group() as task_group:
        await task_group.start(serve)
        with pytest.raises(async_amqp.ConnectionForcedError) as caught:
            async with broker.connect() as conn, conn.new_channel() as channel:
                await channel.queue_declare("q")
                stop.set()  # leave serve() with the client connected: RabbitMQ's shutdown
                with anyio.fail_after(10):
                    await anyio.sleep_forever()
    assert caught.value.reply_code == 320
    assert caught.value.reply_text == (
        "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'"
    )


async def test_blocked_publisher_waits_and_times_out(fake_broker: FakeBroker) -> None:
    async with fake_broker.connect(blocked_timeout=0.2) as conn, conn.new_channel() as channel:
        await channel.queue_declare("q-blocked")
        fake_broker.block("low on memory")
        # The alarm is only noticed once the connection publishes (as in RabbitMQ).
        assert not conn.is_blocked
        await channel.publish(b"first", "", "q-blocked")
        await wait_until(lambda: conn.is_blocked)
        assert conn.blocked_reason == "low on memory"
        with pytest.raises(async_amqp.ConnectionBlockedError):
            await channel.publish(b"second", "", "q-blocked")
        fake_broker.unblock()
        await wait_until(lambda: not conn.is_blocked)
        await channel.publish(b"third", "", "q-blocked")
        declared = await channel.queue_declare("q-blocked", passive=True)
        assert declared is not None
        assert declared["message_count"] == 2
    assert [m.body for m in fake_broker.messages("q-blocked")] == [b"first", b"third"]


async def test_blocked_publish_resumes_on_unblock(fake_broker: FakeBroker) -> None:
    async with fake_broker.connect() as conn, conn.new_channel() as channel:
        await channel.queue_declare("q-resume")
        fake_broker.block()
        await channel.publish(b"1", "", "q-resume")
        await wait_until(lambda: conn.is_blocked)
        published = anyio.Event()

        async def publish_second() -> None:
            await channel.publish(b"2", "", "q-resume")
            published.set()

        async with anyio.create_task_group() as task_group:
            task_group.start_soon(publish_second)
            await anyio.wait_all_tasks_blocked() if hasattr(
                anyio, "wait_all_tasks_blocked"
            ) else None
            assert not published.is_set()
            fake_broker.unblock()
        declared = await channel.queue_declare("q-resume", passive=True)
        assert declared is not None
        assert declared["message_count"] == 2


async def test_only_publishing_connections_are_blocked(fake_broker: FakeBroker) -> None:
    async with await RawConnection.connect(fake_broker.host, fake_broker.port) as raw:
        await raw.handshake()
        await raw.open_channel(1)
        fake_broker.block("low on disk")
        # No publish yet: methods are answered and no connection.blocked is sent.
        await raw.call(1, commands.Queue.Declare(queue="q-alarm"), commands.Queue.DeclareOk)
        await raw.publish(1, b"held", routing_key="q-alarm")
        blocked = await raw.expect(commands.Connection.Blocked, 0)
        assert blocked.reason == "low on disk"
        # The broker stopped reading after the content header: the body and the declare
        # wait for the unblock.
        await raw.send_method(1, commands.Queue.Declare(queue="q-alarm", passive=True))
        assert fake_broker.queue("q-alarm").message_count == 0
        fake_broker.unblock()
        await raw.expect(commands.Connection.Unblocked, 0)
        declared = await raw.expect(commands.Queue.DeclareOk, 1)
        assert declared.message_count == 1
        await raw.close()


async def test_blocked_is_not_sent_without_the_capability(fake_broker: FakeBroker) -> None:
    capabilities = {k: v for k, v in DEFAULT_CAPABILITIES.items() if k != "connection.blocked"}
    async with await RawConnection.connect(fake_broker.host, fake_broker.port) as raw:
        await raw.handshake(capabilities=capabilities)
        await raw.open_channel(1)
        fake_broker.block()
        await raw.publish(1, b"x", routing_key="nowhere")
        await raw.send_method(1, commands.Basic.Qos(prefetch_count=1))
        fake_broker.unblock()
        # The first frame after the unblock is qos-ok: neither blocked nor unblocked was sent.
        await raw.expect(commands.Basic.QosOk, 1)
        await raw.close()


async def test_server_side_cancel_ends_async_for(fake_broker: FakeBroker) -> None:
    async with fake_broker.connect() as conn, conn.new_channel() as channel:
        await channel.queue_declare("q-cancel")
        await channel.publish(b"before", "", "q-cancel")
        received = []
        async with channel.new_consumer("q-cancel", consumer_tag="ctag", no_ack=True) as consumer:
            async for body, _envelope, _properties in consumer:
                received.append(body)
                assert fake_broker.cancel_consumer("q-cancel", "ctag") == 1
            assert consumer.cancelled_by_server
        assert received == [b"before"]
        assert fake_broker.queue("q-cancel").consumers == ()


async def test_pause_holds_replies_until_resume(fake_broker: FakeBroker) -> None:
    async with fake_broker.connect() as conn, conn.new_channel() as channel:
        done = anyio.Event()

        async def declare() -> None:
            await channel.queue_declare("q-paused")
            done.set()

        with fake_broker.paused():
            async with anyio.create_task_group() as task_group:
                task_group.start_soon(declare)
                # The broker has processed the declare, but its reply is held.
                await wait_until(lambda: "q-paused" in fake_broker.queues())
                assert not done.is_set()
                fake_broker.resume()
        assert done.is_set()


async def test_reply_delay_still_answers(fake_broker: FakeBroker) -> None:
    fake_broker.reply_delay = 0.05
    async with fake_broker.connect() as conn, conn.new_channel() as channel:
        declared = await channel.queue_declare("q-slow")
        assert declared is not None
        assert declared["queue"] == "q-slow"


async def test_a_stalled_client_does_not_block_others(fake_broker: FakeBroker) -> None:
    """A client that stops reading fills its socket; other connections are still served."""
    async with await RawConnection.connect(fake_broker.host, fake_broker.port) as stalled:
        await stalled.handshake()
        await stalled.open_channel(1)
        await stalled.call(1, commands.Queue.Declare(queue="q-flood"), commands.Queue.DeclareOk)
        body = b"x" * 100_000
        for _ in range(60):  # ~6 MB, far beyond the socket buffers
            await stalled.publish(1, body, routing_key="q-flood")
        await stalled.send_method(1, commands.Basic.Consume(queue="q-flood", no_ack=True))
        # `stalled` never reads again; the broker must keep serving everyone else.
        async with fake_broker.connect() as conn, conn.new_channel() as channel:
            await channel.queue_declare("q-other")
            await channel.publish(b"fine", "", "q-other")
            result = await channel.basic_get("q-other", no_ack=True)
            assert result["message"] == b"fine"


@pytest.mark.fake_broker(handshake_timeout=0.2)
async def test_an_unfinished_handshake_is_dropped(fake_broker: FakeBroker) -> None:
    """RabbitMQ closes connections that are not open 10 s after accept (silently)."""
    async with await RawConnection.connect(fake_broker.host, fake_broker.port) as raw:
        await raw.start()
        assert await raw.wait_closed() == []
    async with fake_broker.connect() as conn, conn.new_channel():
        pass
