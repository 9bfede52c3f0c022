"""Byte-for-byte property passthrough, and the raw property-list splicer."""

from __future__ import annotations

import datetime
import struct

import pytest
from pamqp.commands import Basic

from async_amqp_testing._model import decode_properties
from async_amqp_testing._model.errors import AmqpError
from async_amqp_testing._model.fieldtable import typed
from async_amqp_testing._model.message import Message, PropertyList, PropertySlot
from async_amqp_testing._model.publish import prepare_publish

from .modelkit import ALL_TAGS, Client


def all_tags_headers() -> bytes:
    body = b"".join(bytes([len(f"k{tag}")]) + f"k{tag}".encode() + enc for tag, enc in ALL_TAGS)
    return struct.pack(">I", len(body)) + body


def every_property_raw() -> bytes:
    """All 14 properties set, headers with every tag, a non-UTF-8 longstr and cluster_id."""

    def ss(value: bytes) -> bytes:
        return bytes([len(value)]) + value

    return (
        struct.pack(">H", 0xFFFC)
        + ss(b"text/plain")
        + ss(b"gzip")
        + all_tags_headers()
        + b"\x02"
        + b"\xff"
        + ss(b"corr")
        + ss(b"reply")
        + ss(b"60000")
        + ss(b"mid")
        + struct.pack(">Q", 1_600_000_000)
        + ss(b"type")
        + ss(b"guest")
        + ss(b"app")
        + ss(b"cluster")
    )


def test_every_property_and_header_type_passes_through(client: Client) -> None:
    ch = client.channel()
    ch.queue_declare("q")
    raw = every_property_raw()
    client.call(ch.basic_consume, "q", "c", no_ack=True)
    client.publish("", "q", b"body", raw_properties=raw)
    (delivery,) = client.deliveries()
    assert delivery.message.raw_properties == raw
    client.publish("", "q", b"body", channel_id=2, raw_properties=raw)
    ch.basic_cancel("c")
    client.publish("", "q", b"body", channel_id=2, raw_properties=raw)
    got = ch.basic_get("q")
    assert got is not None
    assert got.message.raw_properties == raw


def test_property_list_roundtrip_matches_pamqp() -> None:
    props = Basic.Properties(
        content_type="a",
        content_encoding="b",
        headers={"x": 1, "y": [1, "z"]},
        delivery_mode=2,
        priority=3,
        correlation_id="c",
        reply_to="r",
        expiration="10",
        message_id="m",
        timestamp=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC),
        message_type="t",
        user_id="u",
        app_id="p",
    )
    raw = props.marshal()
    parsed = PropertyList.parse(raw)
    assert parsed.encode() == raw
    assert parsed.shortstr(PropertySlot.REPLY_TO) == b"r"
    assert decode_properties(raw) == props


def test_splicing_changes_only_the_touched_property() -> None:
    raw = every_property_raw()
    props = PropertyList.parse(raw)
    props.set_shortstr(PropertySlot.REPLY_TO, b"new")
    props.set_shortstr(PropertySlot.EXPIRATION, None)
    spliced = props.encode()
    decoded = decode_properties(spliced)
    assert decoded.reply_to == "new"
    assert decoded.expiration is None
    assert decoded.content_type == "text/plain"
    assert decoded.app_id == "app"
    assert all_tags_headers() in spliced  # headers kept byte for byte
    assert struct.unpack(">H", spliced[:2])[0] == 0xFFFC & ~0x0100


def test_header_entries_rewrite_keeps_other_values() -> None:
    props = PropertyList.parse(every_property_raw())
    entries = props.header_entries()
    assert entries is not None
    props.set_header_entries([*entries, (b"new", typed("l", 1))])
    headers = props.slots[PropertySlot.HEADERS]
    assert headers is not None
    assert headers[4:].startswith(all_tags_headers()[4:])


@pytest.mark.parametrize(
    ("properties", "wants_reply", "keys"),
    [
        (Basic.Properties(correlation_id="7"), False, ("rk",)),
        (Basic.Properties(reply_to="amq.rabbitmq.reply-to", correlation_id="7"), True, ("rk",)),
        (Basic.Properties(reply_to="amq.rabbitmq.reply-to.x"), False, ("rk",)),
        (Basic.Properties(reply_to="amq.rabbitmq.reply-to", headers={}), True, ("rk",)),
        (Basic.Properties(reply_to="amq.rabbitmq.reply-to", delivery_mode=2), True, ("rk",)),
        (Basic.Properties(headers={"CC": ["a"]}, content_type="t"), False, ("rk", "a")),
    ],
)
def test_a_publish_reads_what_its_flags_say_is_there(
    properties: Basic.Properties, wants_reply: bool, keys: tuple[str, ...]
) -> None:
    """Lists without headers, delivery mode, expiration or user id skip those checks;
    every list gives the same answer either way (direct reply-to, CC routes)."""
    message = Message.build("", "rk", b"body", properties)
    prepared = prepare_publish(message, "guest")
    assert (prepared.wants_reply, prepared.routing_keys) == (wants_reply, keys)
    assert prepared.message is message


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (Basic.Properties(user_id="other", correlation_id="7").marshal(), "user_id property"),
        (Basic.Properties(expiration="-1").marshal(), "invalid expiration"),
        (struct.pack(">HB", 1 << 12, 3), "delivery_mode_unknown,3"),
        (Basic.Properties(headers={"CC": "a"}).marshal(), "unacceptable_type_in_header"),
    ],
)
def test_a_publish_checks_what_its_flags_say_is_there(raw: bytes, text: str) -> None:
    with pytest.raises(AmqpError) as raised:
        prepare_publish(Message("", "rk", None, raw, b"body"), "guest")
    assert raised.value.reply_code == 406
    assert text in raised.value.reply_text
