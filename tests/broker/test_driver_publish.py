"""The driver's publish path: the core's fused fast path, batching, coalesced confirms.

A run of plain basic.publish commands is read by the core in one go each
(:class:`~async_amqp._core.server.PublishReceived`); whatever way the bytes are
cut, the broker must end up with the same messages and send the same frames as
when every frame is read on its own (the general path, which the resource
alarm forces).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pamqp import commands
from pamqp.base import Frame

from async_amqp._core import propview
from async_amqp._core import server as sv
from async_amqp._core.server_events import Received
from async_amqp._core.wire import FRAME_BODY, FrameReader, encode_content, encode_method
from async_amqp_testing._arena import ReceiveArena
from async_amqp_testing._model import Message
from async_amqp_testing._publishing import INPUT_SLICE
from tests.core.propcount import count_parses

from .driverkit import DriverRig
from .test_driver import opened

#: frame_max of the rig (TUNE_OK): bodies longer than this minus 8 take several frames.
FRAME_MAX = 131072


#: A heartbeat frame: between a publish's method and header it makes the command
#: not plain, so the core reads it frame by frame (the general path).
HEARTBEAT = b"\x08\x00\x00\x00\x00\x00\x00\xce"


def publish(
    routing_key: str,
    body: bytes,
    properties: bytes = b"\x00\x00",
    *,
    exchange: str = "",
    mandatory: bool = False,
    general: bool = False,
) -> bytes:
    """A whole basic.publish command on channel 1: method, header and body frames.

    :param general: put a heartbeat after the method frame (read by the general path)
    """
    method = commands.Basic.Publish(exchange=exchange, routing_key=routing_key, mandatory=mandatory)
    return (
        encode_method(1, method)
        + (HEARTBEAT if general else b"")
        + b"".join(bytes(piece) for piece in encode_content(1, properties, body, FRAME_MAX))
    )


def declared(rig: DriverRig, *queues: str) -> None:
    """Declare each queue on channel 1."""
    for queue in queues:
        rig.exchange(encode_method(1, commands.Queue.Declare(queue=queue)))


def held(rig: DriverRig, queue: str) -> list[Message]:
    """The messages a queue holds, in order."""
    vhost = rig.model.vhosts["/"]
    found = vhost.queues[queue]
    messages = []
    while (item := found.get(0.0, no_ack=True)) is not None:
        messages.append(item.message)
    return messages


def cut(stream: bytes, cuts: list[int]) -> list[bytes]:
    """*stream* cut at the given offsets."""
    points = sorted({point % (len(stream) + 1) for point in cuts})
    return [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]


PROPERTIES = [
    b"\x00\x00",
    commands.Basic.Properties(content_type="text/plain", delivery_mode=2).marshal(),
    commands.Basic.Properties(headers={"a": 1, "b": "x"}, correlation_id="c1").marshal(),
]


#: Up to 6 bodies, from empty to larger than frame_max, and a property list for each.
BODIES = st.lists(
    st.sampled_from([b"", b"x", b"y" * 100, b"z" * 5000, b"v" * 20_000, b"w" * 200_000]),
    min_size=1,
    max_size=6,
)
PROPERTY_LISTS = st.lists(st.sampled_from(PROPERTIES), min_size=6, max_size=6)


@settings(max_examples=60, deadline=None)
@given(
    bodies=BODIES,
    props=PROPERTY_LISTS,
    cuts=st.lists(st.integers(0, 1 << 20), max_size=8),
)
def test_publishes_arrive_whole_however_the_bytes_are_cut(
    bodies: list[bytes], props: list[bytes], cuts: list[int]
) -> None:
    assert_arrive_whole(bodies, props, lambda stream: cut(stream, cuts))


def assert_arrive_whole(
    bodies: list[bytes], props: list[bytes], reads: Callable[[bytes], Iterable[Received]]
) -> None:
    """Publishes of *bodies* (with *props*), their stream fed to the driver as *reads*
    hands it on, are queued whole and in order, and nothing is left unread."""
    rig = DriverRig()
    opened(rig)
    declared(rig, "q")
    stream = b"".join(
        publish("q", body, properties) for body, properties in zip(bodies, props, strict=False)
    )
    for chunk in reads(stream):
        rig.driver.receive_data(chunk, 0.0)
    assert not rig.driver.has_held_input
    expected = [
        Message("", "q", None, properties, body)
        for body, properties in zip(bodies, props, strict=False)
    ]
    assert held(rig, "q") == expected


def test_the_fast_path_gives_the_same_frames_as_the_general_path() -> None:
    """Confirms, a return and a 404 after good publishes: read fast, and frame by frame."""

    def run(general: bool) -> list[Frame]:
        rig = DriverRig()
        opened(rig)
        declared(rig, "q")
        rig.exchange(encode_method(1, commands.Confirm.Select()))
        stream = (
            publish("q", b"1", general=general)
            + publish("nowhere", b"2", mandatory=True, general=general)
            + publish("q", b"3", PROPERTIES[2], general=general)
            + publish("q", b"4", exchange="missing", general=general)
            + publish("q", b"5", general=general)
        )
        return rig.exchange(stream)

    def described(frames: list[Frame]) -> list[tuple[str, object]]:
        return [
            (type(frame).__name__, getattr(frame, "reply_code", None))
            for frame in frames
            if not isinstance(frame, commands.Basic.Ack)
        ]

    def confirmed(frames: list[Frame]) -> set[int]:
        # Confirms may be coalesced (multiple): compare the confirmed tags.
        tags: set[int] = set()
        for frame in frames:
            if isinstance(frame, commands.Basic.Ack):
                first = max(tags, default=0) + 1 if frame.multiple else frame.delivery_tag
                tags.update(range(first, frame.delivery_tag + 1))
        return tags

    fast, general = run(general=False), run(general=True)
    assert described(fast) == described(general) == [("Return", 312), ("Close", 404)]
    assert confirmed(fast) == confirmed(general) == {1, 2, 3}


def test_confirms_of_publishes_read_together_are_coalesced() -> None:
    rig = DriverRig()
    opened(rig)
    declared(rig, "q")
    rig.exchange(encode_method(1, commands.Confirm.Select()))

    def acks(sent: list[Frame]) -> list[tuple[int, bool]]:
        assert all(isinstance(method, commands.Basic.Ack) for method in sent)
        return [(method.delivery_tag, method.multiple) for method in sent]  # type: ignore[attr-defined]

    assert acks(rig.exchange(b"".join(publish("q", b"m") for _ in range(3)))) == [(3, True)]
    assert acks(rig.exchange(publish("q", b"m"))) == [(4, False)]
    # A return goes before its publish's ack, so that ack is not merged into the one
    # before it; the next one is merged into it.
    stream = publish("q", b"m") + publish("nowhere", b"m", mandatory=True) + publish("q", b"m")
    sent = rig.exchange(stream)
    assert [type(method).__name__ for method in sent] == ["Ack", "Return", "Ack"]
    assert acks([sent[0], sent[2]]) == [(5, False), (7, True)]


def test_a_publish_cut_at_the_end_of_a_read_waits_for_its_rest() -> None:
    rig = DriverRig()
    opened(rig)
    declared(rig, "q")
    stream = publish("q", b"a" * 300) + publish("q", b"b" * 300)
    rig.driver.receive_data(stream[:-10], 0.0)
    assert [m.body for m in held(rig, "q")] == [b"a" * 300]
    assert not rig.driver.has_held_input  # waiting for bytes, not held back
    rig.driver.receive_data(stream[-10:], 0.0)
    assert [m.body for m in held(rig, "q")] == [b"b" * 300]


def test_the_core_reads_a_plain_publish_as_one_event() -> None:
    rig = DriverRig()
    opened(rig)
    core = rig.driver.core
    properties = PROPERTIES[1]
    core.receive_data(publish("q", b"body", properties, exchange="ex"), 0.0)
    event = core.next_event()
    assert isinstance(event, sv.PublishReceived)
    assert (event.channel_id, event.exchange, event.routing_key) == (1, "ex", "q")
    assert (event.mandatory, event.immediate) == (False, False)
    assert (event.raw_properties, event.body) == (properties, b"body")
    assert core.next_event() is sv.NEED_DATA


def test_a_large_body_is_kept_as_a_view_of_the_received_bytes() -> None:
    """No copy of a large one-frame body: the queue keeps a read-only view of the read
    it came in (the fast path); small bodies are copied. A large body cut by the
    end of a read is whole too. Deliveries and inspection give the same bytes."""
    rig = DriverRig()
    opened(rig)
    declared(rig, "q")
    large, small = bytes(range(256)) * 80, b"s" * 100
    received = publish("q", large) + publish("q", small)
    rig.driver.receive_data(received, 0.0)
    cut_short = publish("q", large)
    rig.driver.receive_data(cut_short[:9000], 0.0)
    rig.driver.receive_data(cut_short[9000:], 0.0)
    kept = [item.message.body for item in rig.model.vhosts["/"].queues["q"].ready()]
    assert [bytes(body) for body in kept] == [large, small, large]
    assert isinstance(kept[0], memoryview)
    assert kept[0].obj is received
    assert kept[0].readonly
    assert type(kept[1]) is bytes
    info = rig.model.snapshot("/").queues["q"]
    assert [type(message.body) for message in info.messages] == [bytes] * 3
    assert [message.body for message in info.messages] == [large, small, large]
    rig.driver.receive_data(encode_method(1, commands.Basic.Consume(queue="q", no_ack=True)), 0.0)
    rig.driver.drain_outbox()
    frames = FrameReader().feed(rig.driver.core.data_to_send(0.0))
    bodies = [payload for kind, _, payload in frames if kind == FRAME_BODY]
    assert b"".join(bodies) == large + small + large


def test_a_publish_with_bytes_after_its_arguments_takes_the_general_path() -> None:
    rig = DriverRig()
    opened(rig)
    method = commands.Basic.Publish(exchange="", routing_key="q")
    frame = bytearray(encode_method(1, method))
    payload_size = struct.unpack_from(">I", frame, 3)[0]
    frame[3:7] = struct.pack(">I", payload_size + 1)
    frame[-1:] = b"\x00\xce"  # one octet more after the bits
    sent = rig.exchange(bytes(frame))
    assert isinstance(sent[-1], commands.Connection.Close)
    assert sent[-1].reply_code == 501


def test_deliveries_of_publishes_go_before_a_close_ok_read_with_them() -> None:
    """The core answers channel.close itself: what the publishes before it delivered
    (to a no-ack consumer on that channel) is sent first, as when read frame by frame."""

    def run(general: bool) -> list[str]:
        rig = DriverRig()
        opened(rig)
        declared(rig, "q")
        rig.exchange(
            encode_method(1, commands.Basic.Consume(queue="q", consumer_tag="c", no_ack=True))
        )
        stream = (
            publish("q", b"1", general=general)
            + publish("q", b"2", general=general)
            + encode_method(1, commands.Channel.Close(200, "bye", 0, 0))
        )
        return [type(method).__name__ for method in rig.exchange(stream)]

    assert run(general=False) == run(general=True) == ["Deliver", "Deliver", "CloseOk"]


def test_deliveries_freed_by_acks_go_before_the_next_reply() -> None:
    rig = DriverRig()
    opened(rig)
    declared(rig, "q")
    rig.exchange(encode_method(1, commands.Basic.Qos(prefetch_count=1)))
    rig.exchange(b"".join(publish("q", bytes([n])) for n in range(3)))
    sent = rig.exchange(encode_method(1, commands.Basic.Consume(queue="q", consumer_tag="c")))
    assert [type(method).__name__ for method in sent] == ["ConsumeOk", "Deliver"]
    stream = (
        encode_method(1, commands.Basic.Ack(delivery_tag=1))
        + encode_method(2, commands.Channel.Open())
        + encode_method(1, commands.Basic.Ack(delivery_tag=2))
    )
    sent = rig.exchange(stream)
    assert [type(method).__name__ for method in sent] == ["Deliver", "OpenOk", "Deliver"]


@pytest.mark.parametrize("general", [False, True], ids=["fast", "general"])
def test_a_property_list_is_parsed_once_per_message(
    monkeypatch: pytest.MonkeyPatch, general: bool
) -> None:
    """The core's check splits a published property list once; the model's rules (user_id,
    expiration, delivery_mode, CC, reply_to, a headers exchange, a queue's TTL and
    priority) read that same parse. A list accepted before is not checked again: the
    view shared from its second message on is parsed once for all later ones."""
    rig = DriverRig()
    opened(rig)
    rig.exchange(
        encode_method(
            1,
            commands.Queue.Declare(
                queue="q", arguments={"x-max-priority": 5, "x-message-ttl": 60000}
            ),
        )
        + encode_method(1, commands.Exchange.Declare(exchange="hx", exchange_type="headers"))
        + encode_method(
            1,
            commands.Queue.Bind(
                queue="q", exchange="hx", arguments={"x-match": "any", "kind": "order"}
            ),
        )
    )
    monkeypatch.setattr(propview, "_shared", {})  # no list checked before
    monkeypatch.setattr(propview, "_seen", set())
    parses = count_parses(monkeypatch)
    lists = [
        commands.Basic.Properties(
            message_id=f"id-{number}",
            headers={"kind": "order", "CC": ["q"]},
            priority=3,
            delivery_mode=2,
            expiration="1000",
            user_id="guest",
            reply_to="somewhere",
        ).marshal()
        for number in range(5)
    ]
    stream = b"".join(publish("", b"m", raw, exchange="hx", general=general) for raw in lists)
    rig.driver.receive_data(stream, 0.0)
    assert sorted(parses) == sorted(lists)  # one check each, nothing more
    rig.driver.receive_data(stream, 0.0)  # the same lists again: shared views
    assert sorted(parses) == sorted(lists + lists)
    rig.driver.receive_data(stream, 0.0)  # and again: the shared views are parsed
    assert sorted(parses) == sorted(lists + lists)
    held_messages = held(rig, "q")
    assert [message.raw_properties for message in held_messages] == lists * 3


# -- a long read is settled and offered in slices (like RabbitMQ, which confirms as it goes)


class SliceRecordingRig(DriverRig):
    """A rig whose transport, at each ``output_ready``, records the frames then encoded
    and how many messages queue "q" held (how far the read was processed)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.slices: list[tuple[list[Frame], int]] = []

        def output_ready() -> None:
            depth = self.model.vhosts["/"].queues["q"].message_count
            self.slices.append((self.output(), depth))

        self.transport.output_ready = output_ready  # type: ignore[method-assign]


def summary(frames: list[Frame]) -> list[tuple[str, int, bool]]:
    """(name, delivery tag, multiple) of confirms, (name, 0, False) of other methods."""
    return [
        (
            type(frame).__name__,
            getattr(frame, "delivery_tag", 0) or 0,
            bool(getattr(frame, "multiple", False)),
        )
        for frame in frames
    ]


def test_a_long_read_of_publishes_is_confirmed_slice_by_slice() -> None:
    rig = SliceRecordingRig()
    opened(rig)
    declared(rig, "q")
    rig.exchange(encode_method(1, commands.Confirm.Select()))
    count = 3 * INPUT_SLICE + 5
    rest = rig.exchange(b"".join(publish("q", b"m") for _ in range(count)))
    # Each slice's confirm was offered while the rest of the read was still unread.
    assert [(summary(frames), depth) for frames, depth in rig.slices] == [
        ([("Ack", n * INPUT_SLICE, True)], n * INPUT_SLICE) for n in (1, 2, 3)
    ]
    assert summary(rest) == [("Ack", count, True)]


def test_a_return_at_a_slice_boundary_goes_before_its_ack() -> None:
    rig = SliceRecordingRig()
    opened(rig)
    declared(rig, "q")
    rig.exchange(encode_method(1, commands.Confirm.Select()))
    stream = [publish("q", b"m") for _ in range(2 * INPUT_SLICE)]
    stream[INPUT_SLICE - 1] = publish("nowhere", b"m", mandatory=True)  # the slice's last
    stream[INPUT_SLICE] = publish("nowhere", b"m", mandatory=True)  # the next slice's first
    rest = rig.exchange(b"".join(stream))
    (first, _), (second, _) = rig.slices
    assert summary(first) == [
        ("Ack", INPUT_SLICE - 1, True),
        ("Return", 0, False),
        ("Ack", INPUT_SLICE, False),
    ]
    # The next slice's return goes first; its ack and the rest are coalesced.
    assert summary(second) == [("Return", 0, False), ("Ack", 2 * INPUT_SLICE, True)]
    assert rest == []


def test_deliveries_of_a_long_read_are_offered_slice_by_slice() -> None:
    rig = SliceRecordingRig()
    opened(rig)
    declared(rig, "q")
    consume = commands.Basic.Consume(queue="q", consumer_tag="c", no_ack=True)
    rig.exchange(encode_method(1, consume))
    rest = rig.exchange(b"".join(publish("q", bytes([n % 256])) for n in range(INPUT_SLICE + 1)))
    ((frames, depth),) = rig.slices
    assert [type(frame) for frame in frames] == [commands.Basic.Deliver] * INPUT_SLICE
    assert depth == 0  # delivered, the last publish not read yet
    assert [type(frame) for frame in rest] == [commands.Basic.Deliver]


def arena_reads(
    arena: ReceiveArena, stream: bytes, sizes: list[int]
) -> list[tuple[memoryview, int]]:
    """*stream* read into *arena* as asyncio does (each read at most the room given,
    its size taken in turn from *sizes*): what each read hands on."""
    arena.views = True  # the reads of large publishes: in place
    reads = []
    turn = 0
    while stream:
        room = arena.free()
        size = min(len(room), len(stream), max(1, sizes[turn % len(sizes)]) if sizes else len(room))
        room[:size] = stream[:size]
        data, start = arena.filled(size)
        assert isinstance(data, memoryview)
        reads.append((data, start))
        stream = stream[size:]
        turn += 1
    return reads


@settings(max_examples=60, deadline=None)
@given(
    bodies=BODIES,
    props=PROPERTY_LISTS,
    min_size=st.sampled_from([1, 64, 4096, 70_000]),
    max_size=st.sampled_from([64, 4096, 70_000, 1 << 20]),
    sizes=st.lists(st.integers(1, 300_000), max_size=6),
)
def test_publishes_read_in_place_from_a_receive_arena_arrive_whole(
    bodies: list[bytes], props: list[bytes], min_size: int, max_size: int, sizes: list[int]
) -> None:
    """The asyncio path: each read hands on its arena's bytes so far; commands cut by a
    read's end (or an arena's) are read whole, as from bytes."""

    def reads(stream: bytes) -> list[Received]:
        return [data for data, _ in arena_reads(ReceiveArena(min_size, max_size), stream, sizes)]

    assert_arrive_whole(bodies, props, reads)


def test_a_large_body_cut_by_a_read_is_kept_in_place_in_its_arena() -> None:
    rig = DriverRig()
    opened(rig)
    declared(rig, "q")
    body = bytes(range(256)) * 256  # 64 KiB
    stream = publish("q", b"small") + publish("q", body) + publish("q", body)
    arena = ReceiveArena(min_size=1 << 20)
    # Cut inside the second publish's body, then inside the third's.
    reads = arena_reads(arena, stream, [len(stream) // 3, len(stream) // 2, len(stream)])
    assert len(reads) == 3
    for data, _start in reads:
        assert data.readonly
        rig.driver.receive_data(data, 0.0)
    first, second, third = held(rig, "q")
    assert first.body == b"small"
    assert type(first.body) is bytes
    for message in (second, third):
        assert isinstance(message.body, memoryview)
        assert message.body.readonly
        assert message.body.obj is reads[0][0].obj  # the arena itself: not joined, not copied
        assert message.body == body
    assert [start for _, start in reads] == [
        0,
        len(stream) // 3,
        len(stream) // 3 + len(stream) // 2,
    ]


def test_a_command_cut_by_an_arena_end_is_joined_and_the_next_arena_read_on() -> None:
    rig = DriverRig()
    opened(rig)
    declared(rig, "q")
    stream = b"".join(publish("q", bytes([n]) * 30_000) for n in range(5))
    arena = ReceiveArena(min_size=50_000, max_size=50_000)
    reads = arena_reads(arena, stream, [20_000])
    assert len({id(data.obj) for data, _ in reads}) > 1  # several arenas
    for data, _ in reads:
        rig.driver.receive_data(data, 0.0)
        assert not rig.driver.has_held_input
    assert [bytes(m.body) for m in held(rig, "q")] == [bytes([n]) * 30_000 for n in range(5)]
