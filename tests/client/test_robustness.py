"""What the client does when the broker misbehaves: silence, hang-ups, garbage."""

from __future__ import annotations

import struct

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pamqp import commands

import async_amqp
from async_amqp._core import server as sv
from async_amqp._core.wire import FrameReader, decode_method
from tests.core.test_fuzz_client import EXAMPLES, SESSION

from .scripted import ScriptedPeer, scripted_broker


async def test_silent_broker_raises_heartbeat_timeout() -> None:
    async def go_silent(peer: ScriptedPeer) -> None:
        await peer.handshake()
        await anyio.sleep_forever()

    async with scripted_broker(go_silent, heartbeat=1) as port:
        with anyio.fail_after(10), pytest.raises(async_amqp.HeartbeatTimeoutError):
            async with async_amqp.connect_amqp("127.0.0.1", port) as conn:
                assert conn.server_heartbeat == 1
                await anyio.sleep_forever()


async def test_client_sends_heartbeats_when_idle() -> None:
    got_heartbeats = anyio.Event()

    async def count_heartbeats(peer: ScriptedPeer) -> None:
        await peer.handshake()
        received = b""
        while received.count(b"\x08\x00\x00\x00\x00\x00\x00\xce") < 2:
            received += await peer.stream.receive()
        got_heartbeats.set()
        while True:  # answer the client's close
            await peer.receive_events()

    async with scripted_broker(count_heartbeats, heartbeat=1) as port:
        async with async_amqp.connect_amqp("127.0.0.1", port):
            with anyio.fail_after(10):
                await got_heartbeats.wait()


async def test_hang_up_fails_pending_calls_and_raises() -> None:
    async def hang_up_on_declare(peer: ScriptedPeer) -> None:
        await peer.handshake()
        await peer.until(sv.ChannelOpened)
        await peer.flush()
        await peer.until(sv.MethodReceived)
        await peer.stream.aclose()

    pending: list[BaseException] = []
    async with scripted_broker(hang_up_on_declare) as port:
        with pytest.raises(async_amqp.ConnectionLostError):
            async with async_amqp.connect_amqp("127.0.0.1", port) as conn:
                chan = await conn.channel()
                try:
                    await chan.queue_declare("q")
                except async_amqp.AmqpClosedConnection as error:
                    pending.append(error)
                    raise
    assert len(pending) == 1


async def test_garbage_frame_is_answered_with_501_and_raised() -> None:
    closes: list[commands.Connection.Close] = []

    async def send_garbage(peer: ScriptedPeer) -> None:
        await peer.handshake()
        await peer.stream.send(struct.pack(">BHI", 1, 0, 4) + b"\x00\x0a\x00\x3c" + b"\x00")
        reader = FrameReader()
        while not closes:
            for _, _, payload in reader.feed(await peer.stream.receive()):
                method = decode_method(payload)
                if isinstance(method, commands.Connection.Close):
                    closes.append(method)

    async with scripted_broker(send_garbage, finish=True) as port:
        with pytest.raises(async_amqp.FrameError) as caught:
            async with async_amqp.connect_amqp("127.0.0.1", port):
                await anyio.sleep_forever()
    assert caught.value.reply_code == 501
    assert [close.reply_code for close in closes] == [501]


async def test_protocol_mismatch_is_reported() -> None:
    async def refuse(peer: ScriptedPeer) -> None:
        await peer.stream.receive()
        await peer.stream.send(b"AMQP\x01\x01\x00\x0a")

    async with scripted_broker(refuse) as port:
        with pytest.raises(async_amqp.ProtocolMismatchError, match="protocol header"):
            async with async_amqp.connect_amqp("127.0.0.1", port):
                pass


async def test_connection_timeout_during_handshake() -> None:
    async def never_start(peer: ScriptedPeer) -> None:
        await anyio.sleep_forever()

    async with scripted_broker(never_start) as port:
        with pytest.raises(TimeoutError):
            async with async_amqp.connect_amqp("127.0.0.1", port, connection_timeout=0.5):
                pass


async def test_blocked_connection_holds_publishes_until_unblocked() -> None:
    published = anyio.Event()
    unblock = anyio.Event()

    async def block_then_unblock(peer: ScriptedPeer) -> None:
        await peer.handshake()
        await peer.until(sv.ChannelOpened)
        peer.core.send_method(0, commands.Connection.Blocked("low on memory"))
        qos = await peer.until(sv.MethodReceived)
        assert isinstance(qos, sv.MethodReceived)
        peer.core.send_method(qos.channel_id, commands.Basic.QosOk())  # after the block
        await peer.flush()
        await unblock.wait()
        peer.core.send_method(0, commands.Connection.Unblocked())
        await peer.flush()
        await peer.until(sv.ContentReceived)
        published.set()
        while True:  # answer the client's close
            await peer.receive_events()

    async with scripted_broker(block_then_unblock) as port:
        async with async_amqp.connect_amqp("127.0.0.1", port, blocked_timeout=0.2) as conn:
            chan = await conn.channel()
            await chan.basic_qos(prefetch_count=1)  # its reply follows connection.blocked
            assert conn.is_blocked
            assert conn.blocked_reason == "low on memory"
            with pytest.raises(async_amqp.ConnectionBlockedError):
                await chan.publish(b"held", "", "q")
            conn.blocked_timeout = None
            async with anyio.create_task_group() as tg:
                tg.start_soon(chan.publish, b"waits", "", "q")
                unblock.set()
            with anyio.fail_after(5):
                await published.wait()


async def test_hang_up_in_the_middle_of_a_get_ok_fails_the_get() -> None:
    async def half_a_message(peer: ScriptedPeer) -> None:
        await peer.handshake()
        await peer.until(sv.ChannelOpened)
        get = await peer.until(sv.MethodReceived)
        assert isinstance(get, sv.MethodReceived)
        # get-ok and a header announcing 10 bytes, then the body never comes
        peer.core.send_method(get.channel_id, commands.Basic.GetOk(1, False, "", "q", 0))
        await peer.flush()
        await peer.stream.send(
            struct.pack(">BHI", 2, get.channel_id, 14)
            + struct.pack(">HHQ", 60, 0, 10)
            + b"\x00\x00\xce"
        )
        await peer.stream.aclose()

    errors: list[BaseException] = []
    with anyio.fail_after(10):
        async with anyio.create_task_group() as outside:  # not cancelled with the connection
            async with scripted_broker(half_a_message) as port:
                with pytest.raises(async_amqp.ConnectionLostError):
                    async with async_amqp.connect_amqp("127.0.0.1", port) as conn:
                        chan = await conn.channel()

                        async def get() -> None:
                            try:
                                await chan.basic_get("q")
                            except async_amqp.AmqpError as error:
                                errors.append(error)

                        outside.start_soon(get)
                        await anyio.sleep_forever()
    assert [type(error) for error in errors] == [async_amqp.ConnectionLostError]


async def test_publishers_wait_when_the_broker_stops_reading() -> None:
    """Back-pressure: a broker that reads nothing makes publish wait, memory stays bounded."""

    async def stop_reading(peer: ScriptedPeer) -> None:
        await peer.handshake()
        await peer.until(sv.ChannelOpened)
        await anyio.sleep_forever()

    body = bytes(64 * 1024)
    published = 0
    async with scripted_broker(stop_reading) as port:
        async with async_amqp.connect_amqp("127.0.0.1", port) as conn:
            chan = await conn.channel()

            async def publish_forever() -> None:
                nonlocal published
                while True:
                    await chan.publish(body, "", "q")
                    published += 1

            async with anyio.create_task_group() as tg:
                tg.start_soon(publish_forever)
                with anyio.fail_after(30):
                    await anyio.wait_all_tasks_blocked()  # the publisher is parked
                assert conn._core.pending_bytes <= conn.high_water + len(body) + 64
                count = published
                await anyio.wait_all_tasks_blocked()
                assert published == count  # still parked, not spinning
                tg.cancel_scope.cancel()
            assert published < 1000  # at most the socket buffers and one high-water mark
            await conn.close(no_wait=True)


def _content_header(channel_id: int, body_size: int, properties: bytes) -> bytes:
    payload = struct.pack(">HHQ", 60, 0, body_size) + properties
    return struct.pack(">BHI", 2, channel_id, len(payload)) + payload + b"\xce"


def _body(channel_id: int, body: bytes) -> bytes:
    return struct.pack(">BHI", 3, channel_id, len(body)) + body + b"\xce"


#: Flags announcing content_type, whose short string then runs past the list.
MALFORMED_PROPERTIES = b"\x80\x00\x09text"
#: Microseconds since the epoch (2024-12-05), as pika users publish: year 56898 as seconds/1000.
MICROSECOND_TIMESTAMP = 1_733_377_000_123_456


async def test_an_unknown_frame_type_after_open_is_refused_at_once() -> None:
    """A type-7 frame declaring 2**31 bytes: refused by its header, its payload not awaited."""
    closes: list[commands.Connection.Close | None] = []

    async def unknown_frame(peer: ScriptedPeer) -> None:
        await peer.handshake()
        await peer.stream.send(struct.pack(">BHI", 7, 0, 2**31) + b"abc")
        closes.append(await peer.read_close())

    async with scripted_broker(unknown_frame, finish=True) as port:
        with anyio.fail_after(5), pytest.raises(async_amqp.MalformedFrameError) as caught:
            async with async_amqp.connect_amqp("127.0.0.1", port):
                await anyio.sleep_forever()
    assert caught.value.reply_code == 501
    assert "unknown frame type 7" in caught.value.reply_text
    assert isinstance(caught.value, async_amqp.ProtocolViolationError)
    assert [close.reply_code if close else None for close in closes] == [501]


async def test_a_delivery_with_a_malformed_property_list_is_a_frame_error() -> None:
    closes: list[commands.Connection.Close | None] = []

    async def bad_delivery(peer: ScriptedPeer) -> None:
        await peer.handshake()
        channel_id, tag = await peer.answer_consume()
        peer.core.send_method(channel_id, commands.Basic.Deliver(tag, 1, False, "", "q"))
        peer.core.send_raw(_content_header(channel_id, 2, MALFORMED_PROPERTIES))
        peer.core.send_raw(_body(channel_id, b"hi"))
        await peer.flush()
        closes.append(await peer.read_close())

    async with scripted_broker(bad_delivery, finish=True) as port:
        with anyio.fail_after(5), pytest.raises(async_amqp.MalformedFrameError) as caught:
            async with (
                async_amqp.connect_amqp("127.0.0.1", port) as conn,
                conn.new_channel() as chan,
                chan.new_consumer("q") as consumer,
            ):
                async for _message in consumer:
                    pytest.fail("the message cannot be decoded")
    assert "cannot decode content properties" in caught.value.reply_text
    assert (caught.value.class_id, caught.value.method_id) == (60, 60)
    assert [close.reply_code if close else None for close in closes] == [501]


async def test_a_get_ok_with_a_malformed_property_list_is_a_frame_error() -> None:
    async def bad_get_ok(peer: ScriptedPeer) -> None:
        await peer.handshake()
        get = await peer.until(sv.MethodReceived)
        assert isinstance(get, sv.MethodReceived)
        peer.core.send_method(get.channel_id, commands.Basic.GetOk(1, False, "", "q", 0))
        peer.core.send_raw(_content_header(get.channel_id, 0, MALFORMED_PROPERTIES))
        await peer.flush()
        await peer.read_close()

    async with scripted_broker(bad_get_ok) as port:
        with anyio.fail_after(5), pytest.raises(async_amqp.MalformedFrameError) as caught:
            async with async_amqp.connect_amqp("127.0.0.1", port) as conn:
                chan = await conn.channel()
                await chan.basic_get("q")
    assert (caught.value.class_id, caught.value.method_id) == (60, 71)


async def test_a_timestamp_beyond_year_9999_reaches_the_consumer_as_its_integer() -> None:
    properties = struct.pack(">HQ", 1 << 6, MICROSECOND_TIMESTAMP)

    async def deliver_microseconds(peer: ScriptedPeer) -> None:
        await peer.handshake()
        channel_id, tag = await peer.answer_consume()
        peer.core.send_method(channel_id, commands.Basic.Deliver(tag, 1, False, "", "q"))
        peer.core.send_raw(_content_header(channel_id, 2, properties) + _body(channel_id, b"hi"))
        await peer.flush()
        while True:  # the ack, the consumer's cancel, then the client's close
            for event in await peer.receive_events():
                if isinstance(event, sv.MethodReceived) and isinstance(
                    event.method, commands.Basic.Cancel
                ):
                    peer.core.send_method(channel_id, commands.Basic.CancelOk(tag))
                    await peer.flush()

    async with scripted_broker(deliver_microseconds) as port:
        with anyio.fail_after(5):
            async with (
                async_amqp.connect_amqp("127.0.0.1", port) as conn,
                conn.new_channel() as chan,
                chan.new_consumer("q") as consumer,
            ):
                async for body, envelope, received in consumer:
                    assert (body, received.timestamp) == (b"hi", MICROSECOND_TIMESTAMP)
                    await chan.basic_ack(envelope.delivery_tag)
                    break
                assert conn.is_open


@settings(
    max_examples=25 if EXAMPLES <= 150 else EXAMPLES // 50,  # a long fuzz run: more here too
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    properties=st.binary(min_size=2, max_size=40)
    | st.just(struct.pack(">HQ", 1 << 6, MICROSECOND_TIMESTAMP)),
    garbage=st.lists(
        st.binary(min_size=1, max_size=48)
        | st.sampled_from([b"\x01\x00\x01", b"\x02\x00\x01", b"\x03\x00\x01", b"\xce"])
        | st.sampled_from(SESSION),  # well-formed frames a broker sends, out of context
        max_size=4,
    ).map(b"".join),
)
async def test_any_bytes_to_a_consumer_end_in_the_clients_own_error(
    properties: bytes, garbage: bytes
) -> None:
    """End to end: a delivery with any property list, then any bytes, then a hang-up:
    only async_amqp's errors come out of the block."""

    async def deliver_then_garbage(peer: ScriptedPeer) -> None:
        await peer.handshake()
        channel_id, tag = await peer.answer_consume()
        peer.core.send_method(channel_id, commands.Basic.Deliver(tag, 1, False, "", "q"))
        peer.core.send_raw(_content_header(channel_id, 2, properties) + _body(channel_id, b"hi"))
        peer.core.send_raw(garbage)
        await peer.flush()
        await anyio.sleep(0.05)
        await peer.stream.aclose()

    async with scripted_broker(deliver_then_garbage) as port:
        with anyio.fail_after(5), pytest.raises(async_amqp.AmqpError):
            async with (
                async_amqp.connect_amqp("127.0.0.1", port) as conn,
                conn.new_channel() as chan,
                chan.new_consumer("q", no_ack=True) as consumer,
            ):
                async for _message in consumer:
                    pass
