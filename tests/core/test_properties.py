"""The fast content-properties codec, checked against pamqp byte for byte."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pamqp import commands

from async_amqp._core.properties import EMPTY, FIELDS, decode_values, encode_values
from async_amqp._core.wire import decode_properties

short_strings = st.one_of(st.none(), st.text(min_size=1, max_size=30))
octets = st.one_of(st.none(), st.integers(0, 255))
timestamps = st.one_of(
    st.none(),
    st.integers(0, 2**32).map(lambda s: datetime.datetime.fromtimestamp(s, tz=datetime.UTC)),
)
tables = st.one_of(
    st.none(),
    st.dictionaries(
        st.text(min_size=1, max_size=10),
        st.one_of(st.integers(-(2**40), 2**40), st.text(max_size=10), st.booleans()),
        max_size=4,
    ),
)
STRATEGIES = {"shortstr": short_strings, "octet": octets, "timestamp": timestamps, "table": tables}
property_values = st.tuples(*(STRATEGIES[kind] for _name, _bit, kind in FIELDS))


def pamqp_properties(values: tuple[Any, ...]) -> commands.Basic.Properties:
    properties = commands.Basic.Properties()
    for (name, _bit, _kind), value in zip(FIELDS, values, strict=True):
        setattr(properties, name, value)
    return properties


@given(property_values)
def test_encoding_equals_pamqp(values: tuple[Any, ...]) -> None:
    assert encode_values(values) == pamqp_properties(values).marshal()


@given(property_values)
def test_decoding_equals_pamqp(values: tuple[Any, ...]) -> None:
    payload = pamqp_properties(values).marshal()
    decoded = decode_values(payload)
    reference = decode_properties(payload)
    expected = tuple(getattr(reference, name) for name, _bit, _kind in FIELDS)
    assert decoded == (*expected[:13], expected[13] or None)  # pamqp defaults cluster_id to ""


def test_nothing_set_is_two_zero_bytes() -> None:
    assert encode_values((None,) * 14) == EMPTY
    assert decode_values(EMPTY) == (None,) * 14


def test_non_utf8_short_strings_survive_a_round_trip() -> None:
    payload = b"\x80\x00\x02\xff\xfe"  # content_type = b"\xff\xfe"
    values = decode_values(payload)
    assert values[0] == b"\xff\xfe".decode("utf-8", "surrogateescape")
    assert encode_values(values) == payload


@pytest.mark.parametrize("payload", [b"\x80", b"\x80\x00", b"\x80\x00\x05ab", b"\x20\x00"])
def test_truncated_lists_are_value_errors(payload: bytes) -> None:
    with pytest.raises(ValueError, match="cannot decode"):
        decode_values(payload)


def test_bad_values_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match="delivery_mode"):
        encode_values((None, None, None, 300) + (None,) * 10)
    with pytest.raises(ValueError, match="255 bytes"):
        encode_values(("x" * 256,) + (None,) * 13)
    with pytest.raises(TypeError, match="content_type"):
        encode_values((5,) + (None,) * 13)
