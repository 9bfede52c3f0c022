"""The client's TLS options against the fake broker's TLS listener.

``ssl=True`` verifies the certificate and the host name, ``ssl=<SSLContext>`` is
used as given, ``verify_ssl=False`` turns verification off (with one warning),
TLS means port 5671 by default, and every failure is one :class:`TLSError`
naming its cause.
"""

from __future__ import annotations

import datetime
import logging
import ssl
from collections.abc import AsyncIterator

import anyio
import anyio.abc
import pytest
from anyio.abc import SocketAttribute

import async_amqp
from async_amqp import connect_amqp, connect_from_url
from async_amqp._connect import make_ssl_context
from async_amqp_testing import FakeBroker
from async_amqp_testing.tls import TLSCertificates

from .helpers import assert_clear_tls_error


@pytest.fixture
async def tls_broker(certificates: TLSCertificates) -> AsyncIterator[FakeBroker]:
    async with FakeBroker(certificates=certificates).serve() as broker:
        yield broker


async def round_trip(conn: async_amqp.AmqpProtocol, queue: str) -> bytes:
    async with conn.new_channel() as channel:
        await channel.queue_declare(queue)
        await channel.confirm_select()
        await channel.publish(b"over TLS", "", queue)
        message = await channel.basic_get(queue, no_ack=True)
    return bytes(message["message"])


async def test_round_trip_over_tls(fake_broker_tls: FakeBroker) -> None:
    broker = fake_broker_tls
    assert broker.url.startswith("amqps://guest:guest@127.0.0.1:")
    async with connect_amqp(broker.host, broker.port, ssl=broker.client_ssl_context) as conn:
        assert await round_trip(conn, "tls-round-trip") == b"over TLS"
    async with broker.connect() as conn:  # connect() uses client_ssl_context
        assert await round_trip(conn, "tls-round-trip") == b"over TLS"


async def test_the_port_speaks_tls_only(fake_broker_tls: FakeBroker) -> None:
    with pytest.raises(async_amqp.AmqpError):
        async with connect_amqp(fake_broker_tls.host, fake_broker_tls.port):
            pass


async def test_untrusted_ca_is_refused_with_ssl_true(tls_broker: FakeBroker) -> None:
    with pytest.raises(async_amqp.TLSError) as caught:
        async with tls_broker.connect(ssl=True):
            pass
    assert_clear_tls_error(caught.value, "untrusted certificate authority")
    assert isinstance(caught.value.__cause__, ssl.SSLCertVerificationError)


async def test_a_context_trusting_another_ca_is_refused(tls_broker: FakeBroker) -> None:
    with pytest.raises(async_amqp.TLSError) as caught:
        async with tls_broker.connect(ssl=TLSCertificates().client_context()):
            pass
    assert_clear_tls_error(caught.value, "untrusted certificate authority")


async def test_certificate_for_another_host_is_refused() -> None:
    certificates = TLSCertificates(hosts=["broker.example.org"])
    async with FakeBroker(certificates=certificates).serve() as broker:
        with pytest.raises(async_amqp.TLSError) as caught:
            async with broker.connect():
                pass
    assert_clear_tls_error(caught.value, "hostname mismatch", "127.0.0.1")


async def test_server_hostname_that_does_not_match_is_refused(tls_broker: FakeBroker) -> None:
    with pytest.raises(async_amqp.TLSError) as caught:
        async with tls_broker.connect(server_hostname="rabbit.example.org"):
            pass
    assert_clear_tls_error(caught.value, "hostname mismatch", "rabbit.example.org")


async def test_expired_certificate_is_refused() -> None:
    expired = TLSCertificates(server_not_after=datetime.datetime(2020, 1, 1))
    async with FakeBroker(certificates=expired).serve() as broker:
        with pytest.raises(async_amqp.TLSError) as caught:
            async with broker.connect():
                pass
    assert_clear_tls_error(caught.value, "certificate expired")


async def test_verify_ssl_false_connects_and_warns_once(
    tls_broker: FakeBroker, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("async_amqp._connect._warned_unverified", False)
    caplog.set_level(logging.WARNING, logger="async_amqp")
    for _ in range(2):
        async with tls_broker.connect(ssl=True, verify_ssl=False) as conn:
            assert await round_trip(conn, "unverified") == b"over TLS"
    warnings = [r for r in caplog.records if "verify_ssl=False" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING


async def test_server_hostname_is_sent_as_sni_and_checked(certificates: TLSCertificates) -> None:
    server_names: list[str | None] = []
    context = certificates.server_context()
    context.sni_callback = lambda _tls, name, _context: server_names.append(name)
    async with FakeBroker(ssl_context=context).serve() as broker:
        client = certificates.client_context()
        async with broker.connect(ssl=client, server_hostname="localhost") as conn:
            assert await round_trip(conn, "sni") == b"over TLS"
        url = f"amqps://guest:guest@127.0.0.1:{broker.port}/?server_name_indication=localhost"
        async with connect_from_url(url, ssl=client) as conn:
            pass
    assert server_names == ["localhost", "localhost"]


async def test_tls_to_a_plain_port_names_the_problem() -> None:
    async with FakeBroker().serve() as broker:
        with pytest.raises(async_amqp.TLSError) as caught:
            async with broker.connect(ssl=TLSCertificates().client_context()):
                pass
    assert_clear_tls_error(caught.value, "did not answer with TLS", "plain AMQP port")


async def test_broker_that_never_answers_the_handshake_times_out(
    certificates: TLSCertificates,
) -> None:
    async def hold(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            await anyio.sleep_forever()

    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
        port = listener.extra(SocketAttribute.local_port)
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(listener.serve, hold)
            with pytest.raises(TimeoutError):
                async with connect_amqp(
                    "127.0.0.1",
                    port,
                    ssl=certificates.client_context(),
                    connection_timeout=0.5,
                ):
                    pass
            task_group.cancel_scope.cancel()


def test_tls_defaults_to_port_5671() -> None:
    assert connect_amqp().port == 5672
    assert connect_amqp(ssl=True).port == 5671
    assert connect_amqp(ssl=ssl.create_default_context()).port == 5671
    assert connect_amqp(ssl=True, port=6000).port == 6000
    assert connect_from_url("amqps://rabbit.example.org").port == 5671
    assert connect_from_url("amqps://rabbit.example.org:5999").port == 5999


def test_ssl_true_verifies_certificate_and_host_name() -> None:
    context = make_ssl_context(True, verify_ssl=True)
    assert context is not None
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert make_ssl_context(False, verify_ssl=True) is None


def test_a_given_context_is_used_as_given() -> None:
    given = ssl.create_default_context()
    given.check_hostname = False
    given.verify_mode = ssl.CERT_OPTIONAL
    assert make_ssl_context(given, verify_ssl=False) is given
    assert make_ssl_context(given, verify_ssl=True) is given
    assert (given.verify_mode, given.check_hostname) == (ssl.CERT_OPTIONAL, False)


def test_verify_ssl_false_turns_verification_off() -> None:
    context = make_ssl_context(True, verify_ssl=False)
    assert context is not None
    assert context.verify_mode == ssl.CERT_NONE
    assert not context.check_hostname
