"""Opening a connection to a peer that misbehaves: servers that are not AMQP, a
protocol header sent back in pieces, frames too big for the handshake, tiny
frame_max offers, stalls at each stage, and hang-ups during login."""

from __future__ import annotations

import inspect
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.abc
import pytest

import async_amqp
from async_amqp._core import server as sv

from .scripted import Script, ScriptedPeer, scripted_broker

pytestmark = pytest.mark.timeout(30)

NATS_GREETING = (
    b'INFO {"server_id":"NDJWE4Q2","server_name":"nats","version":"2.10.7","proto":1,'
    b'"host":"0.0.0.0","port":4222,"headers":true,"max_payload":1048576}\r\n'
)
HTTP_ERROR_PAGE = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\nContent-Length: 50\r\n\r\n"
    b"<html><body><h1>400 Bad Request</h1></body></html>"
)


async def test_a_server_that_greets_first_is_not_amqp() -> None:
    """NATS writes its INFO line before reading anything, and keeps the socket open."""

    async def nats(peer: ScriptedPeer) -> None:
        await peer.stream.send(NATS_GREETING)
        await anyio.sleep_forever()

    async with scripted_broker(nats) as port:
        with anyio.fail_after(5), pytest.raises(async_amqp.ProtocolMismatchError) as caught:
            async with async_amqp.connect_amqp("127.0.0.1", port, connection_timeout=None):
                pytest.fail("a NATS server is no broker")
    text = str(caught.value)
    assert text.startswith("the peer is not an AMQP broker (a NATS server): it answered b'INFO {")
    assert text.endswith(f"(127.0.0.1:{port}, stage: AMQP handshake)")
    assert isinstance(caught.value, async_amqp.ProtocolViolationError)


async def test_an_http_error_page_is_not_amqp() -> None:
    """An HTTP server answers the protocol header with an error page, socket left open."""

    async def http(peer: ScriptedPeer) -> None:
        await peer.stream.receive()
        await peer.stream.send(HTTP_ERROR_PAGE)
        await anyio.sleep_forever()

    async with scripted_broker(http) as port:
        with anyio.fail_after(5), pytest.raises(async_amqp.ProtocolMismatchError) as caught:
            async with async_amqp.connect_amqp("127.0.0.1", port, connection_timeout=None):
                pytest.fail("an HTTP server is no broker")
    assert "HTTP/1.1 400 Bad Request" in str(caught.value)


@pytest.mark.parametrize("header", [b"AMQP\x00\x00\x09\x01", b"AMQP\x01\x01\x00\x0a"])
@pytest.mark.parametrize("split", [1, 3, 4, 7])
async def test_a_protocol_header_reply_is_recognised_however_it_is_split(
    header: bytes, split: int
) -> None:
    async def refuse_in_two_reads(peer: ScriptedPeer) -> None:
        await peer.stream.receive()
        await peer.stream.send(header[:split])
        await anyio.sleep(0.05)  # the client reads the first piece on its own
        await peer.stream.send(header[split:])
        await anyio.sleep_forever()

    async with scripted_broker(refuse_in_two_reads) as port:
        with anyio.fail_after(5), pytest.raises(async_amqp.ProtocolMismatchError) as caught:
            async with async_amqp.connect_amqp("127.0.0.1", port, connection_timeout=None):
                pytest.fail("the broker refused the protocol")
    assert repr(header) in str(caught.value)


async def test_a_frame_over_4096_bytes_before_tune_is_refused_at_once() -> None:
    """Before tune, frames are limited to 4096 bytes; the client does not wait for more."""
    closes = []

    async def huge_start(peer: ScriptedPeer) -> None:
        await peer.stream.receive()
        await peer.stream.send(struct.pack(">BHI", 1, 0, 10_000) + b"\x00\x0a\x00\x0a")
        closes.append(await peer.read_close())

    async with scripted_broker(huge_start, finish=True) as port:
        with anyio.fail_after(5), pytest.raises(async_amqp.MalformedFrameError) as caught:
            async with async_amqp.connect_amqp("127.0.0.1", port, connection_timeout=None):
                pytest.fail("the start frame is too large")
    assert caught.value.reply_code == 501
    assert "frame_too_large" in caught.value.reply_text
    assert [close.reply_code if close else None for close in closes] == [501]


async def test_a_tune_with_frame_max_below_4096_is_refused() -> None:
    """A broker offering frame_max 8 would make every publish fail; the client says 530."""
    closes = []

    async def offer_tiny_frames(peer: ScriptedPeer) -> None:
        await peer.until(sv.LoginRequested)
        peer.core.accept_login()
        await peer.flush()
        closes.append(await peer.read_close())

    async with scripted_broker(offer_tiny_frames, frame_max=8, finish=True) as port:
        with anyio.fail_after(5), pytest.raises(async_amqp.ProtocolViolationError) as caught:
            async with async_amqp.connect_amqp("127.0.0.1", port) as conn:
                chan = await conn.channel()
                await chan.publish(b"0123456789", "", "q")
    expected = (
        "NOT_ALLOWED - negotiated frame_max = 8 is lower than the minimum allowed value (4096)"
    )
    assert caught.value.reply_text == expected
    assert (caught.value.class_id, caught.value.method_id) == (10, 30)
    assert [(close.reply_code, close.reply_text) if close else None for close in closes] == [
        (530, expected)
    ]


def test_the_default_connection_timeout_is_ten_seconds() -> None:
    for function in (async_amqp.connect_amqp, async_amqp.AmqpProtocol):
        default = inspect.signature(function).parameters["connection_timeout"].default
        assert default == 10.0, function


async def _silent(peer: ScriptedPeer) -> None:
    await peer.stream.receive()
    await anyio.sleep_forever()


async def _silent_after_start(peer: ScriptedPeer) -> None:
    await peer.until(sv.LoginRequested)
    await anyio.sleep_forever()


async def _silent_after_tune(peer: ScriptedPeer) -> None:
    await peer.until(sv.LoginRequested)
    peer.core.accept_login()
    await peer.flush()
    await peer.until(sv.OpenRequested)
    await anyio.sleep_forever()


@pytest.mark.parametrize(
    ("script", "stage"),
    [
        (_silent, "waiting for connection.start"),
        (_silent_after_start, "logging in (waiting for connection.tune"),
        (_silent_after_tune, "opening the vhost (waiting for connection.open-ok)"),
    ],
)
async def test_a_stalled_handshake_names_host_port_and_stage(script: Script, stage: str) -> None:
    async with scripted_broker(script) as port:
        with anyio.fail_after(5), pytest.raises(async_amqp.HandshakeTimeoutError) as caught:
            async with async_amqp.connect_amqp("127.0.0.1", port, connection_timeout=0.5):
                pytest.fail("the handshake never finishes")
    error = caught.value
    assert isinstance(error, TimeoutError)
    assert (error.host, error.port, error.timeout) == ("127.0.0.1", port, 0.5)
    assert stage in error.stage
    assert f"no connection to 127.0.0.1:{port} within 0.5s: stalled {stage}" in str(error)


@asynccontextmanager
async def _mute_listener() -> AsyncIterator[int]:
    """A TCP server that accepts and never says anything (a TLS handshake stalls)."""
    listener = (await anyio.create_tcp_listener(local_host="127.0.0.1")).listeners[0]
    assert isinstance(listener, anyio.abc.SocketListener)
    accepted: list[anyio.abc.SocketStream] = []

    async def accept() -> None:
        accepted.append(await listener.accept())
        await anyio.sleep_forever()

    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(accept)
        yield listener.extra(anyio.abc.SocketAttribute.local_port)
        tg.cancel_scope.cancel()
        for stream in accepted:
            await stream.aclose()


async def test_a_stalled_tls_handshake_names_the_connecting_stage() -> None:
    async with _mute_listener() as port:
        with anyio.fail_after(5), pytest.raises(async_amqp.HandshakeTimeoutError) as caught:
            async with async_amqp.connect_amqp("127.0.0.1", port, ssl=True, connection_timeout=0.5):
                pytest.fail("the TLS handshake never finishes")
    assert caught.value.stage == "connecting (TCP and TLS)"


async def test_a_network_cut_during_login_is_not_a_refused_login() -> None:
    async def reset_after_start_ok(peer: ScriptedPeer) -> None:
        await peer.until(sv.LoginRequested)
        await peer.reset()

    async with scripted_broker(reset_after_start_ok) as port:
        with anyio.fail_after(5), pytest.raises(async_amqp.ConnectionLostError) as caught:
            async with async_amqp.connect_amqp("127.0.0.1", port):
                pytest.fail("the connection was cut")
    assert not isinstance(caught.value, async_amqp.AuthenticationError)
    assert "while logging in" in str(caught.value)


async def test_a_tune_cut_in_half_is_not_a_refused_login() -> None:
    async def half_a_tune(peer: ScriptedPeer) -> None:
        await peer.until(sv.LoginRequested)
        peer.core.accept_login()
        tune = peer.core.data_to_send(0.0)
        await peer.stream.send(tune[:7])
        await peer.stream.aclose()

    async with scripted_broker(half_a_tune) as port:
        with anyio.fail_after(5), pytest.raises(async_amqp.ConnectionLostError) as caught:
            async with async_amqp.connect_amqp("127.0.0.1", port):
                pytest.fail("the connection was cut")
    assert not isinstance(caught.value, async_amqp.AuthenticationError)


async def test_an_orderly_close_right_after_start_ok_is_a_refused_login() -> None:
    """RabbitMQ closes the socket this way when the client lacks authentication_failure_close."""

    async def refuse_silently(peer: ScriptedPeer) -> None:
        await peer.until(sv.LoginRequested)
        await peer.stream.aclose()

    async with scripted_broker(refuse_silently) as port:
        with anyio.fail_after(5), pytest.raises(async_amqp.AuthenticationError) as caught:
            async with async_amqp.connect_amqp("127.0.0.1", port, login="bob"):
                pytest.fail("the login was refused")
    assert "wrong user name or password?" in str(caught.value)
    assert "'bob'" in str(caught.value)


async def test_a_hang_up_before_connection_start_names_the_stage() -> None:
    async def hang_up(peer: ScriptedPeer) -> None:
        await peer.stream.receive()
        await peer.stream.aclose()

    async with scripted_broker(hang_up) as port:
        with anyio.fail_after(5), pytest.raises(async_amqp.ConnectionLostError) as caught:
            async with async_amqp.connect_amqp("127.0.0.1", port):
                pytest.fail("the broker hung up")
    assert "(stage: waiting for connection.start)" in str(caught.value)


@pytest.mark.parametrize("stage", ["after the header", "after start-ok"])
async def test_a_cancelled_opening_ends_at_once_and_closes_the_socket(stage: str) -> None:
    """Cancelled while it waits for the broker (its tasks started, the protocol header,
    or start-ok, sent): the opening ends promptly, and the broker sees the socket close."""
    waiting = anyio.Event()
    outcome: list[str] = []

    async def stall(peer: ScriptedPeer) -> None:
        header = await peer.stream.receive()
        assert header.startswith(b"AMQP")
        if stage == "after start-ok":
            peer.core.receive(header, anyio.current_time())
            await peer.flush()  # connection.start
            await peer.until(sv.LoginRequested)  # start-ok read: no tune follows
        waiting.set()
        try:
            while await peer.stream.receive():
                pass
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            outcome.append("closed")

    async with scripted_broker(stall, finish=True) as port:
        with anyio.fail_after(5):
            with anyio.CancelScope() as scope:
                async with anyio.create_task_group() as tg:

                    async def cancel_once_waiting() -> None:
                        await waiting.wait()
                        scope.cancel()

                    tg.start_soon(cancel_once_waiting)
                    async with async_amqp.connect_amqp("127.0.0.1", port):
                        pytest.fail("the connection must not open")
            assert scope.cancelled_caught
    assert outcome == ["closed"]
