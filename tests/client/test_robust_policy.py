"""connect_robust's decisions: which errors are retried, backoff delays, URL order, TLS."""

from __future__ import annotations

import ssl

import anyio
import pytest

import async_amqp
from async_amqp import exceptions
from async_amqp._robust.policy import Backoff, Endpoints, is_retryable
from async_amqp_testing import FakeBroker
from tests.faultproxy import FAST, ProxiedBroker


@pytest.mark.parametrize(
    "error",
    [
        exceptions.ConnectionLostError(0, "connection lost"),
        exceptions.HeartbeatTimeoutError(0, "no heartbeat"),
        exceptions.ConnectionForcedError(320, "CONNECTION_FORCED - shutdown"),
        exceptions.BrokerInternalError(541, "INTERNAL_ERROR"),
        ConnectionRefusedError(111, "refused"),
        TimeoutError(),
        exceptions.TLSError("the broker hung up"),
    ],
)
def test_retried(error: BaseException) -> None:
    assert is_retryable(error)


@pytest.mark.parametrize(
    "error",
    [
        exceptions.AuthenticationError(403, "ACCESS_REFUSED - Login was refused"),
        exceptions.NotAllowedError(530, "NOT_ALLOWED - vhost nope not found"),
        exceptions.CommandInvalidError(503, "COMMAND_INVALID - unknown exchange type"),
        exceptions.FrameError(501, "FRAME_ERROR"),
        exceptions.NotImplementedByBrokerError(540, "NOT_IMPLEMENTED - immediate=true"),
        exceptions.ProtocolMismatchError(0, "not AMQP"),
        exceptions.ConfigurationError("bad"),
        exceptions.ConnectionClosedError(0, "connection closed by the client"),
        exceptions.TLSError("untrusted", cause=ssl.SSLCertVerificationError("unknown ca")),
        exceptions.ReconnectTimeoutError(0, "gave up"),
        RuntimeError("a bug"),
    ],
)
def test_not_retried(error: BaseException) -> None:
    assert not is_retryable(error)


def test_backoff_doubles_with_jitter_up_to_the_maximum() -> None:
    backoff = Backoff(0.1, 1.0)
    delays = [backoff.next_delay() for _ in range(8)]
    for delay, nominal in zip(delays, [0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0], strict=True):
        assert nominal / 2 <= delay <= nominal
    backoff.reset()
    assert 0.05 <= backoff.next_delay() <= 0.1


def test_endpoints_start_after_the_one_last_used() -> None:
    endpoints = Endpoints([{"host": "a"}, {"host": "b"}, {"host": "c"}])
    assert [index for index, _ in endpoints.round()] == [0, 1, 2]
    endpoints.used(1)
    assert [index for index, _ in endpoints.round()] == [2, 0, 1]
    endpoints.used(2)
    assert [index for index, _ in endpoints.round()] == [0, 1, 2]


async def test_untrusted_tls_certificate_raises_instead_of_retrying(
    fake_broker_tls: FakeBroker,
) -> None:
    with anyio.fail_after(10), pytest.raises(async_amqp.TLSError) as caught:
        async with async_amqp.connect_robust(urls=[fake_broker_tls.url], **FAST):
            pytest.fail("connected to a broker whose certificate is not trusted")
    assert isinstance(caught.value.__cause__, ssl.SSLCertVerificationError)


async def test_trusted_tls_connection_recovers(fake_broker_tls: FakeBroker) -> None:
    with anyio.fail_after(10):
        async with async_amqp.connect_robust(
            urls=[fake_broker_tls.url], ssl=fake_broker_tls.client_ssl_context, **FAST
        ) as conn:
            chan = await conn.channel()
            await chan.queue_declare("tls-q")
            fake_broker_tls.drop_connection()
            await conn.wait_connected(after_generation=1)
            assert await chan.queue_declare("tls-q", passive=True) is not None


async def test_a_cancelled_call_while_down_sends_nothing_and_the_next_works(
    proxied_broker: ProxiedBroker,
) -> None:
    proxy = proxied_broker.proxy
    queue = proxied_broker.target.queue_name("cancelled")
    with anyio.fail_after(20):
        async with proxied_broker.robust() as conn:
            chan = await conn.channel()
            proxy.refusing = True
            proxy.cut()
            with anyio.move_on_after(0.1):
                await chan.queue_declare(queue)
            proxy.refusing = False
            await conn.wait_connected(after_generation=1)
            async with proxied_broker.target.connect() as plain, plain.new_channel() as pc:
                with pytest.raises(async_amqp.NotFoundError):  # not declared, not recorded
                    await pc.queue_declare(queue, passive=True)
            declared = await chan.queue_declare(queue)
            assert declared is not None
            assert declared.name == queue
