"""Helpers for driving the broker model the way the wire side does.

A `Client` is one connection with channels; `call` runs a method and then
dispatches (as the wire side does after writing the reply); `events` drains
the connection's outbox.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import pytest
from pamqp.commands import Basic

from async_amqp_testing._model import (
    AmqpError,
    BrokerModel,
    ChannelModel,
    ConnectionModel,
    Deliver,
    Event,
    Message,
    decode_properties,
)
from async_amqp_testing._model.fieldtable import FieldValue, encode_entries, typed

# One value per tag, encoded by hand (tag + bytes).
ALL_TAGS: list[tuple[str, bytes]] = [
    ("t", b"t\x01"),
    ("b", b"b\xff"),
    ("B", b"B\xff"),
    ("s", b"s" + struct.pack(">h", -2)),
    ("u", b"u" + struct.pack(">H", 65535)),
    ("I", b"I" + struct.pack(">i", -5)),
    ("i", b"i" + struct.pack(">I", 4_000_000_000)),
    ("l", b"l" + struct.pack(">q", -(2**40))),
    ("L", b"L" + struct.pack(">Q", 2**63 + 5)),  # passed through by RabbitMQ 3.10 (observed)
    ("f", b"f" + struct.pack(">f", 1.5)),
    ("d", b"d" + struct.pack(">d", 2.25)),
    ("D", b"D\x02" + struct.pack(">i", 12345)),
    ("T", b"T" + struct.pack(">Q", 1_600_000_000)),
    ("S", b"S" + struct.pack(">I", 3) + b"\xff\xfe\x00"),
    ("x", b"x" + struct.pack(">I", 2) + b"\x00\x01"),
    ("V", b"V"),
    ("F", b"F" + struct.pack(">I", 7) + b"\x01kI" + struct.pack(">i", 1)),
    ("A", b"A" + struct.pack(">I", 5) + b"b\x01s\x00\x02"),
]


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Client:
    """One model connection plus convenience wrappers."""

    def __init__(
        self, broker: BrokerModel, *, cancel_notify: bool = True, user: str = "guest"
    ) -> None:
        self.broker = broker
        caps = {"consumer_cancel_notify": True} if cancel_notify else {}
        self.connection: ConnectionModel = broker.open_connection(user, "/", caps, {})
        self.wakeups = 0

        def wake() -> None:
            self.wakeups += 1

        self.connection.on_output = wake

    def channel(self, channel_id: int = 1) -> ChannelModel:
        """The open channel ``channel_id`` (opened on first use)."""
        existing = self.connection.channels.get(channel_id)
        return existing or self.connection.open_channel(channel_id)

    def call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a model method, then dispatch, as the wire side does."""
        try:
            return method(*args, **kwargs)
        finally:
            self.broker.dispatch()

    def events(self) -> list[Event]:
        """Drain the outbox."""
        out = list(self.connection.outbox)
        self.connection.outbox.clear()
        return out

    def deliveries(self) -> list[Deliver]:
        """Drain the outbox, asserting it holds only deliveries."""
        events = self.events()
        assert all(isinstance(e, Deliver) for e in events), events
        return [e for e in events if isinstance(e, Deliver)]

    def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes = b"x",
        *,
        channel_id: int = 1,
        mandatory: bool = False,
        properties: Basic.Properties | None = None,
        raw_properties: bytes | None = None,
    ) -> None:
        """basic.publish then dispatch."""
        message = make_message(exchange, routing_key, body, properties, raw_properties)
        self.call(
            self.channel(channel_id).basic_publish,
            exchange,
            routing_key,
            mandatory,
            False,
            message,
        )

    def bodies(self) -> list[bytes]:
        """Bodies of the drained deliveries."""
        return [bytes(d.message.body) for d in self.deliveries()]


def make_message(
    exchange: str,
    routing_key: str,
    body: bytes,
    properties: Basic.Properties | None = None,
    raw_properties: bytes | None = None,
) -> Message:
    """A message as the wire side would decode it."""
    if raw_properties is not None:
        return Message(
            exchange, routing_key, decode_properties(raw_properties), raw_properties, body
        )
    return Message.build(exchange, routing_key, body, properties)


def raises(code: int, text: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> AmqpError:
    """Assert ``fn`` raises AmqpError with exactly this code and text."""
    with pytest.raises(AmqpError) as info:
        fn(*args, **kwargs)
    assert (info.value.reply_code, info.value.reply_text) == (code, text)
    return info.value


def raw_props_with_headers(entries: list[tuple[bytes, FieldValue]], **shortstrs: bytes) -> bytes:
    """A raw property list with a headers table (entries kept in order) and optional
    shortstr properties (``expiration``, ``reply_to``, ``user_id``)."""
    slots = {"reply_to": 9, "expiration": 8, "user_id": 4}
    flags = 0x2000
    for name in shortstrs:
        flags |= 1 << slots[name]
    out = struct.pack(">H", flags) + encode_entries(entries)
    for name in ("reply_to", "expiration", "user_id"):
        if name in shortstrs:
            value = shortstrs[name]
            out += bytes([len(value)]) + value
    return out


__all__ = [
    "ALL_TAGS",
    "Client",
    "FakeClock",
    "make_message",
    "raises",
    "raw_props_with_headers",
    "typed",
]
