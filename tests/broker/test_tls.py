"""FakeBroker(ssl_context=...) serves AMQP over TLS; the fuller TLS suite is in tests/tls."""

from __future__ import annotations

import ssl

import pytest
import trustme

import async_amqp
from async_amqp_testing import FakeBroker
from async_amqp_testing.raw import RawConnection


@pytest.fixture(scope="module")
def certificate_authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def server_context(certificate_authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate_authority.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture
def client_context(certificate_authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    certificate_authority.configure_trust(context)
    return context


async def test_tls_connection(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    async with FakeBroker(ssl_context=server_context).serve() as broker:
        assert broker.url.startswith("amqps://guest:guest@127.0.0.1:")
        async with broker.connect(ssl=client_context) as conn, conn.new_channel() as channel:
            await channel.queue_declare("over-tls")
        assert "over-tls" in broker.queues()


async def test_plain_client_on_a_tls_port_does_not_disturb_the_broker(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    async with FakeBroker(ssl_context=server_context).serve() as broker:
        async with await RawConnection.connect(broker.host, broker.port) as raw:
            await raw.send(b"AMQP\x00\x00\x09\x01")  # not a TLS ClientHello
            assert await raw.wait_closed() == []
        async with broker.connect(ssl=client_context) as conn, conn.new_channel():
            pass


async def test_untrusted_certificate_fails_the_client(server_context: ssl.SSLContext) -> None:
    async with FakeBroker(ssl_context=server_context).serve() as broker:
        with pytest.raises(async_amqp.TLSError):
            async with broker.connect(ssl=True):
                pass
