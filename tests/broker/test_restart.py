"""``FakeBroker.restart()``: clients get 320, durable state stays, clients reconnect.

What survives is checked in detail by tests/broker/model/test_model_restart.py
(against what RabbitMQ 3.10.8 kept, see docs/testing.rst); here the served
broker: the close each client sees, the inspection API afterwards, the same
URL accepting new connections (async_amqp, pika in a thread, and a raw socket).
"""

from __future__ import annotations

import socket
from typing import Any

import anyio
import pytest

import async_amqp
from async_amqp_testing import FakeBroker
from async_amqp_testing.raw import RawConnection

# A client that is closed while its own task awaits the fault (pika's blocking call,
# or async_amqp's block awaiting restart()) cannot answer the close until the call
# returns, so the broker waits shutdown_timeout for it: keep that short.
pytestmark = pytest.mark.fake_broker(shutdown_timeout=0.25)
SHUTDOWN = "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'"
PERSISTENT: dict[str, Any] = {"delivery_mode": 2}
TRANSIENT: dict[str, Any] = {"delivery_mode": 1}


async def _fill(channel: async_amqp.Channel) -> None:
    await channel.exchange_declare("rs.dx", "direct", durable=True)
    await channel.exchange_declare("rs.tx", "direct")
    await channel.queue_declare("rs.dq", durable=True)
    await channel.queue_declare("rs.tq")
    await channel.queue_bind("rs.dq", "rs.dx", "k")
    await channel.queue_bind("rs.tq", "rs.dx", "k")
    await channel.queue_bind("rs.dq", "rs.tx", "k")
    await channel.confirm_select()
    for body, properties in [(b"p1", PERSISTENT), (b"t1", TRANSIENT), (b"p2", PERSISTENT)]:
        await channel.publish(body, "rs.dx", "k", properties)


async def test_restart_closes_with_320_and_keeps_only_durable_state(
    fake_broker: FakeBroker,
) -> None:
    url = fake_broker.url
    with pytest.raises(async_amqp.ConnectionForcedError) as caught:
        async with fake_broker.connect() as conn:
            channel = await conn.channel()
            await _fill(channel)
            unacked = await channel.basic_get("rs.dq")  # p1 stays unacked
            assert unacked["message"] == b"p1"
            await fake_broker.restart()
            with anyio.fail_after(10):
                await anyio.sleep_forever()
    assert (caught.value.reply_code, caught.value.reply_text) == (320, SHUTDOWN)
    assert fake_broker.url == url
    assert fake_broker.connections() == []
    assert set(fake_broker.queues()) == {"rs.dq"}
    assert "rs.dx" in fake_broker.exchanges()
    assert "rs.tx" not in fake_broker.exchanges()
    assert [(b.source, b.destination, b.routing_key) for b in fake_broker.bindings()] == [
        ("rs.dx", "rs.dq", "k")
    ]
    assert [(m.body, m.redelivered) for m in fake_broker.messages("rs.dq")] == [
        (b"p1", True),
        (b"p2", False),
    ]
    async with async_amqp.connect_from_url(url) as conn:
        channel = await conn.channel()
        first = await channel.basic_get("rs.dq", no_ack=True)
        second = await channel.basic_get("rs.dq", no_ack=True)
    assert (first["message"], first["redelivered"]) == (b"p1", True)
    assert (second["message"], second["redelivered"]) == (b"p2", False)


async def test_restart_ends_consumers_and_they_resume_after_reconnecting(
    fake_broker: FakeBroker,
) -> None:
    async with fake_broker.connect() as conn:
        channel = await conn.channel()
        await channel.queue_declare("rs.work", durable=True)
        await channel.confirm_select()
        await channel.publish(b"job", "", "rs.work", PERSISTENT)
    with pytest.raises(async_amqp.ConnectionForcedError):
        async with fake_broker.connect() as conn:
            channel = await conn.channel()
            async with channel.new_consumer("rs.work") as consumer:
                async for body, envelope, _ in consumer:
                    assert (body, envelope.is_redeliver) == (b"job", False)
                    await fake_broker.restart()
    assert fake_broker.queue("rs.work").consumers == ()
    async with fake_broker.connect() as conn:
        channel = await conn.channel()
        async with channel.new_consumer("rs.work") as consumer:
            async for body, envelope, _ in consumer:
                assert (body, envelope.is_redeliver) == (b"job", True)
                await channel.basic_ack(envelope.delivery_tag)
                break
    assert fake_broker.queue("rs.work").message_count == 0


async def test_every_connection_is_closed_and_new_ones_are_served(
    fake_broker: FakeBroker,
) -> None:
    async with (
        await RawConnection.connect(fake_broker.host, fake_broker.port) as first,
        await RawConnection.connect(fake_broker.host, fake_broker.port) as second,
    ):
        await first.handshake()
        await second.handshake()
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(fake_broker.restart)
            for raw in (first, second):
                close = await raw.expect_connection_close()  # and answers close-ok
                assert (close.reply_code, close.reply_text, close.class_id, close.method_id) == (
                    320,
                    SHUTDOWN,
                    0,
                    0,
                )
                assert await raw.wait_closed() == []
    async with await RawConnection.connect(fake_broker.host, fake_broker.port) as again:
        await again.handshake()
        assert len(fake_broker.connections()) == 1


async def test_a_client_that_never_answers_is_dropped_and_restart_returns() -> None:
    broker = FakeBroker(shutdown_timeout=0.2)
    async with broker.serve():
        with socket.create_connection((broker.host, broker.port)) as silent:
            silent.settimeout(10)
            silent.sendall(b"AMQP\x00\x00\x09\x01")
            # the broker is serving this socket: connection.start came back (frame type 1)
            start = await anyio.to_thread.run_sync(silent.recv, 65536)
            assert start[:1] == b"\x01"
            with anyio.fail_after(10):
                await broker.restart()
            assert broker.connections() == []
            # and the restart dropped it rather than leaving it open
            assert await anyio.to_thread.run_sync(_read_to_end, silent) == b""
        async with broker.connect() as conn:
            channel = await conn.channel()
            await channel.queue_declare("rs.after")


@pytest.mark.fake_broker(shutdown_timeout=0.5)
async def test_a_restart_cancelled_midway_still_completes(fake_broker: FakeBroker) -> None:
    async with fake_broker.connect() as conn:
        channel = await conn.channel()
        await channel.queue_declare("rs.transient")
    async with await RawConnection.connect(fake_broker.host, fake_broker.port) as silent:
        await silent.handshake()  # never answers the close: restart waits shutdown_timeout
        with anyio.move_on_after(0.05) as scope:
            await fake_broker.restart()
            await anyio.sleep(10)
        assert scope.cancelled_caught
        assert "rs.transient" not in fake_broker.queues()
        assert fake_broker.connections() == []
    async with fake_broker.connect() as conn:
        await conn.channel()


async def test_restart_needs_a_serving_broker() -> None:
    with pytest.raises(RuntimeError, match="not serving"):
        await FakeBroker().restart()


def test_blocking_restart_with_pika(fake_broker: Any) -> None:
    pika = pytest.importorskip("pika")
    parameters = pika.URLParameters(fake_broker.url)
    connection = pika.BlockingConnection(parameters)
    channel = connection.channel()
    channel.queue_declare("rs.pika", durable=True)
    channel.queue_declare("rs.pika.transient")
    channel.confirm_delivery()
    channel.basic_publish("", "rs.pika", b"kept", pika.BasicProperties(delivery_mode=2))
    channel.basic_publish("", "rs.pika", b"lost", pika.BasicProperties(delivery_mode=1))
    fake_broker.restart()
    with pytest.raises(pika.exceptions.ConnectionClosedByBroker) as caught:
        connection.process_data_events(time_limit=5)
    assert (caught.value.reply_code, caught.value.reply_text) == (320, SHUTDOWN)
    assert set(fake_broker.queues()) == {"rs.pika"}
    connection = pika.BlockingConnection(parameters)
    try:
        method, _, body = connection.channel().basic_get("rs.pika", auto_ack=True)
        assert (body, method.redelivered) == (b"kept", False)
        assert connection.channel().basic_get("rs.pika")[0] is None
    finally:
        connection.close()


def _read_to_end(sock: socket.socket) -> bytes:
    """Everything the peer still sends before it closes the socket."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received
