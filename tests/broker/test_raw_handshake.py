"""Raw-frame tests of the connection handshake, against the fake broker and RabbitMQ.

Protocol headers, connection.start, PLAIN/AMQPLAIN logins, refused logins
(with and without ``authentication_failure_close``), tune-ok limits, unknown
vhosts, heartbeats and the close handshakes: each must be answered exactly as
RabbitMQ 3.10 answers it, and must not disturb the broker's other connections.
"""

from __future__ import annotations

import re
import uuid

import anyio
import pytest
from pamqp import commands

from async_amqp._core.wire import PROTOCOL_HEADER, encode_method
from async_amqp_testing import FakeBroker
from async_amqp_testing.raw import (
    DEFAULT_CAPABILITIES,
    RawConnection,
    amqplain_response,
    encode_frame,
)

from .wirekit import WireTarget, assert_usable, close_reply, connection_error

RABBITMQ_CAPABILITIES = {
    "publisher_confirms",
    "exchange_exchange_bindings",
    "basic.nack",
    "consumer_cancel_notify",
    "connection.blocked",
    "consumer_priorities",
    "authentication_failure_close",
    "per_consumer_qos",
    "direct_reply_to",
}
NO_FAILURE_CLOSE = {
    k: v for k, v in DEFAULT_CAPABILITIES.items() if k != "authentication_failure_close"
}


@pytest.mark.parametrize("header", [PROTOCOL_HEADER, b"AMQP\x01\x01\x00\x09"], ids=["0-9-1", "0-9"])
async def test_connection_start_looks_like_rabbitmq(wire_target: WireTarget, header: bytes) -> None:
    async with await wire_target.raw() as raw:
        start = await raw.start(header)
    assert (start.version_major, start.version_minor) == (0, 9)
    assert start.mechanisms == "PLAIN AMQPLAIN"
    assert start.locales == "en_US"
    properties = start.server_properties
    assert set(properties) == {
        "capabilities",
        "cluster_name",
        "copyright",
        "information",
        "platform",
        "product",
        "version",
    }
    assert properties["capabilities"] == dict.fromkeys(RABBITMQ_CAPABILITIES, True)
    assert all(isinstance(properties[key], str) for key in set(properties) - {"capabilities"})
    # Clients parse the version as dotted integers (RabbitMQ sends e.g. "3.10.8").
    assert re.fullmatch(r"\d+\.\d+\.\d+", str(properties["version"])), properties["version"]
    if wire_target.is_fake:
        assert properties["version"] == "3.10.8"
        assert properties["product"] == "async_amqp_testing"
    else:
        assert properties["product"] == "RabbitMQ"


async def test_server_version_is_configurable() -> None:
    broker = FakeBroker(server_version="3.13.0")
    async with broker.serve():
        async with await RawConnection.connect(broker.host, broker.port) as raw:
            start = await raw.start(PROTOCOL_HEADER)
    assert start.server_properties["version"] == "3.13.0"
    assert start.server_properties["product"] == "async_amqp_testing"


@pytest.mark.parametrize(
    "header",
    [
        b"AMQP\x00\x00\x09\x00",
        b"AMQP\x00\x01\x00\x00",
        b"AMQP\x01\x01\x00\x0a",
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\x00\x00\x00\x00\x00\x00\x00\x00",
    ],
    ids=["0-9-0", "1-0-0", "0-10", "http", "zeros"],
)
async def test_other_headers_get_ours_and_a_closed_socket(
    wire_target: WireTarget, header: bytes
) -> None:
    async with wire_target.bystander() as other:
        async with await wire_target.raw() as raw:
            await raw.send(header)
            assert await raw.receive_bytes(8) == PROTOCOL_HEADER
            assert await raw.wait_closed() == []
        await assert_usable(other)


@pytest.mark.parametrize("mechanism", ["PLAIN", "AMQPLAIN"])
async def test_login_and_tune(wire_target: WireTarget, mechanism: str) -> None:
    async with await wire_target.raw() as raw:
        await raw.start()
        await raw.login(wire_target.user, wire_target.password, mechanism=mechanism)
        tune = await raw.expect(commands.Connection.Tune, 0)
        assert (tune.channel_max, tune.frame_max, tune.heartbeat) == (2047, 131072, 60)
        await raw.send_method(0, commands.Connection.TuneOk(2047, 131072, 0))
        await raw.send_method(0, commands.Connection.Open(virtual_host=wire_target.vhost))
        open_ok = await raw.expect(commands.Connection.OpenOk, 0)
        assert open_ok.known_hosts == ""
        await raw.open_channel(1)
        await assert_usable(raw)
        await raw.close()


@pytest.mark.parametrize(
    ("user", "password", "mechanism"),
    [("guest", "wrong", "PLAIN"), ("nobody-at-all", "guest", "PLAIN"), ("guest", "x", "AMQPLAIN")],
    ids=["bad-password", "unknown-user", "amqplain"],
)
async def test_refused_login_with_failure_close_capability(
    wire_target: WireTarget, user: str, password: str, mechanism: str
) -> None:
    async with wire_target.bystander() as other:
        async with await wire_target.raw() as raw:
            await raw.start()
            await raw.login(user, password, mechanism=mechanism)
            assert await connection_error(raw) == (
                403,
                f"ACCESS_REFUSED - Login was refused using authentication mechanism {mechanism}. "
                "For details see the broker logfile.",
                0,
                0,
            )
        await assert_usable(other)


async def _silently_closed(raw: RawConnection) -> bool:
    """True when the broker closes the socket without sending a single frame."""
    try:
        return await raw.wait_closed() == []
    finally:
        await raw.aclose()


async def test_handshake_failures_close_the_socket_silently(wire_target: WireTarget) -> None:
    """Refused logins without the capability, bad mechanisms and tune-ok outside the limits.

    RabbitMQ waits 3 s before closing; the cases run concurrently so the test waits once.
    """

    async def login(
        response: bytes, mechanism: str = "PLAIN", caps: dict[str, bool] | None = None
    ) -> bool:
        raw = await wire_target.raw()
        await raw.start()
        await raw.login(mechanism=mechanism, response=response, capabilities=caps)
        return await _silently_closed(raw)

    async def tune_ok(channel_max: int, frame_max: int) -> bool:
        raw = await wire_target.raw()
        await raw.start()
        await raw.login(wire_target.user, wire_target.password)
        await raw.expect(commands.Connection.Tune, 0)
        await raw.send_method(0, commands.Connection.TuneOk(channel_max, frame_max, 0))
        await raw.send_method(0, commands.Connection.Open(virtual_host=wire_target.vhost))
        return await _silently_closed(raw)

    async def out_of_order(
        method: commands.Connection.Open | commands.Channel.Open | commands.Connection.Close,
    ) -> bool:
        raw = await wire_target.raw()
        await raw.start()
        await raw.send_method(1 if isinstance(method, commands.Channel.Open) else 0, method)
        return await _silently_closed(raw)

    async def close_before_tune_ok() -> bool:
        raw = await wire_target.raw()
        await raw.start()
        await raw.login(wire_target.user, wire_target.password)
        await raw.expect(commands.Connection.Tune, 0)
        await raw.send_method(0, commands.Connection.Close(200, "", 0, 0))
        return await _silently_closed(raw)

    good = amqplain_response("guest", "guest")
    cases = {
        "wrong password, no capability": lambda: login(b"\0guest\0wrong", caps=NO_FAILURE_CLOSE),
        "unknown mechanism": lambda: login(b"\0guest\0guest", mechanism="CRAM-MD5"),
        "lower-case mechanism": lambda: login(b"\0guest\0guest", mechanism="plain"),
        "PLAIN with authzid": lambda: login(b"guest\0guest\0guest"),
        "PLAIN with a trailing NUL": lambda: login(b"\0guest\0guest\0"),
        "PLAIN without password": lambda: login(b"\0guest"),
        "AMQPLAIN garbage": lambda: login(b"garbage", mechanism="AMQPLAIN"),
        "AMQPLAIN without LOGIN": lambda: login(good[good.index(b"\x08PASSWORD") :], "AMQPLAIN"),
        "tune-ok channel_max 0": lambda: tune_ok(0, 131072),
        "tune-ok channel_max too big": lambda: tune_ok(2048, 131072),
        "tune-ok frame_max 0": lambda: tune_ok(2047, 0),
        "tune-ok frame_max below 4096": lambda: tune_ok(2047, 4095),
        "tune-ok frame_max too big": lambda: tune_ok(2047, 131073),
        "connection.open before start-ok": lambda: out_of_order(commands.Connection.Open()),
        "channel.open before start-ok": lambda: out_of_order(commands.Channel.Open()),
        "connection.close before start-ok": lambda: out_of_order(
            commands.Connection.Close(200, "", 0, 0)
        ),
        "connection.close before tune-ok": lambda: close_before_tune_ok(),
    }
    results: dict[str, bool | BaseException] = {}

    async def run(name: str) -> None:
        try:
            results[name] = await cases[name]()
        except Exception as error:
            results[name] = error

    async with wire_target.bystander() as other, anyio.create_task_group() as task_group:
        for name in cases:
            task_group.start_soon(run, name)
    failed = {name: result for name, result in results.items() if result is not True}
    assert failed == {}
    async with wire_target.bystander() as other:
        await assert_usable(other)


async def test_unknown_vhost(wire_target: WireTarget) -> None:
    vhost = f"no-such-vhost-{uuid.uuid4().hex[:8]}"
    async with wire_target.bystander() as other:
        async with await wire_target.raw() as raw:
            await raw.start()
            await raw.login(wire_target.user, wire_target.password)
            await raw.tune()
            await raw.send_method(0, commands.Connection.Open(virtual_host=vhost))
            assert await connection_error(raw) == (
                530,
                f"NOT_ALLOWED - vhost {vhost} not found",
                10,
                40,
            )
        await assert_usable(other)


async def test_heartbeats_are_sent_and_a_silent_client_is_dropped(wire_target: WireTarget) -> None:
    async with await wire_target.raw() as raw:
        await raw.start()
        await raw.login(wire_target.user, wire_target.password)
        await raw.tune(heartbeat=1)
        await raw.open(wire_target.vhost)
        frame = await raw.receive_frame(skip_heartbeats=False)
        assert frame.is_heartbeat
        assert frame.channel_id == 0
        # Now say nothing: two missed intervals later the socket closes, with no close method.
        assert await raw.wait_closed() == []
    await wire_target.assert_serving()


async def test_heartbeats_keep_a_quiet_connection_open(wire_target: WireTarget) -> None:
    async with await wire_target.raw() as raw:
        await raw.start()
        await raw.login(wire_target.user, wire_target.password)
        await raw.tune(heartbeat=1)
        await raw.open(wire_target.vhost)
        await raw.open_channel(1)
        for _ in range(4):  # four of the broker's heartbeats, each answered: > 2 intervals
            frame = await raw.receive_frame(skip_heartbeats=False)
            assert frame.is_heartbeat
            await raw.send_heartbeat()
        await assert_usable(raw)
        await raw.close()


async def test_heartbeat_during_the_handshake_is_fine(wire_target: WireTarget) -> None:
    async with await wire_target.raw() as raw:
        await raw.start()
        await raw.send_heartbeat()
        await raw.login(wire_target.user, wire_target.password)
        await raw.tune()
        await raw.send_heartbeat()
        await raw.open(wire_target.vhost)
        await raw.close()


async def test_client_close_gets_close_ok(wire_target: WireTarget) -> None:
    async with wire_target.opened(1) as raw:
        await raw.send_method(0, commands.Connection.Close(200, "bye", 0, 0))
        await raw.expect(commands.Connection.CloseOk, 0)


async def test_update_secret(wire_target: WireTarget) -> None:
    async with wire_target.opened(None) as raw:
        await raw.send_method(0, commands.Connection.UpdateSecret(new_secret="guest", reason="x"))
        await raw.expect(commands.Connection.UpdateSecretOk, 0)
        await raw.close()


async def test_frames_after_the_brokers_close_are_ignored_until_close_ok(
    wire_target: WireTarget,
) -> None:
    async with wire_target.opened(1) as raw:
        await raw.send_method(1, commands.Channel.Open())  # 504: second channel.open
        close = await raw.expect_connection_close(answer=False)
        assert close_reply(close)[:2] == (504, "CHANNEL_ERROR - second 'channel.open' seen")
        await raw.send_method(1, commands.Basic.Qos(prefetch_count=1))
        await raw.send_method(0, commands.Connection.Close(200, "me too", 0, 0))
        await raw.expect(commands.Connection.CloseOk, 0)
        await raw.send_method(0, commands.Connection.CloseOk())
        assert await raw.wait_closed() == []


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (
            encode_method(1, commands.Channel.Open()),
            (505, "UNEXPECTED_FRAME - type 1, all octets = <<0,20,0,10,1,48>>", 0, 0),
        ),
        (
            encode_frame(2, 0, bytes(14)),
            (
                505,
                "UNEXPECTED_FRAME - type 2, all octets = <<0,0,0,0,0,0,0,0,0,0,0,0,0,0>>",
                0,
                0,
            ),
        ),
        (
            encode_method(0, commands.Queue.Declare()),
            (504, "CHANNEL_ERROR - unexpected method in connection state opening", 50, 10),
        ),
        (
            encode_method(0, commands.Connection.TuneOk(2047, 131072, 0)),
            (504, "CHANNEL_ERROR - unexpected method in connection state opening", 10, 31),
        ),
        (
            encode_method(0, commands.Connection.Close(200, "bye", 0, 0)),
            (504, "CHANNEL_ERROR - unexpected method in connection state opening", 10, 50),
        ),
        (
            encode_method(0, commands.Connection.Open())[:-1] + b"\x00",
            (
                501,
                "FRAME_ERROR - type 1, all octets = <<0,10,0,40,1,47,0,0>>: "
                "{invalid_frame_end_marker,0}",
                0,
                0,
            ),
        ),
    ],
    ids=["channel-frame", "header-frame", "queue.declare", "tune-ok", "close", "bad-frame-end"],
)
async def test_errors_between_tune_ok_and_open_are_answered_with_a_close(
    wire_target: WireTarget, frame: bytes, expected: tuple[int, str, int, int]
) -> None:
    """After tune-ok RabbitMQ is "opening": errors get connection.close, not a silent close."""
    async with wire_target.bystander() as other:
        async with await wire_target.raw() as raw:
            await raw.start()
            await raw.login(wire_target.user, wire_target.password)
            await raw.tune()
            await raw.send(frame)
            assert await connection_error(raw) == expected
        await assert_usable(other)
