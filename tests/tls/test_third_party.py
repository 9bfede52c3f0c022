"""Other AMQP clients over TLS to the fake broker: pika (sync) and aio-pika (asyncio only).

They are configured the way their users configure them for RabbitMQ: an
``SSLContext`` or the CA/certificate/key files, and EXTERNAL credentials for
mutual TLS.
"""

from __future__ import annotations

import aio_pika
import pika
import pytest
from pika.credentials import ExternalCredentials

from async_amqp_testing import BlockingFakeBroker, FakeBroker


@pytest.fixture(
    params=[
        "asyncio",
        pytest.param("trio", marks=pytest.mark.skip(reason="aio-pika runs on asyncio only")),
    ]
)
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_pika_over_tls(fake_broker_tls: BlockingFakeBroker) -> None:
    broker = fake_broker_tls
    parameters = pika.ConnectionParameters(
        host=broker.host,
        port=broker.port,
        ssl_options=pika.SSLOptions(broker.client_ssl_context, broker.host),
    )
    connection = pika.BlockingConnection(parameters)
    channel = connection.channel()
    channel.queue_declare("pika-tls")
    channel.basic_publish("", "pika-tls", b"encrypted")
    channel.queue_declare("pika-tls", passive=True)  # a round trip: the publish is in
    assert [message.body for message in broker.messages("pika-tls")] == [b"encrypted"]
    connection.close()


def test_pika_external_login_with_a_client_certificate(
    fake_broker_mtls: BlockingFakeBroker,
) -> None:
    broker = fake_broker_mtls
    parameters = pika.ConnectionParameters(
        host=broker.host,
        port=broker.port,
        ssl_options=pika.SSLOptions(broker.client_ssl_context, broker.host),
        credentials=ExternalCredentials(),
    )
    connection = pika.BlockingConnection(parameters)
    connection.channel().queue_declare("pika-mtls")
    assert [info.user for info in broker.connections()] == ["guest"]
    connection.close()


@pytest.mark.fake_broker(users={"alice": "never-sent"})
async def test_aio_pika_with_certificate_files_and_external(fake_broker_mtls: FakeBroker) -> None:
    files = fake_broker_mtls.tls_files
    assert files.client_certificate is not None
    url = (
        f"amqps://{fake_broker_mtls.host}:{fake_broker_mtls.port}/"
        f"?cafile={files.ca_certificate}&certfile={files.client_certificate}"
        f"&keyfile={files.client_key}&auth=external"
    )
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue("aio-pika-mtls")
        assert [info.user for info in fake_broker_mtls.connections()] == ["alice"]
        await channel.default_exchange.publish(aio_pika.Message(b"hi"), routing_key=queue.name)
        message = await queue.get(timeout=5)
        assert message is not None
        await message.ack()
        assert message.body == b"hi"
    assert "aio-pika-mtls" in fake_broker_mtls.queues()


async def test_aio_pika_with_an_ssl_context(fake_broker_tls: FakeBroker) -> None:
    connection = await aio_pika.connect(
        host=fake_broker_tls.host,
        port=fake_broker_tls.port,
        ssl=True,
        ssl_context=fake_broker_tls.client_ssl_context,
    )
    async with connection:
        channel = await connection.channel()
        await channel.declare_queue("aio-pika-tls")
    assert "aio-pika-tls" in fake_broker_tls.queues()
