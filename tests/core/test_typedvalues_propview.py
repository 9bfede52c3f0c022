"""The core APIs the broker model works through: typed values built with their wire
bytes (:mod:`async_amqp._core.typedvalues`) and the opaque, parse-once view of a raw
property list (:class:`async_amqp._core.propview.RawProperties`)."""

from __future__ import annotations

import datetime
import decimal

import pytest
from pamqp.commands import Basic

from async_amqp._core import propview
from async_amqp._core.fieldtable import FieldTableError, FieldValue, decode_table, encode_table
from async_amqp._core.propview import (
    RawProperties,
    accepted_properties,
    known_properties,
    shared_properties,
)
from async_amqp._core.rawprops import PropertySlot, check_publish_properties, property_flag
from async_amqp._core.server_publish import held_body
from async_amqp._core.typedvalues import to_table, typed, typed_value

from .propcount import count_parses


@pytest.mark.parametrize(
    ("tag", "value", "raw"),
    [
        ("t", 1, b"\x01"),
        ("b", -1, b"\xff"),
        ("B", 255, b"\xff"),
        ("s", -2, b"\xff\xfe"),
        ("u", 2, b"\x00\x02"),
        ("I", -1, b"\xff\xff\xff\xff"),
        ("i", 1, b"\x00\x00\x00\x01"),
        ("l", 1, b"\x00" * 7 + b"\x01"),
        ("L", 2**64 - 1, b"\xff" * 8),
        ("T", 1, b"\x00" * 7 + b"\x01"),
        ("f", 1.0, b"\x3f\x80\x00\x00"),
        ("d", 1.0, b"\x3f\xf0" + b"\x00" * 6),
        ("S", "é", b"\x00\x00\x00\x02\xc3\xa9"),
        ("S", b"\xff", b"\x00\x00\x00\x01\xff"),
        ("x", b"ab", b"\x00\x00\x00\x02ab"),
        ("D", (2, -5), b"\x02\xff\xff\xff\xfb"),
        ("V", None, b""),
        ("A", [1, "a"], b"\x00\x00\x00\x0bI\x00\x00\x00\x01S\x00\x00\x00\x01a"),
        ("F", {"k": typed("b", 1)}, b"\x00\x00\x00\x04\x01kb\x01"),
    ],
)
def test_typed_builds_each_tag_with_its_exact_wire_bytes(
    tag: str, value: object, raw: bytes
) -> None:
    built = typed(tag, value)
    assert (built.tag, built.raw) == (tag, raw)
    # The bytes read back to the same typed value.
    assert decode_table(encode_table({"v": built})[4:])["v"] == built


def test_typed_refuses_an_unknown_tag() -> None:
    with pytest.raises(FieldTableError):
        typed("U", 1)


@pytest.mark.parametrize(
    ("value", "tag"),
    [
        (True, "t"),
        (2**31 - 1, "I"),
        (2**31, "l"),
        (-(2**31) - 1, "l"),
        (1.5, "d"),
        ("s", "S"),
        (b"s", "S"),
        (bytearray(b"s"), "x"),
        (decimal.Decimal("1.25"), "D"),
        (datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC), "T"),
        (None, "V"),
        ({"a": 1}, "F"),
        ([1], "A"),
        ((1,), "A"),
    ],
)
def test_plain_values_are_typed_as_clients_type_them(value: object, tag: str) -> None:
    assert typed_value(value).tag == tag


def test_typed_value_details() -> None:
    assert typed_value(decimal.Decimal("1.25")).value == (2, 125)
    assert typed_value(decimal.Decimal("-1E+2")).value == (0, -100)
    naive = datetime.datetime(2020, 1, 1)  # read as UTC
    assert typed_value(naive).value == 1577836800
    kept = typed("b", 1)
    assert typed_value(kept) is kept
    with pytest.raises(FieldTableError):
        typed_value(object())


def test_to_table_keeps_typed_values_and_types_plain_ones() -> None:
    kept = typed("b", 7)
    table = to_table({"a": kept, "b": 7})
    assert table == {"a": kept, "b": typed("I", 7)}
    assert to_table(None) == {}
    assert to_table({}) == {}


RICH = Basic.Properties(
    content_type="text/plain",
    headers={"kind": "order", "n": 1},
    delivery_mode=2,
    priority=5,
    reply_to="r",
    expiration="60000",
    user_id="guest",
).marshal()


def test_a_view_parses_its_list_once_and_only_when_read(monkeypatch: pytest.MonkeyPatch) -> None:
    parses = count_parses(monkeypatch)
    view = RawProperties(RICH)
    assert parses == []  # nothing read yet
    assert view.shortstr(PropertySlot.EXPIRATION) == b"60000"
    assert view.octet(PropertySlot.PRIORITY) == 5
    assert view.octet(PropertySlot.DELIVERY_MODE) == 2
    assert view.shortstr(PropertySlot.USER_ID) == b"guest"
    assert view.shortstr(PropertySlot.MESSAGE_ID) is None
    headers = view.header_entries()
    assert headers is not None
    assert [(key, value.tag) for key, value in headers] == [(b"kind", "S"), (b"n", "b")]
    assert view.header_entries() is headers  # decoded once
    assert parses == [RICH]
    assert not view.empty


def test_a_view_of_no_properties_never_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    parses = count_parses(monkeypatch)
    view = RawProperties(b"\x00\x00")
    assert view.empty
    assert view.shortstr(PropertySlot.EXPIRATION) is None
    assert view.octet(PropertySlot.PRIORITY) is None
    assert view.header_entries() is None
    assert parses == []


def test_a_view_takes_the_slices_the_core_already_split(monkeypatch: pytest.MonkeyPatch) -> None:
    slices = check_publish_properties(RICH)
    parses = count_parses(monkeypatch)
    view = RawProperties(RICH, slices)
    assert view.shortstr(PropertySlot.REPLY_TO) == b"r"
    assert view.header_entries() is not None
    assert parses == []


def test_editing_a_view_copies_its_slices() -> None:
    view = RawProperties(RICH)
    edited = view.edit()
    edited.set_shortstr(PropertySlot.REPLY_TO, b"other")
    edited.set_header_entries([])
    assert view.shortstr(PropertySlot.REPLY_TO) == b"r"
    assert view.edit().encode() == RICH
    rewritten = RawProperties(edited.encode())
    assert rewritten.shortstr(PropertySlot.REPLY_TO) == b"other"
    assert rewritten.header_entries() == []


def test_a_view_keeps_continuation_flags() -> None:
    raw = b"\x80\x01\x00\x00" + b"\x01a"  # content_type, then an empty continuation word
    view = RawProperties(raw)
    assert view.shortstr(PropertySlot.CONTENT_TYPE) == b"a"
    assert view.edit().encode() == raw


def test_a_truncated_list_raises_when_read() -> None:
    view = RawProperties(b"\x80\x00\x05ab")
    with pytest.raises(ValueError):
        view.shortstr(PropertySlot.CONTENT_TYPE)


def test_an_accepted_view_holds_the_checks_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(propview, "_shared", {})
    monkeypatch.setattr(propview, "_seen", set())
    parses = count_parses(monkeypatch)
    view = accepted_properties(RICH)
    assert view is not None
    assert view.shortstr(PropertySlot.EXPIRATION) == b"60000"
    assert view.header_entries() is not None
    assert parses == [RICH]  # the check's parse, and no other


def test_accepted_properties_refuses_what_rabbitmq_refuses() -> None:
    assert accepted_properties(b"\x80") is None  # flags cut short
    assert accepted_properties(b"\x80\x00\x05ab") is None  # value cut short
    assert accepted_properties(b"\x00\x00\x00") is None  # a byte left over
    assert accepted_properties(b"\x20\x00\x00\x00\x00\x02\x01k") is None  # bad headers


def test_short_lists_accepted_again_share_one_view_and_long_ones_do_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(propview, "_shared", {})
    monkeypatch.setattr(propview, "_seen", set())
    parses = count_parses(monkeypatch)
    short = Basic.Properties(content_type="application/json", delivery_mode=2).marshal()
    assert known_properties(short) is None
    once = accepted_properties(short)  # checked; its parse is not kept for later
    assert once is not None
    assert once.octet(PropertySlot.DELIVERY_MODE) == 2
    shared = accepted_properties(bytes(bytearray(short)))  # seen again: not checked again
    assert shared is not None
    assert shared is not once
    assert accepted_properties(short) is shared
    assert known_properties(short) is shared
    assert shared_properties(short) is shared
    assert shared.shortstr(PropertySlot.CONTENT_TYPE) == b"application/json"
    assert shared_properties(short).octet(PropertySlot.DELIVERY_MODE) == 2
    assert parses == [short, short]  # the check's, then the shared view's, once
    long = Basic.Properties(message_id="m" * 200, correlation_id="c" * 200).marshal()
    assert accepted_properties(long) is not accepted_properties(long)
    assert known_properties(long) is None  # over 256 bytes: never remembered
    view = shared_properties(long)
    assert view.shortstr(PropertySlot.CORRELATION_ID) == b"c" * 200


def test_unchecked_views_are_not_shared(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(propview, "_shared", {})
    monkeypatch.setattr(propview, "_seen", set())
    raw = b"\x80\x00\x05ab"  # truncated: refused by the check
    assert shared_properties(raw) is not shared_properties(raw)
    assert known_properties(raw) is None


def test_the_shared_views_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(propview, "_shared", {})
    monkeypatch.setattr(propview, "_seen", set())
    for number in range(propview._SHARED_MAX + 5):
        raw = Basic.Properties(message_id=str(number)).marshal()
        accepted_properties(raw)
        assert accepted_properties(raw) is known_properties(raw)  # shared from now on
    assert 0 < len(propview._seen) <= propview._SHARED_MAX
    assert 0 < len(propview._shared) <= propview._SHARED_MAX


def test_a_field_value_from_typed_equals_the_decoded_one() -> None:
    assert typed("S", "x") == FieldValue("S", b"x", b"\x00\x00\x00\x01x")


def test_the_flags_word_tells_which_properties_a_list_has() -> None:
    raw = Basic.Properties(correlation_id="7", reply_to="r").marshal()
    flags = RawProperties(raw).flags
    present = [slot for slot in range(14) if flags & property_flag(slot)]
    assert present == [PropertySlot.CORRELATION_ID, PropertySlot.REPLY_TO]
    assert RawProperties(b"\x00\x00").flags == 0
    assert RawProperties(b"\x02").flags == -1  # too short: every check goes on to read it


def test_a_message_keeps_bytes_and_read_only_views_and_copies_the_rest() -> None:
    data = b"0123456789"
    view = memoryview(data)[2:5]
    assert held_body(data) is data
    assert held_body(view) is view
    writable = memoryview(bytearray(data))
    kept = held_body(writable)
    assert type(kept) is bytes
    assert kept == data
    writable[0] = ord("x")
    assert kept == data
