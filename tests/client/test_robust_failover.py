"""connect_robust: failover between URLs, and the errors it must raise instead of retrying."""

from __future__ import annotations

import anyio
import pytest

import async_amqp
from async_amqp import EventKind
from tests.faultproxy import FAST, FaultProxy, ProxiedBroker


async def test_moves_to_the_second_url_when_the_first_node_is_gone(
    proxied_broker: ProxiedBroker,
) -> None:
    queue = proxied_broker.target.queue_name("robust-failover")
    first = proxied_broker.proxy
    async with (await proxied_broker.another_proxy()).serve() as second:
        with anyio.fail_after(30):
            async with async_amqp.connect_robust(urls=[first.url(), second.url()], **FAST) as conn:
                with conn.events() as events:
                    chan = await conn.channel()
                    await chan.queue_declare(queue)
                    received = []
                    async with (
                        chan.new_consumer(queue) as consumer,
                        proxied_broker.target.connect() as plain,
                        plain.new_channel() as pc,
                    ):
                        await pc.publish(b"1", "", queue)
                        body, envelope, _ = await consumer.get()
                        received.append(body)
                        await chan.basic_ack(envelope.delivery_tag)
                        assert (first.accepted, second.accepted) == (1, 0)
                        first.refusing = True  # the first node is gone for good
                        first.cut()
                        await conn.wait_connected(after_generation=1)
                        for body in (b"2", b"3"):
                            await pc.publish(body, "", queue)
                        while set(received) != {b"1", b"2", b"3"}:
                            body, envelope, _ = await consumer.get()
                            # "1" comes again if its ack was still buffered at the cut
                            assert body not in received or envelope.is_redeliver
                            received.append(body)
                            await chan.basic_ack(envelope.delivery_tag)
                    assert received[-2:] == [b"2", b"3"]
                    assert (first.accepted, second.accepted) == (1, 1)
                    connected = []
                    async for event in events:
                        if event.kind is EventKind.CONNECTED:
                            connected.append(event.address)
                        if event.kind is EventKind.RECOVERED:
                            break
                    assert connected == [f"127.0.0.1:{second.port}/"]


async def test_tries_every_url_at_the_first_connection(proxied_broker: ProxiedBroker) -> None:
    async with FaultProxy("127.0.0.1", proxied_broker.port).serve() as down:
        down.refusing = True
        with anyio.fail_after(10):
            async with async_amqp.connect_robust(
                urls=[down.url(), proxied_broker.proxy.url()], **FAST
            ) as conn:
                chan = await conn.channel()
                assert chan.is_open
                assert conn.generation == 1
        assert proxied_broker.proxy.accepted == 1


async def test_wrong_password_raises_instead_of_retrying(proxied_broker: ProxiedBroker) -> None:
    with anyio.fail_after(10), pytest.raises(async_amqp.AuthenticationError) as caught:
        async with async_amqp.connect_robust(
            urls=[proxied_broker.proxy.url(password="wrong")], **FAST
        ):
            pytest.fail("connected with a wrong password")
    assert caught.value.reply_code == 403
    assert proxied_broker.proxy.accepted == 1  # one attempt, no retries


async def test_unknown_vhost_raises_instead_of_retrying(proxied_broker: ProxiedBroker) -> None:
    with anyio.fail_after(10), pytest.raises(async_amqp.NotAllowedError) as caught:
        async with async_amqp.connect_robust(
            urls=[proxied_broker.proxy.url(vhost="no-such-vhost")], **FAST
        ):
            pytest.fail("opened a vhost that does not exist")
    assert caught.value.reply_code == 530
    assert proxied_broker.proxy.accepted == 1


async def test_unreachable_broker_raises_after_reconnect_timeout() -> None:
    async with FaultProxy("127.0.0.1", 9).serve() as nowhere:  # forwards to nothing
        nowhere.refusing = True
        started = anyio.current_time()
        with anyio.fail_after(10), pytest.raises(async_amqp.ReconnectTimeoutError) as caught:
            async with async_amqp.connect_robust(
                urls=[nowhere.url()], reconnect_timeout=0.3, **FAST
            ):
                pytest.fail("connected to nothing")
        assert anyio.current_time() - started >= 0.3
        # the last attempt was refused, or cut short by the deadline
        assert isinstance(caught.value.__cause__, async_amqp.ConnectionLostError | TimeoutError)


async def test_broker_gone_after_connecting_raises_after_reconnect_timeout(
    proxied_broker: ProxiedBroker,
) -> None:
    proxy = proxied_broker.proxy
    with anyio.fail_after(10), pytest.raises(async_amqp.ReconnectTimeoutError):
        async with proxied_broker.robust(reconnect_timeout=0.3) as conn:
            chan = await conn.channel()
            proxy.refusing = True
            proxy.cut()
            await chan.queue_declare("")  # waits for a reconnect that never comes
            pytest.fail("the declare should have waited for a connection")
    assert not conn.is_open


async def test_invalid_parameters_are_configuration_errors() -> None:
    with pytest.raises(async_amqp.ConfigurationError):
        async_amqp.connect_robust(urls="amqp://localhost/")
    with pytest.raises(async_amqp.ConfigurationError):
        async_amqp.connect_robust(urls=[])
    with pytest.raises(async_amqp.ConfigurationError):
        async_amqp.connect_robust(reconnect_interval=5, max_reconnect_interval=1)
    with pytest.raises(async_amqp.ConfigurationError):
        async with async_amqp.connect_robust(urls=["http://localhost/"]):
            pass
