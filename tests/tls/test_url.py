"""``amqps://`` URLs with RabbitMQ's TLS query parameters, against the fake broker.

``cacertfile``, ``certfile``, ``keyfile``, ``verify=verify_peer|verify_none`` and
``server_name_indication`` (a host name, or ``disable``), as the Erlang client reads
them (https://www.rabbitmq.com/docs/uri-query-parameters), with files written by
trustme.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

import async_amqp
from async_amqp import connect_from_url, parse_url
from async_amqp_testing import FakeBroker
from async_amqp_testing.tls import TLSCertificates

from .helpers import assert_clear_tls_error


def amqps(broker: FakeBroker, query: str, user: str = "guest:guest@") -> str:
    return f"amqps://{user}{broker.host}:{broker.port}/?{query}"


async def test_cacertfile(fake_broker_tls: FakeBroker) -> None:
    files = fake_broker_tls.tls_files
    url = amqps(fake_broker_tls, f"cacertfile={files.ca_certificate}&verify=verify_peer")
    async with connect_from_url(url) as conn, conn.new_channel() as channel:
        await channel.queue_declare("from-url")
    assert "from-url" in fake_broker_tls.queues()


@pytest.mark.fake_broker(users={"app": "app-secret", "alice": "s3cret"}, tls_client_cert="alice")
async def test_certfile_keyfile_and_external(fake_broker_mtls: FakeBroker) -> None:
    files = fake_broker_mtls.tls_files
    url = amqps(fake_broker_mtls, files.url_query() + "&auth_mechanism=external", user="")
    assert "certfile=" in url
    assert "keyfile=" in url
    async with connect_from_url(url) as conn, conn.new_channel():
        assert [info.user for info in fake_broker_mtls.connections()] == ["alice"]


async def test_verify_none_needs_no_ca(fake_broker_tls: FakeBroker) -> None:
    async with connect_from_url(amqps(fake_broker_tls, "verify=verify_none")) as conn:
        async with conn.new_channel():
            pass


async def test_without_cacertfile_the_broker_is_untrusted(fake_broker_tls: FakeBroker) -> None:
    with pytest.raises(async_amqp.TLSError) as caught:
        async with connect_from_url(fake_broker_tls.url):
            pass
    assert_clear_tls_error(caught.value, "untrusted certificate authority")


async def test_server_name_indication(fake_broker_tls: FakeBroker) -> None:
    files = fake_broker_tls.tls_files
    query = f"cacertfile={files.ca_certificate}&server_name_indication=rabbit.example.org"
    with pytest.raises(async_amqp.TLSError) as caught:
        async with connect_from_url(amqps(fake_broker_tls, query)):
            pass
    assert_clear_tls_error(caught.value, "hostname mismatch", "rabbit.example.org")
    query = f"cacertfile={files.ca_certificate}&server_name_indication=localhost"
    async with connect_from_url(amqps(fake_broker_tls, query)):
        pass


async def test_server_name_indication_disable_skips_the_host_name_check() -> None:
    certificates = TLSCertificates(hosts=["broker.example.org"])
    async with FakeBroker(certificates=certificates).serve() as broker:
        assert certificates.files is None
        ca_file = certificates.ca.cert_pem
        with ca_file.tempfile() as path:
            query = f"cacertfile={path}&server_name_indication=disable"
            async with connect_from_url(amqps(broker, query)):
                pass
            with pytest.raises(async_amqp.TLSError, match="hostname mismatch"):
                async with connect_from_url(amqps(broker, f"cacertfile={path}")):
                    pass


def test_parameters_become_a_context(tmp_path: Path) -> None:
    files = TLSCertificates(client_user="app").write_files(tmp_path)
    options = parse_url(f"amqps://h?{files.url_query()}")
    context = options["ssl"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert "server_hostname" not in options
    assert parse_url("amqps://h?server_name_indication=disable")["ssl"].check_hostname is False


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("cacertfile=/no/such/ca.pem", "cacertfile"),
        ("certfile=/no/such/cert.pem", "certfile"),
        ("keyfile=/no/such/key.pem", "keyfile needs certfile"),
    ],
)
def test_unreadable_files_name_the_parameter(query: str, named: str) -> None:
    with pytest.raises(async_amqp.ConfigurationError, match=named):
        parse_url(f"amqps://h?{query}")
