"""Error messages a person can act on: no numeric prefix, where and when, and hints.

Each test names the message it replaces (the text before this was fixed) in a comment.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import anyio.abc
import pytest
from anyio.abc import SocketAttribute

import async_amqp
from async_amqp._core.server_events import LoginRequested
from async_amqp_testing import FakeBroker
from tests.client.test_connection import socket_free_port

PASSWORD = "S3cretPW"


@pytest.fixture
async def broker() -> AsyncIterator[FakeBroker]:
    async with FakeBroker(users={"app": PASSWORD}).serve() as served:
        yield served


async def test_client_side_errors_have_no_numeric_prefix(broker: FakeBroker) -> None:
    # was: "0 channel 1 is closed"
    async with broker.connect() as conn:
        async with conn.new_channel() as chan:
            pass
        with pytest.raises(async_amqp.ChannelClosedError) as caught:
            await chan.queue_declare("late")
    text = str(caught.value)
    assert text.startswith("channel 1 is closed: it was used after its 'async with")
    assert caught.value.reply_code == 0


async def test_broker_errors_keep_their_reply_code(broker: FakeBroker) -> None:
    async with broker.connect() as conn, conn.new_channel() as chan:
        with pytest.raises(async_amqp.NotFoundError) as caught:
            await chan.queue_declare("missing", passive=True)
    assert str(caught.value).startswith("404 NOT_FOUND - no queue 'missing'")


async def test_tls_to_a_plain_port_names_host_port_and_stage(broker: FakeBroker) -> None:
    # was: "0 TLS handshake failed: the broker did not answer with TLS (...)"
    with pytest.raises(async_amqp.TLSError) as caught:
        async with async_amqp.connect_amqp(broker.host, broker.port, ssl=True):
            pass
    text = str(caught.value)
    assert text.startswith("TLS handshake failed: ")
    assert f"({broker.host}:{broker.port}, stage: TLS handshake)" in text


async def test_connection_used_outside_async_with(broker: FakeBroker) -> None:
    # was: "0 connection is await_start"
    conn = broker.connect()
    with pytest.raises(async_amqp.ConnectionClosedError) as caught:
        async with conn.new_channel():
            pass
    text = str(caught.value)
    assert "await_start" not in text
    assert text.startswith("the connection is not open: use it inside its 'async with' block")


async def test_repr_names_the_state_for_humans(broker: FakeBroker) -> None:
    conn = broker.connect()
    assert repr(conn) == f"<AmqpProtocol {broker.host}:{broker.port} vhost='/' not open>"
    async with conn:
        assert repr(conn).endswith(" open>")
    assert repr(conn).endswith(" closed>")


async def test_connection_used_after_async_with(broker: FakeBroker) -> None:
    async with broker.connect() as conn:
        pass
    with pytest.raises(async_amqp.ConnectionClosedError) as caught:
        async with conn.new_channel():
            pass
    assert str(caught.value) == "connection closed by the client"


async def test_awaiting_a_connection_gives_the_aio_pika_hint(broker: FakeBroker) -> None:
    # was: "object AmqpProtocol can't be used in 'await' expression"
    with pytest.raises(TypeError, match=r"async with async_amqp\.connect_from_url\(url\) as conn"):
        await async_amqp.connect_from_url(broker.url)  # type: ignore[misc]


async def test_closed_port_names_host_port_and_stage() -> None:
    # was: OSError "All connection attempts failed"
    with socket_free_port() as port, pytest.raises(async_amqp.BrokerUnreachableError) as caught:
        async with async_amqp.connect_amqp("127.0.0.1", port):
            pass
    assert isinstance(caught.value, OSError)
    assert str(caught.value) == (
        f"cannot connect to 127.0.0.1:{port} (stage: TCP connect): Connection refused"
    )
    assert f"while connecting to 127.0.0.1:{port} (stage: TCP connect or TLS handshake)" in (
        caught.value.__notes__
    )


async def _http_server(*, task_status: anyio.abc.TaskStatus[int]) -> None:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)

    async def answer(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            await stream.receive()
            await stream.send(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")

    async with listener:
        task_status.started(int(listener.extra(SocketAttribute.local_port)))
        await listener.serve(answer)


async def test_an_http_server_is_named_as_such() -> None:
    # was: ConnectionLostError "0 the broker closed the connection"
    async with anyio.create_task_group() as task_group:
        port = await task_group.start(_http_server)
        with pytest.raises(async_amqp.ProtocolMismatchError) as caught:
            async with async_amqp.connect_amqp("127.0.0.1", port):
                pass
        task_group.cancel_scope.cancel()
    text = str(caught.value)
    assert text.startswith(
        "the peer is not an AMQP broker (an HTTP server): it answered b'HTTP/1.1"
    )
    assert text.endswith(f"(127.0.0.1:{port}, stage: AMQP handshake)")


async def _close_at_once(*, task_status: anyio.abc.TaskStatus[int]) -> None:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)

    async def hang_up(stream: anyio.abc.SocketStream) -> None:
        await stream.receive()
        await stream.aclose()

    async with listener:
        task_status.started(int(listener.extra(SocketAttribute.local_port)))
        await listener.serve(hang_up)


async def test_a_peer_that_hangs_up_before_the_handshake() -> None:
    async with anyio.create_task_group() as task_group:
        port = await task_group.start(_close_at_once)
        with pytest.raises(async_amqp.ConnectionLostError) as caught:
            async with async_amqp.connect_amqp("127.0.0.1", port):
                pass
        task_group.cancel_scope.cancel()
    assert str(caught.value) == (
        f"127.0.0.1:{port} closed the connection before the AMQP handshake "
        "(stage: waiting for connection.start): is this an AMQP broker's port?"
    )


async def test_refused_login_notes_host_port_and_stage(broker: FakeBroker) -> None:
    with pytest.raises(async_amqp.AuthenticationError) as caught:
        async with broker.connect(password="wrong"):
            pass
    assert PASSWORD not in str(caught.value)
    assert "wrong" not in str(caught.value)
    assert caught.value.__notes__ == [
        f"while connecting to {broker.host}:{broker.port} (stage: login)"
    ]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # was: "invalid port in URL 'amqp://app:S3cretPW@host:notaport/'"
        (
            f"amqp://app:{PASSWORD}@host:notaport/",
            "invalid port in URL 'amqp://app:***@host:notaport/': "
            "the port must be a number 0..65535",
        ),
        # was: a bare ValueError "Invalid IPv6 URL"
        (f"amqp://app:{PASSWORD}@[::1/", "invalid URL 'amqp://app:***@[::1/': Invalid IPv6 URL"),
    ],
)
def test_bad_urls_are_configuration_errors_without_the_password(url: str, expected: str) -> None:
    with pytest.raises(async_amqp.ConfigurationError) as caught:
        async_amqp.connect_from_url(url)
    assert str(caught.value) == expected
    assert PASSWORD not in repr(caught.value)


def test_login_event_repr_hides_the_sasl_response() -> None:
    # was: LoginRequested(..., response=b'\x00app\x00S3cretPW') in the broker's DEBUG log
    event = LoginRequested("PLAIN", f"\0app\0{PASSWORD}".encode(), {}, "en_US")
    assert PASSWORD not in repr(event)
    assert "response=<13 bytes hidden>" in repr(event)


async def test_unknown_vhost_notes_the_stage(broker: FakeBroker) -> None:
    with pytest.raises(async_amqp.NotAllowedError) as caught:
        async with broker.connect(virtualhost="nope"):
            pass
    assert caught.value.__notes__ == [
        f"while connecting to {broker.host}:{broker.port} (stage: opening the virtual host 'nope')"
    ]
