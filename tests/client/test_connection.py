"""Connecting, negotiating, closing, and what comes out of ``async with connect_amqp()``."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

import async_amqp
from async_amqp import parse_url
from tests.support import BrokerTarget


async def test_connect_and_close(amqp_broker: BrokerTarget) -> None:
    async with amqp_broker.connect() as conn:
        assert conn.is_open
        assert conn.server_frame_max == 131072
        assert conn.server_channel_max == 2047
        assert conn.server_heartbeat == 60
        capabilities = conn.server_properties["capabilities"]
        assert capabilities["publisher_confirms"] is True
        assert capabilities["consumer_cancel_notify"] is True
    assert not conn.is_open


async def test_connect_amqp_with_explicit_parameters(amqp_broker: BrokerTarget) -> None:
    options = parse_url(amqp_broker.url)
    async with async_amqp.connect_amqp(
        host=options["host"],
        port=options["port"],
        login="guest",
        password="guest",
        virtualhost="/",
        login_method="AMQPLAIN",
        channel_max=10,
        frame_max=8192,
        heartbeat=5,
        client_properties={"connection_name": "explicit"},
    ) as conn:
        assert (conn.server_channel_max, conn.server_frame_max, conn.server_heartbeat) == (
            10,
            8192,
            5,
        )
        assert conn.client_properties["connection_name"] == "explicit"
        assert conn.client_properties["capabilities"]["authentication_failure_close"] is True


async def test_zero_heartbeat_disables_heartbeats(amqp_broker: BrokerTarget) -> None:
    async with amqp_broker.connect(heartbeat=0) as conn:
        assert conn.server_heartbeat == 0


async def test_large_frames_respect_negotiated_frame_max(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    body = bytes(range(256)) * 4096  # 1 MiB
    async with amqp_broker.connect(frame_max=4096) as conn, conn.new_channel() as chan:
        await chan.queue_declare(queue)
        await chan.publish(body, "", queue)
        message = await chan.basic_get(queue, no_ack=True)
        assert message["message"] == body


async def test_wrong_password_is_an_authentication_error(amqp_broker: BrokerTarget) -> None:
    with pytest.raises(async_amqp.AuthenticationError) as caught:
        async with amqp_broker.connect(password="not-the-password-xyz"):
            pytest.fail("the connection must not open")
    assert caught.value.reply_code == 403
    assert "ACCESS_REFUSED" in caught.value.reply_text
    assert "not-the-password-xyz" not in str(caught.value)
    assert "not-the-password-xyz" not in repr(caught.value)


async def test_unknown_vhost_is_not_allowed(amqp_broker: BrokerTarget) -> None:
    with pytest.raises(async_amqp.NotAllowedError) as caught:
        async with amqp_broker.connect(virtualhost="no-such-vhost-4711"):
            pytest.fail("the connection must not open")
    assert caught.value.reply_code == 530
    assert caught.value.reply_text == "NOT_ALLOWED - vhost no-such-vhost-4711 not found"
    assert (caught.value.class_id, caught.value.method_id) == (10, 40)


async def test_exception_in_body_comes_out_unwrapped(amqp_broker: BrokerTarget) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with amqp_broker.connect() as conn, conn.new_channel():
            raise Boom


async def test_connection_error_raises_out_of_the_block(amqp_broker: BrokerTarget) -> None:
    exchange = amqp_broker.exchange_name()
    with pytest.raises(async_amqp.CommandInvalidError) as caught:
        async with amqp_broker.connect() as conn, conn.new_channel() as chan:
            await chan.exchange_declare(exchange, "no-such-type")
            pytest.fail("an unknown exchange type closes the connection")
    assert caught.value.reply_code == 503
    assert caught.value.reply_text == "COMMAND_INVALID - unknown exchange type 'no-such-type'"
    assert isinstance(caught.value, async_amqp.AmqpClosedConnection)


async def test_connection_error_fails_calls_in_other_tasks(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    errors: list[BaseException] = []
    consuming = anyio.Event()
    with pytest.raises(async_amqp.NotImplementedByBrokerError):
        async with amqp_broker.connect() as conn, conn.new_channel() as waiting_chan:
            await waiting_chan.queue_declare(queue)

            async def consume() -> None:
                try:
                    async with waiting_chan.new_consumer(queue_name=queue) as listener:
                        consuming.set()
                        async for _ in listener:
                            pass
                except async_amqp.AmqpError as error:
                    errors.append(error)

            async with anyio.create_task_group() as tg:
                tg.start_soon(consume)
                await consuming.wait()
                async with conn.new_channel() as chan:
                    with pytest.raises(async_amqp.NotImplementedByBrokerError):
                        await chan.basic_recover(requeue=False)  # 540 ends the connection
                    await anyio.sleep_forever()
    assert len(errors) == 1
    assert isinstance(errors[0], async_amqp.NotImplementedByBrokerError)
    assert errors[0].reply_text == "NOT_IMPLEMENTED - requeue=false"


async def test_connect_from_url_percent_decodes_the_vhost(amqp_broker: BrokerTarget) -> None:
    url = amqp_broker.url.rstrip("/") + "/%2F?heartbeat=7&channel_max=9"
    async with async_amqp.connect_from_url(url) as conn:
        assert conn.virtualhost == "/"
        assert (conn.server_heartbeat, conn.server_channel_max) == (7, 9)


async def test_close_is_idempotent_and_the_block_goes_on(amqp_broker: BrokerTarget) -> None:
    after_close = []
    async with amqp_broker.connect() as conn:
        chan = await conn.channel()
        await conn.close()
        await conn.close()
        assert not conn.is_open
        assert not chan.is_open
        with pytest.raises(async_amqp.AmqpClosedConnection):
            await conn.channel()
        with pytest.raises(async_amqp.AmqpClosedConnection):
            await chan.basic_qos(prefetch_count=1)
        await anyio.lowlevel.checkpoint()  # the block is not cancelled by close()
        after_close.append("ran")
    assert after_close == ["ran"]


async def test_bad_parameters_are_configuration_errors() -> None:
    with pytest.raises(async_amqp.ConfigurationError, match="frame_max"):
        async_amqp.connect_amqp(frame_max=100)
    with pytest.raises(ValueError, match="login_method"):
        async_amqp.connect_amqp(login_method="KERBEROS")


async def test_connection_refused_is_an_os_error() -> None:
    with socket_free_port() as port, pytest.raises(OSError):
        async with async_amqp.connect_amqp("127.0.0.1", port):
            pass


class socket_free_port:
    """A local port with nothing listening on it."""

    def __enter__(self) -> int:
        import socket

        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        return int(self._sock.getsockname()[1])

    def __exit__(self, *exc_info: object) -> None:
        self._sock.close()


async def test_protocol_factory_and_insist(amqp_broker: BrokerTarget) -> None:
    class MyProtocol(async_amqp.AmqpProtocol):
        pass

    options = parse_url(amqp_broker.url)
    async with async_amqp.connect(
        host=options["host"], port=options["port"], insist=True, protocol_factory=MyProtocol
    ) as conn:
        assert isinstance(conn, MyProtocol)
        async with conn.new_channel() as chan:
            assert isinstance(chan, async_amqp.Channel)
