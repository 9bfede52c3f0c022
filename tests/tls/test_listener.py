"""Clients that botch the TLS handshake are logged and dropped; the listener keeps serving.

Each bad client stays connected while a good client completes a round trip (so
a bad handshake never holds up the listener), then the broker drops it: at once
for bytes that are not TLS, after ``tls_handshake_timeout`` for a client that
says nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

from async_amqp_testing import FakeBroker
from async_amqp_testing.tls import TLSCertificates

from .helpers import LogWaiter, client_hello, read_until_closed

#: Bad clients: what they send, and how the broker's log line describes them.
BAD_CLIENTS = {
    "plaintext-amqp": (b"AMQP\x00\x00\x09\x01", "not a TLS client"),
    "garbage": (bytes(range(256)) * 2, "not a TLS client"),
    "garbage-tls-record": (b"\x16\x03\x01\x00\x10" + b"\x01" * 16, "dropped"),
    "http": (b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", "not a TLS client"),
    "silent": (b"", "TLS handshake not finished in 0.5s"),
}


@pytest.fixture
async def broker(certificates: TLSCertificates) -> AsyncIterator[FakeBroker]:
    async with FakeBroker(certificates=certificates, tls_handshake_timeout=0.5).serve() as served:
        yield served


async def good_client_round_trip(broker: FakeBroker, queue: str) -> None:
    async with broker.connect() as conn, conn.new_channel() as channel:
        await channel.queue_declare(queue)
        await channel.confirm_select()
        await channel.publish(b"still serving", "", queue)
        message = await channel.basic_get(queue, no_ack=True)
        assert message["message"] == b"still serving"


@pytest.mark.parametrize("kind", sorted(BAD_CLIENTS))
async def test_bad_client_is_dropped_and_the_listener_serves_on(
    broker: FakeBroker, broker_log: LogWaiter, kind: str
) -> None:
    sent, logged = BAD_CLIENTS[kind]
    async with await anyio.connect_tcp(broker.host, broker.port) as bad:
        if sent:
            await bad.send(sent)
        await good_client_round_trip(broker, f"after-{kind}")
        await read_until_closed(bad)  # the broker drops it
    message = await broker_log.wait_for("TLS connection from 127.0.0.1:")
    assert "dropped" in message, message
    assert logged in message, message
    await good_client_round_trip(broker, f"after-{kind}")


@pytest.mark.parametrize("part", [0.5, 1.0], ids=["half-a-client-hello", "whole-client-hello"])
async def test_client_hanging_up_mid_handshake(
    broker: FakeBroker, broker_log: LogWaiter, part: float
) -> None:
    hello = client_hello()
    async with await anyio.connect_tcp(broker.host, broker.port) as bad:
        await bad.send(hello[: int(len(hello) * part)])
        await good_client_round_trip(broker, "mid-handshake")
    # the client hung up: the broker logs it and goes on
    assert "hung up" in await broker_log.wait_for("TLS connection from 127.0.0.1:")
    await good_client_round_trip(broker, "mid-handshake")


async def test_many_silent_clients_do_not_hold_up_the_listener(
    broker: FakeBroker, broker_log: LogWaiter
) -> None:
    async with anyio.create_task_group() as task_group:
        silent = [await anyio.connect_tcp(broker.host, broker.port) for _ in range(20)]
        await good_client_round_trip(broker, "beside-silent-clients")
        for stream in silent:
            task_group.start_soon(read_until_closed, stream)
    for stream in silent:
        await stream.aclose()
    await broker_log.wait_for("TLS handshake not finished")
    await good_client_round_trip(broker, "beside-silent-clients")


async def test_a_plain_amqp_client_gets_no_amqp_answer(broker: FakeBroker) -> None:
    async with await anyio.connect_tcp(broker.host, broker.port) as plain:
        await plain.send(b"AMQP\x00\x00\x09\x01")
        answer = await read_until_closed(plain)
    assert not answer.startswith(b"AMQP")  # a TLS alert at most, never connection.start
