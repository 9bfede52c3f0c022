"""Fuzzing the broker's connection logic with mutated frames (no sockets).

A :class:`~async_amqp_testing._driver.ConnectionDriver` is the fake broker's
whole per-connection protocol logic (server core, handshake, model calls,
errors) without I/O. These tests feed it a valid session — handshake, a
channel, declares, binds, publishes with headers, gets, acks — with frames
mutated by hypothesis (bytes flipped, inserted, deleted, lengths changed,
frames cut short or split at random points), and check that only
protocol-level outcomes occur: the connection goes on, or it is closed with a
valid reply code, or the socket is dropped. Never another exception. Then a
second connection on the same broker must still work.

The suite runs a short campaign. For a longer one by hand::

    AMQP_FUZZ_EXAMPLES=30000 python -m pytest tests/broker/test_fuzz_server.py -p no:cacheprovider \
        --timeout=0 --hypothesis-show-statistics
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pamqp import commands
from pamqp.base import Frame

from async_amqp._core.codes import ReplyCode
from async_amqp._core.wire import (
    FRAME_METHOD,
    PROTOCOL_HEADER,
    decode_method,
    encode_content,
    encode_method,
    make_method,
)
from async_amqp_testing._model import BrokerModel
from async_amqp_testing._rawframes import decode_close
from async_amqp_testing.raw import encode_frame, plain_response

from .driverkit import DriverRig, RecordingTransport

EXAMPLES = int(os.environ.get("AMQP_FUZZ_EXAMPLES", "150"))
VALID_CODES = frozenset(int(code) for code in ReplyCode)


def frame(channel_id: int, method: Frame) -> bytes:
    """One method frame."""
    return encode_method(channel_id, method)


def content(channel_id: int, properties: bytes, body: bytes) -> bytes:
    """A content header and body frames."""
    return b"".join(bytes(piece) for piece in encode_content(channel_id, properties, body, 4096))


HEADERS = commands.Basic.Properties(
    headers={"k": {"nested": [1, "two", {"x": True}]}, "CC": ["q1"]},
    timestamp=None,
    expiration="60000",
    priority=3,
).marshal()

#: The frames of a valid session, handshake first; each is a mutation target.
SESSION: list[bytes] = [
    PROTOCOL_HEADER,
    frame(
        0,
        commands.Connection.StartOk(
            client_properties={"capabilities": {"publisher_confirms": True}},
            mechanism="PLAIN",
            response=plain_response("guest", "guest").decode(),
            locale="en_US",
        ),
    ),
    frame(0, commands.Connection.TuneOk(channel_max=16, frame_max=131072, heartbeat=0)),
    frame(0, commands.Connection.Open(virtual_host="/")),
    frame(1, commands.Channel.Open()),
    frame(1, commands.Confirm.Select()),
    frame(
        1,
        commands.Queue.Declare(queue="q1", arguments={"x-max-priority": 5, "x-message-ttl": 60000}),
    ),
    frame(1, commands.Exchange.Declare(exchange="e1", exchange_type="headers")),
    frame(1, commands.Queue.Bind(queue="q1", exchange="e1", arguments={"x-match": "any"})),
    frame(1, commands.Basic.Publish(exchange="", routing_key="q1"))
    + content(1, HEADERS, b"hello" * 10),
    frame(1, commands.Basic.Publish(exchange="e1", routing_key="", mandatory=True))
    + content(1, HEADERS, b""),
    frame(1, commands.Basic.Get(queue="q1")),
    frame(1, commands.Basic.Ack(delivery_tag=1)),
    frame(1, commands.Basic.Qos(prefetch_count=2)),
    frame(1, commands.Basic.Consume(queue="q1", consumer_tag="c1")),
    encode_frame(8, 0, b""),
    frame(1, commands.Basic.Cancel(consumer_tag="c1")),
    frame(1, make_method(commands.Queue.Delete, queue="q1")),
    frame(1, commands.Channel.Close(200, "", 0, 0)),
    frame(0, commands.Connection.Close(200, "", 0, 0)),
]


def nested_table(depth: int) -> bytes:
    """A table nested *depth* levels deep (RabbitMQ accepts thousands of levels)."""
    encoded = b"\x00\x00\x00\x00"
    for _ in range(depth):
        encoded = struct.pack(">I", len(encoded) + 3) + b"\x01kF" + encoded
    return encoded


@st.composite
def deep_table_frames(draw: st.DrawFn) -> bytes:
    """A queue.declare or a publish carrying a deeply nested table."""
    table = nested_table(draw(st.integers(1, 3000)))
    if draw(st.booleans()):
        declare = struct.pack(">HHH", 50, 10, 0) + b"\x00\x0c" + table
        return encode_frame(1, 1, declare)
    publish = frame(1, commands.Basic.Publish(exchange="", routing_key="q1"))
    return publish + content(1, struct.pack(">H", 0x2000) + table, b"deep")


@st.composite
def mutated_session(draw: st.DrawFn) -> list[bytes]:
    """The session's bytes with a few mutations, cut into random chunks."""
    frames = list(SESSION)
    for _ in range(draw(st.integers(1, 4))):
        index = draw(st.integers(0, len(frames) - 1))
        data = bytearray(frames[index])
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        operation = draw(st.sampled_from(["flip", "set", "insert", "delete", "cut", "length"]))
        if operation == "flip" and data:
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif operation == "set" and data:
            data[position] = draw(st.sampled_from([0, 1, 0x7F, 0x80, 0xCE, 0xFF]))
        elif operation == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif operation == "delete":
            del data[position : position + draw(st.integers(1, 8))]
        elif operation == "cut":
            del data[position:]
        elif operation == "length" and len(data) >= 7:
            size = draw(st.sampled_from([0, 1, 4095, 4096, 4097, 2**31, 2**32 - 1]))
            data[3:7] = struct.pack(">I", size)
        frames[index] = bytes(data)
    if draw(st.booleans()):
        extra = draw(st.one_of(st.binary(max_size=24), deep_table_frames()))
        frames.insert(draw(st.integers(4, len(frames))), extra)
    stream = b"".join(frames)
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    return [stream[start:end] for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True)]


def run_conversation(
    model: BrokerModel, chunks: list[bytes]
) -> tuple[RecordingTransport, list[Frame]]:
    """Feed *chunks* to a new driver on *model*; return its transport and the methods sent."""
    rig = DriverRig(model=model)
    driver = rig.driver
    sent: list[Frame] = []
    started = False
    for chunk in chunks:
        driver.receive_data(chunk, 0.0)
        driver.drain_outbox()
        output = driver.core.data_to_send(0.0)
        if not started and output:
            started = True
            if output.startswith(b"AMQP"):
                break  # the protocol header was refused, as RabbitMQ does
        for frame_type, _, payload in rig.reader.feed(output):
            if frame_type == FRAME_METHOD:
                sent.append(decode_close(payload) or decode_method(payload))
        if driver.end is not None or driver.aborted:
            break
    driver.aborted = True
    driver.release_model()
    return rig.transport, sent


def check_outcome(transport: RecordingTransport, sent: list[Frame]) -> None:
    """Only protocol-level outcomes: valid close codes, closes last."""
    for index, method in enumerate(sent):
        if isinstance(method, commands.Connection.Close | commands.Channel.Close):
            assert method.reply_code in VALID_CODES, method.reply_code
            assert method.reply_text is not None
        if isinstance(method, commands.Connection.Close):
            later = sent[index + 1 :]
            assert all(isinstance(m, commands.Connection.CloseOk) for m in later), later


def assert_broker_serves(broker: BrokerModel) -> None:
    """A fresh connection on the same broker still gets through a declare and a get."""
    chunks = [
        b"".join(SESSION[:5]),
        frame(1, commands.Queue.Declare(queue="", exclusive=True)),
        frame(1, commands.Basic.Get(queue="amq.gen-none")),
    ]
    _, sent = run_conversation(broker, chunks)
    kinds = [type(method) for method in sent]
    assert kinds[:5] == [
        commands.Connection.Start,
        commands.Connection.Tune,
        commands.Connection.OpenOk,
        commands.Channel.OpenOk,
        commands.Queue.DeclareOk,
    ], kinds
    assert isinstance(sent[5], commands.Channel.Close)
    assert sent[5].reply_code == 404


@contextmanager
def debug_logging() -> Iterator[None]:
    """Frame logs on (their descriptions of odd frames are fuzzed too), kept out of pytest."""
    logger = logging.getLogger("async_amqp_testing")
    saved = (logger.level, logger.propagate)
    handler = logging.NullHandler()
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])  # setLevel, not assignment: it clears isEnabledFor's cache
        logger.propagate = saved[1]


def test_the_unmutated_session_runs_to_a_clean_close() -> None:
    broker = BrokerModel(users={"guest": "guest"})
    transport, sent = run_conversation(broker, [b"".join(SESSION)])
    assert not transport.aborted
    assert isinstance(sent[-1], commands.Connection.CloseOk)
    assert not any(isinstance(m, commands.Channel.Close) and m.reply_code != 200 for m in sent)
    assert_broker_serves(broker)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutated_session())
def test_mutated_frames_give_only_protocol_outcomes(chunks: list[bytes]) -> None:
    broker = BrokerModel(users={"guest": "guest"})
    with debug_logging():
        transport, sent = run_conversation(broker, chunks)
    check_outcome(transport, sent)
    closes = [m for m in sent if isinstance(m, commands.Connection.Close | commands.Channel.Close)]
    event(
        f"{closes[0].name} {closes[0].reply_code}"
        if closes
        else ("dropped" if transport.aborted else "no error")
    )
    assert_broker_serves(broker)
