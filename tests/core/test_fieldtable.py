"""The iterative field-table codec: pamqp's values, any depth, RabbitMQ's strictness."""

from __future__ import annotations

import contextlib
import datetime
import decimal
import struct
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pamqp import commands, decode, encode
from pamqp.base import Frame

from async_amqp._core.errors import FrameError, ProtocolError
from async_amqp._core.fieldtable import (
    FieldTableError,
    FieldValue,
    decode_plain,
    decode_table,
    encode_table,
    iter_raw_table,
)
from async_amqp._core.properties import decode_values
from async_amqp._core.wire import decode_method, encode_method


def table(body: bytes) -> bytes:
    """Length-prefix *body*."""
    return struct.pack(">I", len(body)) + body


def nested(depth: int) -> bytes:
    """A table nested *depth* levels deep under key ``k``, an int at the bottom."""
    encoded = table(b"\x01aI\x00\x00\x00\x07")
    for _ in range(depth):
        encoded = table(b"\x01kF" + encoded)
    return encoded


scalars = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.text(max_size=8),
    st.binary(max_size=8).map(bytearray),
    st.booleans(),
    st.floats(allow_nan=False, width=32),
    st.none(),
    st.decimals(places=2, min_value=-(10**6), max_value=10**6),
    st.integers(0, 2**32).map(lambda s: datetime.datetime.fromtimestamp(s, tz=datetime.UTC)),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(min_size=1, max_size=6), children, max_size=4),
    ),
    max_leaves=20,
)
tables = st.dictionaries(st.text(min_size=1, max_size=6), values, max_size=6)


@given(tables)
def test_plain_values_equal_pamqps(value: dict[str, Any]) -> None:
    encoded = encode.field_table(value)
    assert decode_plain(encoded) == decode.field_table(encoded)
    consumed, _ = decode_plain(b"xx" + encoded + b"tail", 2)
    assert consumed == len(encoded)


@given(tables)
def test_typed_values_keep_their_exact_bytes(value: dict[str, Any]) -> None:
    encoded = encode.field_table(value)
    decoded = decode_table(encoded[4:])
    assert encode_table(decoded) == encoded
    for key, item in decoded.items():
        assert isinstance(item, FieldValue)
        assert key in value


@pytest.mark.parametrize("depth", [400, sys.getrecursionlimit() + 100, 5000])
def test_deep_tables_decode_without_recursion(depth: int) -> None:
    encoded = nested(depth)
    _, plain = decode_plain(encoded)
    typed: Any = decode_table(encoded[4:])
    for _ in range(depth):
        plain = plain["k"]
        assert typed["k"].tag == "F"
        typed = typed["k"].value
    assert plain == {"a": 7}
    assert typed["a"].value == 7
    assert encode_table(decode_table(encoded[4:])) == encoded


def test_deep_arrays_decode_without_recursion() -> None:
    encoded = table(b"I\x00\x00\x00\x01")
    for _ in range(3000):
        encoded = table(b"A" + encoded)
    _, plain = decode_plain(encoded, array=True)
    for _ in range(3000):
        (plain,) = plain
    assert plain == [1]


def test_non_utf8_keys_and_strings() -> None:
    encoded = table(b"\x02\xff\xfeS" + table(b"\xfa") + b"\x01sS" + table(b"ok"))
    _, plain = decode_plain(encoded)
    assert plain == {"\udcff\udcfe": b"\xfa", "s": "ok"}
    entries = list(iter_raw_table(encoded[4:]))
    assert [key for key, _ in entries] == [b"\xff\xfe", b"s"]
    assert encode_table(decode_table(encoded[4:])) == encoded


def test_types_are_pamqps() -> None:
    body = b"".join(
        [
            b"\x01xx" + table(b"ab"),
            b"\x01LL" + struct.pack(">q", -5),
            b"\x01DD\x02" + struct.pack(">i", -12345),
            b"\x01T" + b"T" + struct.pack(">Q", 1_700_000_000),
            b"\x01n\x00",
        ]
    )
    _, plain = decode_plain(table(body))
    assert plain == {
        "x": bytearray(b"ab"),
        "L": -5,
        "D": decimal.Decimal("-123.45"),
        "T": datetime.datetime(2023, 11, 14, 22, 13, 20, tzinfo=datetime.UTC),
        "n": None,
    }
    assert type(plain["x"]) is bytearray
    assert decode_table(body[: body.index(b"\x01n")])["L"].value == 2**64 - 5  # unsigned


@pytest.mark.parametrize(
    "encoded",
    [
        table(b"\x01kS\x00\x00\x00\x09abc"),  # a longstr past the end of its table
        table(b"\x01kL\x00\x00\x00\x01"),  # an L value with 4 bytes
        table(b"\x01kI\x00\x01"),
        table(b"\x09k"),  # a key past the end
        table(b"\x01k"),  # a key without a value
        table(b"\x01kF" + struct.pack(">I", 9) + b"\x01aI\x00\x00\x00\x01"),
        table(b"\x01kA" + table(b"I\x00\x00")),
        table(b"\x01kU\x00\x00"),  # unknown tag
        struct.pack(">I", 50) + b"\x01kI\x00\x00\x00\x01",  # table length past the data
    ],
)
def test_malformed_tables_raise_field_table_error(encoded: bytes) -> None:
    with pytest.raises(FieldTableError):
        decode_plain(encoded)
    if struct.unpack_from(">I", encoded)[0] == len(encoded) - 4:
        with pytest.raises(FieldTableError):
            decode_table(encoded[4:])


@pytest.mark.parametrize("raw", [2**63, 1_700_000_000_000_000, 2**64 - 1])
def test_timestamps_beyond_datetime_are_the_integer_sent(raw: int) -> None:
    _, plain = decode_plain(table(b"\x01tT" + struct.pack(">Q", raw)))
    assert plain == {"t": raw}


def test_nul_tag_is_void_for_pamqp_compatibility_only() -> None:
    encoded = table(b"\x01k\x00")
    assert decode_plain(encoded) == (len(encoded), {"k": None})
    with pytest.raises(FieldTableError):
        decode_plain(encoded, nul_void=False)
    with pytest.raises(FieldTableError):
        decode_table(encoded[4:])


@given(st.binary(max_size=64))
def test_any_bytes_decode_or_raise_field_table_error(data: bytes) -> None:
    for decoder in (lambda: decode_plain(data), lambda: decode_table(data)):
        with contextlib.suppress(FieldTableError):
            decoder()


def test_deep_headers_in_content_properties() -> None:
    headers = nested(2000)
    values = decode_values(struct.pack(">H", 0x2000) + headers)
    level = values[2]
    for _ in range(2000):
        level = level["k"]
    assert level == {"a": 7}


def test_deep_server_properties_in_connection_start() -> None:
    start = encode_method(0, commands.Connection.Start(server_properties={}))
    payload = bytearray(start[7:-1])
    empty_table = payload.index(b"\x00\x00\x00\x00", 6)
    deep = nested(2000)
    payload[empty_table : empty_table + 4] = deep
    method = decode_method(bytes(payload))
    assert isinstance(method, commands.Connection.Start)
    assert method.mechanisms == "PLAIN"
    level: Any = method.server_properties
    for _ in range(2000):
        level = level["k"]
    assert level == {"a": 7}


def test_strict_method_decoding_refuses_left_over_bytes() -> None:
    payload = struct.pack(">HHB", 20, 20, 1) + b"\xff"  # channel.flow + one byte
    assert isinstance(decode_method(payload), commands.Channel.Flow)
    with pytest.raises(FrameError) as caught:
        decode_method(payload, strict=True)
    assert caught.value.reply_text == "FRAME_ERROR - cannot decode <<1,255>>"
    publish = encode_method(1, commands.Basic.Publish(routing_key="rk"))[7:-1]
    with pytest.raises(FrameError):
        decode_method(publish + b"\xff", strict=True)


def test_non_utf8_short_strings_in_methods() -> None:
    payload = struct.pack(">HHH", 60, 40, 0) + b"\x00\x02\xff\xfe\x00"
    method = decode_method(payload, strict=True)
    assert isinstance(method, commands.Basic.Publish)
    assert method.routing_key == "\udcff\udcfe"
    declare = struct.pack(">HHH", 50, 10, 0) + b"\x01\xff\x00" + table(b"")
    queue = decode_method(declare)  # the client's reading
    assert isinstance(queue, commands.Queue.Declare)
    assert queue.queue == "\udcff"
    with pytest.raises(FrameError) as caught:  # RabbitMQ's: only publish may carry them
        decode_method(declare, strict=True)
    assert caught.value.reply_text == "FRAME_ERROR - Malformed UTF-8 in shortstr"
    assert (caught.value.class_id, caught.value.method_id) == (0, 0)


def test_malformed_table_in_arguments_is_a_silent_drop() -> None:
    declare = struct.pack(">HHH", 50, 10, 0) + b"\x00\x00" + table(b"\x01kL\x00\x00\x00\x01")
    with pytest.raises(ProtocolError) as caught:
        decode_method(declare, strict=True)
    assert not caught.value.send_close
    overrun = struct.pack(">HHH", 50, 10, 0) + b"\x00\x00" + struct.pack(">I", 9) + b"\x01kI"
    with pytest.raises(FrameError):
        decode_method(overrun, strict=True)


def _default_instance(method_class: type[Frame]) -> Frame:
    """A method with every argument set to a non-default value pamqp can encode."""
    values = {
        "octet": 7,
        "short": 513,
        "long": 70000,
        "longlong": 2**40 + 3,
        "shortstr": "name",
        "longstr": "long text",
        "table": {"k": 1, "nested": {"a": [1, "b"]}},
        "bit": True,
    }
    method = method_class.__new__(method_class)
    for name in method_class.__slots__:
        setattr(method, name, values[method_class.amqp_type(name)])
    return method


@pytest.mark.parametrize(
    "method_class", list(commands.INDEX_MAPPING.values()), ids=lambda cls: cls.name
)
def test_every_method_decodes_like_pamqp(method_class: type[Frame]) -> None:
    payload = encode_method(1, _default_instance(method_class))[7:-1]
    expected = method_class.__new__(method_class)  # no deprecation warning from __init__
    expected.unmarshal(payload[4:])
    decoded = decode_method(payload, strict=True)
    assert type(decoded) is method_class
    for name in method_class.__slots__:
        assert getattr(decoded, name) == getattr(expected, name), name
