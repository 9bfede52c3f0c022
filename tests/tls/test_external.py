"""Mutual TLS and SASL EXTERNAL, modelled on RabbitMQ's rabbitmq_auth_mechanism_ssl.

With ``ssl_cert_login_from = common_name``: EXTERNAL is offered on TLS
connections only, logs in as the client certificate's CN without checking a
password, and refuses (``EXTERNAL login refused: ...`` in the log, 403 to a
client with ``authentication_failure_close``) when the CN is not a user or no
certificate was presented. A broker that requires client certificates refuses
the handshake itself, with a TLS alert the client reports.
"""

from __future__ import annotations

from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

import async_amqp
from async_amqp import connect_amqp
from async_amqp_testing import FakeBroker
from async_amqp_testing._tls_accept import TLSPeer, external_login
from async_amqp_testing.raw import RawConnection
from async_amqp_testing.tls import CLIENT_IDENTITY, TLSCertificates

from .helpers import LogWaiter, assert_clear_tls_error


async def test_external_logs_in_as_the_certificate_cn(fake_broker_mtls: FakeBroker) -> None:
    broker = fake_broker_mtls
    async with connect_amqp(
        broker.host, broker.port, ssl=broker.client_ssl_context, login_method="EXTERNAL"
    ) as conn:
        async with conn.new_channel() as channel:
            await channel.queue_declare("mtls")
        (connection,) = broker.connections()
        assert connection.user == "guest"
    assert "mtls" in broker.queues()


@pytest.mark.fake_broker(users={"app": "app-secret", "alice": "s3cret"}, tls_client_cert="alice")
async def test_the_password_is_not_checked(fake_broker_mtls: FakeBroker) -> None:
    async with fake_broker_mtls.connect(
        login="ignored", password="wrong", login_method="EXTERNAL"
    ) as conn:
        async with conn.new_channel():
            (connection,) = fake_broker_mtls.connections()
            assert connection.user == "alice"


@pytest.mark.fake_broker(users={"app": "app-secret"}, tls_client_cert=True)
async def test_the_marker_makes_a_certificate_for_the_first_user(
    fake_broker_tls: FakeBroker,
) -> None:
    assert fake_broker_tls.certificates is not None
    assert fake_broker_tls.certificates.client_user == "app"
    async with fake_broker_tls.connect(login_method="EXTERNAL") as conn:
        async with conn.new_channel():
            assert [c.user for c in fake_broker_tls.connections()] == ["app"]


@pytest.mark.fake_broker(tls_client_cert="mallory", silent_close_delay=0.1)
async def test_a_cn_that_is_not_a_user_is_refused(
    fake_broker_mtls: FakeBroker, broker_log: LogWaiter
) -> None:
    with pytest.raises(async_amqp.AuthenticationError) as caught:
        async with fake_broker_mtls.connect(login_method="EXTERNAL"):
            pass
    assert caught.value.reply_code == 403
    assert caught.value.reply_text == (
        "ACCESS_REFUSED - Login was refused using authentication mechanism EXTERNAL. "
        "For details see the broker logfile."
    )
    await broker_log.wait_for("EXTERNAL login refused: user 'mallory' - invalid credentials")


async def test_no_client_certificate_is_refused_by_external(broker_log: LogWaiter) -> None:
    certificates = TLSCertificates(client_user="guest")
    optional = certificates.server_context(verify_client="optional")
    async with FakeBroker(ssl_context=optional, silent_close_delay=0.1).serve() as broker:
        without_certificate = certificates.client_context(with_certificate=False)
        with pytest.raises(async_amqp.AuthenticationError):
            async with broker.connect(ssl=without_certificate, login_method="EXTERNAL"):
                pass
        await broker_log.wait_for(
            "EXTERNAL login refused: connection peer presented no TLS (x.509) certificate"
        )
        async with broker.connect(ssl=without_certificate):  # PLAIN still works
            pass


async def test_plain_login_works_alongside_external(fake_broker_mtls: FakeBroker) -> None:
    async with fake_broker_mtls.connect() as conn, conn.new_channel():
        assert [c.user for c in fake_broker_mtls.connections()] == ["guest"]


async def test_mechanisms_offered(
    fake_broker_mtls: FakeBroker, certificates: TLSCertificates
) -> None:
    context = fake_broker_mtls.client_ssl_context
    async with await RawConnection.connect(
        fake_broker_mtls.host, fake_broker_mtls.port, ssl_context=context
    ) as raw:
        assert (await raw.start()).mechanisms == "PLAIN AMQPLAIN EXTERNAL"
    async with FakeBroker(certificates=certificates).serve() as broker:  # TLS, no mTLS
        async with await RawConnection.connect(
            broker.host, broker.port, ssl_context=certificates.client_context()
        ) as raw:
            assert (await raw.start()).mechanisms == "PLAIN AMQPLAIN"


async def test_external_is_not_offered_without_tls(broker_log: LogWaiter) -> None:
    broker = FakeBroker(auth_mechanisms=["PLAIN", "EXTERNAL"], silent_close_delay=0.1)
    async with broker.serve():
        with pytest.raises(async_amqp.AmqpError, match="does not offer login_method EXTERNAL"):
            async with broker.connect(login_method="EXTERNAL"):
                pass
        async with await RawConnection.connect(broker.host, broker.port) as raw:
            assert (await raw.start()).mechanisms == "PLAIN"
            await raw.login(mechanism="EXTERNAL", response=b"")
            assert await raw.wait_closed() == []  # RabbitMQ: a silent close
        await broker_log.wait_for("invalid authentication mechanism 'EXTERNAL'")


async def test_auth_mechanisms_in_the_order_given(certificates: TLSCertificates) -> None:
    broker = FakeBroker(certificates=certificates, auth_mechanisms=["EXTERNAL", "PLAIN"])
    async with broker.serve():
        async with await RawConnection.connect(
            broker.host, broker.port, ssl_context=certificates.client_context()
        ) as raw:
            assert (await raw.start()).mechanisms == "EXTERNAL PLAIN"


def test_unknown_auth_mechanisms_are_refused() -> None:
    with pytest.raises(ValueError, match="KERBEROS"):
        FakeBroker(auth_mechanisms=["PLAIN", "KERBEROS"])


async def test_a_required_certificate_that_is_missing_fails_the_handshake(
    fake_broker_mtls: FakeBroker,
) -> None:
    assert fake_broker_mtls.certificates is not None
    without = fake_broker_mtls.certificates.client_context(with_certificate=False)
    with pytest.raises(async_amqp.TLSError) as caught:
        async with fake_broker_mtls.connect(ssl=without):
            pass
    assert_clear_tls_error(caught.value, "requires a client certificate")
    async with fake_broker_mtls.connect(login_method="EXTERNAL"):  # still serving
        pass


async def test_a_certificate_from_another_ca_fails_the_handshake(
    fake_broker_mtls: FakeBroker,
) -> None:
    assert fake_broker_mtls.certificates is not None
    stranger = TLSCertificates(client_user="guest")
    context = fake_broker_mtls.certificates.client_context(with_certificate=False)
    assert stranger.client is not None
    stranger.client.configure_cert(context)
    with pytest.raises(async_amqp.TLSError) as caught:
        async with fake_broker_mtls.connect(ssl=context, login_method="EXTERNAL"):
            pass
    assert_clear_tls_error(caught.value, "refused the client certificate", "CA")


def test_external_login_rules() -> None:
    users = {"alice": "pw", "ops,eu": "pw"}

    def subject(*common_names: str) -> dict[str, Any]:
        names = tuple((("commonName", name),) for name in common_names)
        return {"subject": ((("organizationName", "trustme"),), *names)}

    assert external_login(TLSPeer(subject("alice")), users) == ("alice", "")
    assert external_login(TLSPeer(subject("ops", "eu")), users) == ("ops,eu", "")
    assert external_login(TLSPeer(subject("bob")), users) == (
        None,
        "user 'bob' - invalid credentials",
    )
    assert external_login(TLSPeer(subject()), users) == (None, "no name found")
    assert external_login(TLSPeer(None), users) == (
        None,
        "connection peer presented no TLS (x.509) certificate",
    )


async def test_a_certificate_without_cn_is_refused(broker_log: LogWaiter) -> None:
    certificates = TLSCertificates()
    assert certificates.client is None
    no_cn = certificates.ca.issue_cert("svc@example.org")  # an e-mail identity, no CN
    context = certificates.client_context()
    no_cn.configure_cert(context)
    server = certificates.server_context(verify_client="required")
    async with FakeBroker(ssl_context=server, silent_close_delay=0.1).serve() as broker:
        with pytest.raises(async_amqp.AuthenticationError):
            async with broker.connect(ssl=context, login_method="EXTERNAL"):
                pass
    await broker_log.wait_for("EXTERNAL login refused: no name found")


def test_the_client_certificate_names_the_user_as_cn_and_a_reserved_dns_name() -> None:
    """The CN is what EXTERNAL reads; the alternative name is there because cryptography
    51 refuses to make a certificate without one."""
    certificates = TLSCertificates(["localhost"], client_user="svc")
    assert certificates.client is not None
    cert = x509.load_pem_x509_certificate(certificates.client.cert_chain_pems[0].bytes())
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert [name.value for name in names] == ["svc"]
    alternatives = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert alternatives.get_values_for_type(x509.DNSName) == [CLIENT_IDENTITY]
