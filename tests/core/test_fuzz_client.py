"""Fuzzing the client core: whatever bytes a peer sends, only protocol errors come out.

:class:`~async_amqp._core.client.ClientConnection` is fed a broker's byte stream
(the handshake, then a session with deliveries, get-ok, returns, confirms,
cancels, flow, blocking and closes) after hypothesis has mutated it (bytes
flipped, inserted, deleted, duplicated, the stream cut short) and split it at
random points; and streams of frames built at random (known and unknown types,
method indexes with random arguments, content headers with random property
lists). The only exception allowed out of ``receive`` is the core's
:class:`~async_amqp._core.errors.ProtocolError` (its subclasses include the
frame errors and the non-AMQP peer); the I/O layer turns it into the public
:class:`async_amqp.ProtocolViolationError` family.

The suite runs a few hundred examples (a few seconds). A longer run by hand::

    AMQP_FUZZ_EXAMPLES=200000 python -m pytest tests/core/test_fuzz_client.py -q \\
        -p no:cacheprovider

(``AMQP_FUZZ_EXAMPLES`` is the number of examples per test, and lifts the suite's
per-test time limit; add ``--hypothesis-seed=N`` to repeat a run,
``--hypothesis-show-statistics`` for timings.) The same variable gives the
end-to-end counterpart through a real connection and a scripted peer,
``test_any_bytes_to_a_consumer_end_in_the_clients_own_error`` in
``tests/client/test_robustness.py``, one example per 50 (run it with
``--timeout=0``).
"""

from __future__ import annotations

import datetime
import itertools
import os
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pamqp import commands
from pamqp.base import Frame

from async_amqp._core.client import ChannelState, ClientConnection, ConnectionState
from async_amqp._core.errors import ProtocolError
from async_amqp._core.properties import encode_values
from async_amqp._core.wire import encode_content, encode_method

EXAMPLES = int(os.environ.get("AMQP_FUZZ_EXAMPLES", "150"))
#: The suite's per-test time limit would end a long run: it applies to the short one only.
pytestmark = pytest.mark.timeout(120 if EXAMPLES <= 150 else 0)
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

_frame = struct.Struct(">BHI")
_HEARTBEAT = _frame.pack(8, 0, 0) + b"\xce"

PROPERTIES = encode_values(
    (
        "application/json",
        "gzip",
        {"n": 1, "s": "text", "nested": {"list": [1, "a", None, True]}, "f": 1.5},
        2,
        7,
        "corr",
        "reply",
        "60000",
        "mid",
        datetime.datetime(2024, 5, 1, tzinfo=datetime.UTC),
        "type",
        "guest",
        "app",
        "cluster",
    )
)


def _method(channel_id: int, method: Frame) -> bytes:
    return encode_method(channel_id, method)


def _content(channel_id: int, method: Frame, body: bytes) -> bytes:
    pieces = encode_content(channel_id, PROPERTIES, body, 4096)
    return _method(channel_id, method) + b"".join(bytes(piece) for piece in pieces)


HANDSHAKE = [
    _method(
        0,
        commands.Connection.Start(
            server_properties={
                "product": "RabbitMQ",
                "capabilities": {"publisher_confirms": True, "basic.nack": True},
            },
            mechanisms="AMQPLAIN PLAIN",
            locales="en_US",
        ),
    ),
    _method(0, commands.Connection.Tune(channel_max=2047, frame_max=4096, heartbeat=60)),
    _method(0, commands.Connection.OpenOk()),
]

CHANNEL_OPEN_OK = _method(1, commands.Channel.OpenOk())
SESSION = [
    _method(1, commands.Confirm.SelectOk()),
    _method(1, commands.Basic.ConsumeOk("c")),
    _content(1, commands.Basic.Deliver("c", 1, False, "ex", "rk"), b"x" * 5000),
    _content(1, commands.Basic.GetOk(2, False, "ex", "rk", 0), b"got"),
    _content(1, commands.Basic.Return(312, "NO_ROUTE", "ex", "rk"), b"body"),
    _method(1, commands.Basic.Ack(1, False)),
    _method(1, commands.Basic.Nack(2, False, True)),
    _method(1, commands.Basic.Cancel("c")),
    _method(1, commands.Channel.Flow(active=False)),
    _method(0, commands.Connection.Blocked("low on memory")),
    _method(0, commands.Connection.Unblocked()),
    _HEARTBEAT,
    _method(1, commands.Channel.Close(406, "PRECONDITION_FAILED - x", 60, 40)),
    _method(0, commands.Connection.Close(320, "CONNECTION_FORCED - bye", 0, 0)),
]


def _make_requests(client: ClientConnection) -> bool:
    """What the client asked for, so that the session's replies have requests to match.

    Returns False when channel 1 did not open (the handshake left bytes behind).
    """
    channel_id, _ = client.open_channel()
    client.receive(CHANNEL_OPEN_OK, 0.0)
    if client.channel_state(channel_id) is not ChannelState.OPEN:
        return False
    client.publish(channel_id, "ex", "rk", True, False, PROPERTIES, b"x" * 10_000)
    client.call(channel_id, commands.Confirm.Select())
    client.call(channel_id, commands.Basic.Consume(queue="q", consumer_tag="c"))
    client.call(channel_id, commands.Basic.Get(queue="q"))
    return True


def _feed(client: ClientConnection, chunks: list[bytes], now: float) -> float:
    """Feed *chunks*, draining output as the I/O layer would; return the clock."""
    for chunk in chunks:
        now += 0.5
        client.receive(chunk, now)
        client.poll_heartbeat(now)
        client.data_to_send(now)
    return now


def _run(handshake: list[bytes], session: list[bytes]) -> None:
    """Feed both phases; only the core's ProtocolError may come out."""
    client = ClientConnection(login="guest", password="guest")
    client.initiate()
    client.data_to_send(0.0)
    try:
        now = _feed(client, handshake, 0.0)
        if client.state is not ConnectionState.OPEN or not _make_requests(client):
            return
        client.data_to_send(now)
        _feed(client, session, now)
    except ProtocolError:
        return


@st.composite
def mutated(draw: st.DrawFn, frames: list[bytes]) -> list[bytes]:
    """*frames* joined, mutated a few times, and cut into pieces."""
    stream = bytearray(b"".join(frames))
    for _ in range(draw(st.integers(0, 4))):
        if not stream:
            break
        position = draw(st.integers(0, len(stream) - 1))
        kind = draw(st.sampled_from(["flip", "insert", "delete", "duplicate", "truncate"]))
        if kind == "flip":
            stream[position] = draw(st.integers(0, 255))
        elif kind == "insert":
            stream[position:position] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del stream[position : position + draw(st.integers(1, 16))]
        elif kind == "duplicate":
            stream[position:position] = stream[position : position + draw(st.integers(1, 64))]
        else:
            del stream[position:]
    return _split(draw, bytes(stream))


def _split(draw: st.DrawFn, stream: bytes) -> list[bytes]:
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    edges = [0, *cuts, len(stream)]
    return [stream[start:end] for start, end in itertools.pairwise(edges)]


_METHOD_INDEXES = sorted(commands.INDEX_MAPPING)


@st.composite
def random_frames(draw: st.DrawFn) -> list[bytes]:
    """Frames built at random: each field is plausible, their combination is not."""
    frames = []
    for _ in range(draw(st.integers(1, 6))):
        frame_type = draw(st.sampled_from([1, 1, 1, 2, 2, 3, 8]) | st.integers(0, 255))
        channel_id = draw(st.sampled_from([0, 1, 1, 2]) | st.integers(0, 65535))
        if frame_type == 1:
            index = draw(st.sampled_from(_METHOD_INDEXES) | st.integers(0, 2**32 - 1))
            payload = struct.pack(">I", index) + draw(st.binary(max_size=64))
        elif frame_type == 2:
            flags = draw(st.integers(0, 0xFFFF))
            payload = struct.pack(">HHQH", 60, 0, draw(st.integers(0, 8)), flags) + draw(
                st.binary(max_size=64)
            )
        else:
            payload = draw(st.binary(max_size=16))
        end = draw(st.sampled_from([b"\xce", b"\xce", b"\xce", b"\x00"]))
        frames.append(_frame.pack(frame_type, channel_id, len(payload)) + payload + end)
    return _split(draw, b"".join(frames))


@st.composite
def random_property_lists(draw: st.DrawFn) -> list[bytes]:
    """A delivery whose content header carries random flags and a random property list."""
    flags = draw(st.integers(0, 0xFFFF))
    properties = struct.pack(">H", flags) + draw(
        st.binary(max_size=96) | st.just(PROPERTIES[2:]) | st.just(PROPERTIES[2:40])
    )
    header = struct.pack(">HHQ", 60, 0, 2) + properties
    deliver = _method(1, commands.Basic.Deliver("c", 1, False, "ex", "rk"))
    stream = (
        deliver
        + _frame.pack(2, 1, len(header))
        + header
        + b"\xce"
        + _frame.pack(3, 1, 2)
        + b"hi\xce"
    )
    return _split(draw, stream)


@FUZZ
@given(random_property_lists())
def test_random_property_lists_raise_only_protocol_errors(chunks: list[bytes]) -> None:
    _run(HANDSHAKE, [SESSION[0], SESSION[1], *chunks])


@FUZZ
@given(mutated(HANDSHAKE))
def test_a_mutated_handshake_raises_only_protocol_errors(chunks: list[bytes]) -> None:
    _run(chunks, [])


@FUZZ
@given(mutated(SESSION))
def test_a_mutated_session_raises_only_protocol_errors(chunks: list[bytes]) -> None:
    _run(HANDSHAKE, chunks)


@FUZZ
@given(random_frames())
def test_random_frames_after_open_raise_only_protocol_errors(chunks: list[bytes]) -> None:
    _run(HANDSHAKE, chunks)


@FUZZ
@given(st.binary(max_size=64), st.data())
def test_random_greetings_raise_only_protocol_errors(greeting: bytes, data: Any) -> None:
    _run(_split(data.draw, greeting) + HANDSHAKE, [])


def test_the_unmutated_streams_open_and_close_cleanly() -> None:
    """The streams the fuzzer mutates are valid: the handshake opens, the session runs."""
    client = ClientConnection()
    client.initiate()
    events = []
    for frame in HANDSHAKE:
        events += client.receive(frame, 0.0)
    assert client.state is ConnectionState.OPEN
    assert _make_requests(client)
    for frame in SESSION:
        events += client.receive(frame, 0.0)
    names = [type(event).__name__ for event in events]
    assert names == [
        "ConnectionOpened",
        "ReplyArrived",
        "ReplyArrived",
        "MessageDelivered",
        "ReplyArrived",
        "MessageReturned",
        "ConsumerCancelled",
        "ChannelFlow",
        "ConnectionBlocked",
        "ConnectionUnblocked",
        "ChannelClosed",
        "ConnectionClosed",
    ]
    assert client.state in (ConnectionState.CLOSED,)  # (mypy narrowed it to OPEN above)
