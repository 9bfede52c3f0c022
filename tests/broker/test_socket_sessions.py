"""The fake broker's byte level: asyncio protocol sessions, stream sessions, output slices.

On asyncio, plain TCP connections are served by a
:class:`~async_amqp_testing._transport_session.TransportSession` fed from an
asyncio protocol's callbacks: what arrives is processed and answered in the
same callback, and reading pauses while the client does not read. TLS
connections and trio keep the anyio stream session. Both write a long output
(a burst of deliveries) in slices while the rest is encoded.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import pytest
from pamqp import commands

from async_amqp._core.decode import decode_method
from async_amqp._core.frames import FrameReader
from async_amqp._core.wire import FRAME_METHOD, PROTOCOL_HEADER, encode_content, encode_method
from async_amqp_testing import FakeBroker
from async_amqp_testing._arena import MAX_ARENA, QUIET_READS, ReceiveArena
from async_amqp_testing._model import BrokerModel
from async_amqp_testing._publishing import INPUT_SLICE, OUTPUT_SLICE
from async_amqp_testing._runtime import BrokerRuntime
from async_amqp_testing._socketloop import SocketSession, StreamSession
from async_amqp_testing._transport_session import BrokerProtocol, TransportSession
from async_amqp_testing.raw import RawConnection, encode_frame

from .driverkit import DriverRig, settings
from .test_driver import opened

# -- both kinds, through FakeBroker -------------------------------------------------------


async def test_the_session_kind_follows_the_backend(
    fake_broker: FakeBroker, anyio_backend: str
) -> None:
    async with fake_broker.connect() as conn:
        await conn.channel()
        sessions: set[SocketSession] = fake_broker._runtime.sessions
        (session,) = sessions
        expected = TransportSession if anyio_backend == "asyncio" else StreamSession
        assert type(session) is expected


async def test_a_burst_longer_than_a_slice_arrives_whole_and_in_order(
    fake_broker: FakeBroker,
) -> None:
    count = 3 * OUTPUT_SLICE + 7
    async with fake_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare("burst")
        for number in range(count):
            await chan.publish(str(number).encode(), "", "burst")
        async with chan.new_consumer(queue_name="burst", no_ack=True) as messages:
            received = []
            with anyio.fail_after(10):
                async for body, _envelope, _properties in messages:
                    received.append(int(body))
                    if len(received) == count:
                        break
    assert received == list(range(count))


def confirm_publishes(count: int, routing_key: str) -> bytes:
    """*count* plain 100-byte publishes on channel 1, in one piece."""
    method = encode_method(1, commands.Basic.Publish(exchange="", routing_key=routing_key))
    content = b"".join(bytes(piece) for piece in encode_content(1, b"\x00\x00", b"x" * 100, 131072))
    return (method + content) * count


async def test_a_long_read_of_publishes_is_confirmed_before_all_of_it_is_processed(
    fake_broker: FakeBroker,
) -> None:
    """Like RabbitMQ, the broker confirms as it goes: a publisher's window keeps moving
    while a long backlog is read (both session kinds, over a real socket)."""
    count = 8 * INPUT_SLICE
    async with await RawConnection.connect(fake_broker.host, fake_broker.port) as raw:
        await raw.handshake()
        await raw.open_channel(1)
        await raw.call(1, commands.Queue.Declare(queue="window"), commands.Queue.DeclareOk)
        await raw.call(1, commands.Confirm.Select(), commands.Confirm.SelectOk)
        (session,) = fake_broker._runtime.sessions
        queue = fake_broker._runtime.model.vhosts["/"].queues["window"]
        writes: list[tuple[list[type], int]] = []  # methods written, messages queued then
        output = session._output

        def recording_output(now: float) -> bytes:
            data = output(now)
            writes.append((methods(data), queue.message_count))
            return data

        session._output = recording_output  # type: ignore[method-assign]
        await raw.send(confirm_publishes(count, "window"))
        confirmed = 0
        while confirmed < count:
            ack = await raw.expect(commands.Basic.Ack, 1)
            assert ack.multiple or ack.delivery_tag == confirmed + 1
            confirmed = ack.delivery_tag
    first_ack_depth = next(depth for sent, depth in writes if commands.Basic.Ack in sent)
    assert first_ack_depth < count


# -- the driver's slice hook --------------------------------------------------------------


class SliceCountingRig(DriverRig):
    """A rig whose transport counts the driver's ``output_ready`` calls."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.slices = 0

        def output_ready() -> None:
            self.slices += 1

        self.transport.output_ready = output_ready  # type: ignore[method-assign]


def test_the_driver_offers_a_long_output_in_slices() -> None:
    rig = SliceCountingRig()
    opened(rig)
    rig.exchange(encode_method(1, commands.Queue.Declare(queue="sliced")))
    publish = encode_method(1, commands.Basic.Publish(exchange="", routing_key="sliced"))
    content = b"".join(bytes(piece) for piece in encode_content(1, b"\x00\x00", b"x", 131072))
    rig.exchange((publish + content) * (2 * OUTPUT_SLICE + 1))
    assert rig.slices == 0  # a slice is only offered while encoding a long output
    consume = commands.Basic.Consume(queue="sliced", no_ack=True)
    sent = rig.exchange(encode_method(1, consume))
    assert rig.slices == 2
    assert [type(method) for method in sent] == [commands.Basic.ConsumeOk] + [
        commands.Basic.Deliver
    ] * (2 * OUTPUT_SLICE + 1)


# -- TransportSession on its own (asyncio only) ---------------------------------------------


class FakeTransport(asyncio.Transport):
    """An asyncio transport that records writes and reading state."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.reading = True
        self.closing = False
        self.buffered = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written.append(bytes(data))

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def abort(self) -> None:
        self.closing = True

    def close(self) -> None:
        self.closing = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def take(self) -> bytes:
        data = b"".join(self.written)
        self.written.clear()
        return data


class Harness:
    """A TransportSession over a FakeTransport, run in a task (a FakeBroker's parts)."""

    def __init__(self) -> None:
        self.transport = FakeTransport()
        # Arenas of 1 MiB from the start: each receive() below is one read.
        self.protocol = BrokerProtocol(lambda protocol: None, ReceiveArena(min_size=MAX_ARENA))
        self.protocol.connection_made(self.transport)
        self.runtime = BrokerRuntime(BrokerModel(users={"guest": "guest"}))
        self.session: TransportSession | None = None
        self.ended = anyio.Event()

    async def run(self) -> None:
        self.runtime.start()
        self.session = TransportSession(
            settings(silent_close_delay=0.05),
            self.runtime.model,
            self.runtime,
            self.protocol,
            1,
            "peer",
        )
        self.runtime.sessions.add(self.session)
        try:
            await self.session.run()
        finally:
            self.ended.set()


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    rig = Harness()
    async with anyio.create_task_group() as task_group:
        task_group.start_soon(rig.run)
        await wait_until(lambda: rig.session is not None)
        yield rig
        task_group.cancel_scope.cancel()


async def wait_until(predicate: Callable[[], bool]) -> None:
    """Poll *predicate* (state the session under test changes) until it holds, at most 5 s."""
    with anyio.fail_after(5):
        while not predicate():  # noqa: ASYNC110 - the state belongs to the session under test
            await anyio.sleep(0.001)


def receive(protocol: BrokerProtocol, data: bytes) -> None:
    """Deliver *data* to *protocol* as asyncio's transport does: read into the buffer
    it gives (``get_buffer``), then ``buffer_updated``, as often as it takes."""
    while data:
        room = protocol.get_buffer(-1)
        size = min(len(room), len(data))
        room[:size] = data[:size]
        protocol.buffer_updated(size)
        data = data[size:]


def methods(data: bytes) -> list[type]:
    """The classes of the method frames in *data*."""
    return [
        type(decode_method(payload))
        for frame_type, _, payload in FrameReader().feed(data)
        if frame_type == FRAME_METHOD
    ]


def start_ok() -> bytes:
    return encode_method(
        0,
        commands.Connection.StartOk(
            client_properties={"capabilities": {}},
            mechanism="PLAIN",
            response="\0guest\0guest",
            locale="en_US",
        ),
    )


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_data_that_arrived_before_the_session_ran_is_answered_when_it_starts() -> None:
    rig = Harness()
    receive(rig.protocol, PROTOCOL_HEADER)  # before the session exists
    assert rig.transport.written == []
    async with anyio.create_task_group() as task_group:
        task_group.start_soon(rig.run)
        await wait_until(lambda: bool(rig.transport.written))
        assert methods(rig.transport.take()) == [commands.Connection.Start]
        task_group.cancel_scope.cancel()


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_replies_are_written_in_the_callback_that_received_the_request(
    harness: Harness,
) -> None:
    receive(harness.protocol, PROTOCOL_HEADER)
    assert methods(harness.transport.take()) == [commands.Connection.Start]
    receive(harness.protocol, start_ok())
    assert methods(harness.transport.take()) == [commands.Connection.Tune]
    tune_ok = commands.Connection.TuneOk(channel_max=16, frame_max=131072, heartbeat=0)
    open_ = commands.Connection.Open(virtual_host="/")
    receive(harness.protocol, encode_method(0, tune_ok) + encode_method(0, open_))
    assert len(harness.transport.written) == 1  # one write per received chunk
    assert methods(harness.transport.take()) == [commands.Connection.OpenOk]


def open_channel_one(harness: Harness) -> None:
    """Run the handshake and open channel 1 through the protocol's callbacks."""
    receive(harness.protocol, PROTOCOL_HEADER + start_ok())
    tune_ok = commands.Connection.TuneOk(channel_max=16, frame_max=131072, heartbeat=0)
    receive(
        harness.protocol,
        encode_method(0, tune_ok)
        + encode_method(0, commands.Connection.Open(virtual_host="/"))
        + encode_method(1, commands.Channel.Open()),
    )
    harness.transport.take()


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_long_read_is_answered_in_several_writes_from_its_callback(
    harness: Harness,
) -> None:
    open_channel_one(harness)
    receive(
        harness.protocol,
        encode_method(1, commands.Queue.Declare(queue="q"))
        + encode_method(1, commands.Confirm.Select()),
    )
    harness.transport.take()
    receive(harness.protocol, confirm_publishes(3 * INPUT_SLICE + 5, "q"))
    writes = [methods(data) for data in harness.transport.written]
    assert writes == [[commands.Basic.Ack]] * 4  # a confirm per slice, then the rest
    frames = FrameReader().feed(harness.transport.take())
    acks = [decode_method(payload) for _, _, payload in frames]
    assert [(ack.delivery_tag, ack.multiple) for ack in acks] == [  # type: ignore[attr-defined]
        (INPUT_SLICE, True),
        (2 * INPUT_SLICE, True),
        (3 * INPUT_SLICE, True),
        (3 * INPUT_SLICE + 5, True),
    ]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_reading_pauses_while_the_write_buffer_is_full(harness: Harness) -> None:
    receive(harness.protocol, PROTOCOL_HEADER)
    harness.protocol.pause_writing()
    assert not harness.transport.reading
    harness.protocol.resume_writing()
    assert harness.transport.reading


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_publish_during_an_alarm_pauses_reading_until_unblocked(
    harness: Harness,
) -> None:
    open_channel_one(harness)
    harness.runtime.blocked_reason = "low on memory"
    publish = encode_method(1, commands.Basic.Publish(exchange="", routing_key="nowhere"))
    header = encode_frame(2, 1, struct.pack(">HHQH", 60, 0, 0, 0))
    declare = encode_method(1, commands.Queue.Declare(queue="after-block"))
    receive(harness.protocol, publish + header + declare)
    assert not harness.transport.reading
    assert methods(harness.transport.take()) == []  # the declare is held
    harness.runtime.blocked_reason = None
    assert harness.session is not None
    harness.session.unblock()
    await wait_until(lambda: harness.transport.reading)
    assert methods(harness.transport.take()) == [commands.Queue.DeclareOk]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_clients_eof_ends_the_session(harness: Harness) -> None:
    receive(harness.protocol, PROTOCOL_HEADER)
    harness.protocol.eof_received()
    with anyio.fail_after(5):
        await harness.ended.wait()
    assert harness.transport.closing
    assert harness.runtime.sessions == set()


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_an_internal_error_stays_in_its_session(
    harness: Harness, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert harness.session is not None

    def broken(*args: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(harness.session.driver, "receive_data", broken)
    with caplog.at_level(logging.ERROR, logger="async_amqp_testing"):
        receive(harness.protocol, PROTOCOL_HEADER)  # does not raise
        with anyio.fail_after(5):
            await harness.ended.wait()
    assert "internal error in the fake broker" in caplog.text
    assert harness.transport.closing


def large_publish(body: bytes) -> bytes:
    method = encode_method(1, commands.Basic.Publish(exchange="", routing_key="q"))
    return method + b"".join(bytes(piece) for piece in encode_content(1, b"\x00\x00", body, 131072))


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_large_publishes_switch_reading_in_place_and_small_ones_back(
    harness: Harness,
) -> None:
    """Reads are copied (small commands read faster from bytes) until a large publish
    arrives; then the arena is read in place, and large bodies are views of it."""
    open_channel_one(harness)
    receive(harness.protocol, encode_method(1, commands.Queue.Declare(queue="q")))
    large = [bytes([n]) * 65536 for n in range(3)]
    for body in large:
        receive(harness.protocol, large_publish(body))
    for _ in range(QUIET_READS):
        receive(harness.protocol, confirm_publishes(1, "q"))
    receive(harness.protocol, large_publish(large[0]))
    queue = harness.runtime.model.vhosts["/"].queues["q"]
    bodies = []
    while (item := queue.get(0.0, no_ack=True)) is not None:
        bodies.append(item.message.body)
    assert [bytes(body) for body in bodies] == [*large, *[b"x" * 100] * QUIET_READS, large[0]]
    owners = [type(body.obj) if isinstance(body, memoryview) else None for body in bodies]
    # The first large body: a view of its copied read; the next ones: of the arena, read
    # in place; after the small ones, reads are copied again.
    assert owners == [bytes, bytearray, bytearray, *[None] * QUIET_READS, bytes]
