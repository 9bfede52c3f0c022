"""The client's and the broker's logs tell the story; the frame trace is opt-in; no secrets.

``async_amqp`` logs connects, closes and why, blocked/unblocked, server cancels and
heartbeat timeouts at INFO, channels, declares and consumers at DEBUG;
``async_amqp.frames`` and ``async_amqp_testing.frames`` trace every frame when set
to DEBUG explicitly.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import anyio
import pytest

import async_amqp
from async_amqp_testing import FakeBroker
from tests.broker.test_faults import wait_until

PASSWORD = "S3cretPW-9f2"


@pytest.fixture
async def broker() -> AsyncIterator[FakeBroker]:
    async with FakeBroker(users={"app": PASSWORD}).serve() as served:
        yield served


def client_lines(caplog: pytest.LogCaptureFixture, level: int = logging.DEBUG) -> list[str]:
    return [
        f"{record.levelname} {record.getMessage()}"
        for record in caplog.records
        if record.name == "async_amqp" and record.levelno >= level
    ]


async def round_trip(broker: FakeBroker) -> None:
    async with broker.connect() as conn, conn.new_channel() as chan:
        declared = await chan.queue_declare("jobs")
        await chan.exchange_declare("events", "topic")
        await chan.publish(b"payload " * 20, "", declared["queue"])
        async with chan.new_consumer(queue_name="jobs", consumer_tag="worker") as listener:
            async for _body, envelope, _properties in listener:
                await chan.basic_ack(envelope.delivery_tag)
                break


async def test_a_round_trip_at_info_and_debug(
    broker: FakeBroker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="async_amqp")
    await round_trip(broker)
    where = f"{broker.host}:{broker.port}"
    assert client_lines(caplog) == [
        f"INFO connected to {where}, vhost '/' (channel_max=2047, frame_max=131072, heartbeat=60s)",
        "DEBUG opening channel 1",
        "DEBUG declared queue 'jobs' (0 ready, 0 consumers)",
        "DEBUG declared exchange 'events' (topic)",
        "DEBUG consumer 'worker' started on queue 'jobs' (channel 1)",
        "DEBUG consumer 'worker' stopped (channel 1)",
        "DEBUG channel 1 closed",
        f"INFO connection to {where} closed: connection closed by the client",
    ]


async def test_blocked_unblocked_and_server_cancel_at_info(
    broker: FakeBroker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare("doomed")
        broker.block("low on memory")
        await chan.publish(b"x", "", "doomed")
        await wait_until(lambda: conn.is_blocked)
        broker.unblock()
        await wait_until(lambda: not conn.is_blocked)
        async with chan.new_consumer(queue_name="doomed", consumer_tag="c1") as listener:
            broker.cancel_consumer("doomed")
            async for _message in listener:
                pass
    lines = client_lines(caplog, logging.INFO)
    assert "INFO the broker blocked publishing: low on memory" in lines
    assert "INFO the broker unblocked publishing" in lines
    assert "INFO the broker cancelled consumer 'c1' on channel 1 (its queue was deleted?)" in lines
    broker_lines = [r.getMessage() for r in caplog.records if r.name == "async_amqp_testing"]
    assert "resource alarm raised: low on memory" in broker_lines
    assert "resource alarm cleared" in broker_lines
    assert "cancelled 1 consumer(s) of queue 'doomed' from the broker side" in broker_lines


async def test_broker_close_and_channel_error_say_why(
    broker: FakeBroker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with pytest.raises(async_amqp.ConnectionForcedError):
        async with broker.connect() as conn:
            async with conn.new_channel() as chan:
                with pytest.raises(async_amqp.NotFoundError):
                    await chan.queue_declare("missing", passive=True)
            broker.close_connection()
            await anyio.sleep(5)
    lines = client_lines(caplog, logging.INFO)
    assert (
        "INFO channel 1 closed by the broker: 404 NOT_FOUND - no queue 'missing' in vhost '/'"
        in lines
    )
    assert lines[-1] == (
        f"INFO connection to {broker.host}:{broker.port} ended: ConnectionForcedError: "
        "320 CONNECTION_FORCED - Closed via management plugin"
    )


async def test_heartbeat_timeout_at_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="async_amqp")
    async with FakeBroker(heartbeat=1).serve() as broker:
        with pytest.raises(async_amqp.HeartbeatTimeoutError):
            async with broker.connect() as conn:
                broker.pause()
                await anyio.sleep(10)
        broker.resume()
        assert conn.server_heartbeat == 1
    (line,) = [line for line in client_lines(caplog) if "HeartbeatTimeoutError" in line]
    assert line.startswith(f"INFO connection to {broker.host}:")


async def test_the_frame_trace_is_off_unless_asked(
    broker: FakeBroker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger at DEBUG, but not the frame traces
    await round_trip(broker)
    assert not [r for r in caplog.records if r.name.endswith(".frames")]


async def test_the_frame_trace_logs_one_line_per_frame(
    broker: FakeBroker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="async_amqp.frames")
    caplog.set_level(logging.DEBUG, logger="async_amqp_testing.frames")
    await round_trip(broker)
    client = [r.getMessage() for r in caplog.records if r.name == "async_amqp.frames"]
    served = [r.getMessage() for r in caplog.records if r.name == "async_amqp_testing.frames"]
    where = f"{broker.host}:{broker.port}"
    assert client[0] == f"{where} -> ch0 protocol header AMQP 0-9-1"
    assert client[1].startswith(f"{where} <- ch0 Connection.Start(version_major=0")
    assert "response=<" in client[2]
    assert client[2].startswith(f"{where} -> ch0 Connection.StartOk(")
    assert f"{where} -> ch1 body 160 bytes b'payload payload payload payload '…" in client
    assert f"{where} -> ch1 Basic.Ack(delivery_tag=1, multiple=False)" in client
    assert served[0].endswith("<- ch0 protocol header AMQP 0-9-1")
    assert any(line.endswith("-> ch1 Basic.ConsumeOk(consumer_tag='worker')") for line in served)
    # the same frames, seen from both ends
    assert len(client) == len(served)


async def test_no_secret_in_any_log_repr_or_error(
    broker: FakeBroker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="async_amqp.frames")
    caplog.set_level(logging.DEBUG, logger="async_amqp_testing.frames")
    shown: list[str] = []
    async with broker.connect() as conn, conn.new_channel() as chan:
        shown += [repr(conn), repr(chan), repr(broker)]
        await chan.queue_declare("q")
    await round_trip(broker)
    with pytest.raises(async_amqp.AuthenticationError) as refused:
        async with broker.connect(password=f"wrong-{PASSWORD}"):
            pass
    shown += [str(refused.value), repr(refused.value), *refused.value.__notes__]
    for url in [f"amqp://app:{PASSWORD}@host:notaport/", f"amqp://app:{PASSWORD}@[::1/"]:
        with pytest.raises(async_amqp.ConfigurationError) as bad:
            async_amqp.connect_from_url(url)
        shown += [str(bad.value), repr(bad.value)]
    records = [f"{r.name} {r.levelname} {r.getMessage()}" for r in caplog.records]
    assert any("Connection.StartOk" in line for line in records)  # the trace was on
    assert any(" DEBUG " in line for line in records)
    assert [line for line in records + shown if PASSWORD in line] == []
