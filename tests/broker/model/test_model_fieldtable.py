"""Typed field tables: decoding keeps tags and bytes; encoding matches pamqp byte for byte."""

from __future__ import annotations

import datetime
import decimal
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pamqp import common, encode

from async_amqp_testing._model.fieldtable import (
    TYPE_NAMES,
    FieldTableError,
    decode_table,
    encode_table,
    erlang_term,
    format_value,
    iter_raw_table,
    to_table,
    typed,
)

from .modelkit import ALL_TAGS


def _table(entries: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(bytes([len(k)]) + k + v for k, v in entries)
    return struct.pack(">I", len(body)) + body


def test_every_tag_decodes_with_its_type_and_reencodes_identically() -> None:
    entries = [(f"k{tag}".encode(), encoded) for tag, encoded in ALL_TAGS]
    raw = _table(entries)
    decoded = decode_table(raw[4:])
    assert [v.tag for v in decoded.values()] == [tag for tag, _ in ALL_TAGS]
    assert encode_table(decoded) == raw
    assert set(TYPE_NAMES) == {tag for tag, _ in ALL_TAGS}


def test_raw_iteration_keeps_duplicates_and_order() -> None:
    raw = _table([(b"b", b"b\x01"), (b"a", b"b\x02"), (b"b", b"b\x03")])
    assert [(k, v.value) for k, v in iter_raw_table(raw[4:])] == [(b"b", 1), (b"a", 2), (b"b", 3)]


def test_non_utf8_longstr_survives() -> None:
    raw = _table([(b"k", b"S" + struct.pack(">I", 2) + b"\xff\xfe")])
    value = decode_table(raw[4:])["k"]
    assert value.value == b"\xff\xfe"
    assert encode_table({"k": value}) == raw


@pytest.mark.parametrize(
    ("value", "tag"),
    [
        (True, "t"),
        (5, "b"),
        (-300, "s"),
        (40_000, "u"),
        (-100_000, "I"),
        (3_000_000_000, "i"),
        (2**40, "l"),
        (1.5, "f"),
        ("text", "S"),
        (bytearray(b"\x00\x01"), "x"),
        (None, "V"),
        (decimal.Decimal("1.25"), "D"),
        (datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC), "T"),
    ],
)
def test_typed_encoding_matches_pamqp(value: common.FieldValue, tag: str) -> None:
    expected = encode.encode_table_value(value)
    assert expected[:1] == tag.encode()
    python_value: object = value
    if tag == "D":
        python_value = (2, 125)
    elif tag == "T":
        python_value = 1577836800
    elif tag == "x":
        assert isinstance(value, bytearray)
        python_value = bytes(value)
    assert typed(tag, python_value).encoded() == expected


def test_nested_table_and_array_match_pamqp() -> None:
    value: common.FieldTable = {"a": 1, "b": ["x", 2, {"c": True}]}
    expected = encode.field_table(value)
    nested = typed(
        "F",
        {
            "a": typed("b", 1),
            "b": typed("A", [typed("S", "x"), typed("b", 2), typed("F", {"c": typed("t", True)})]),
        },
    )
    assert nested.raw == expected


def test_plain_python_arguments_are_typed_like_pika() -> None:
    table = to_table({"n": 10, "big": 2**40, "s": "v", "flag": False})
    assert {k: v.tag for k, v in table.items()} == {"n": "I", "big": "l", "s": "S", "flag": "t"}


def test_erlang_equality_rules() -> None:
    assert erlang_term(typed("I", 1)) == erlang_term(typed("l", 1))
    assert erlang_term(typed("b", 1)) == erlang_term(typed("d", 1.0))
    assert erlang_term(typed("S", b"ab")) == erlang_term(typed("x", b"ab"))
    assert erlang_term(typed("t", True)) != erlang_term(typed("b", 1))
    assert erlang_term(typed("t", False)) != erlang_term(typed("b", 0))


def test_format_value_like_rabbitmq() -> None:
    assert format_value(typed("I", 10)) == "10"
    assert format_value(typed("d", 10.0)) == "10.0"
    assert format_value(typed("t", True)) == "true"
    assert format_value(typed("S", "dlx")) == "dlx"


def test_truncated_table_is_an_error() -> None:
    with pytest.raises(FieldTableError):
        decode_table(b"\x01kI\x00\x00")
    with pytest.raises(FieldTableError):
        decode_table(b"\x01kU\x00\x00")


_scalars = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, width=32),
    st.text(max_size=5),
    st.binary(max_size=5).map(bytearray),
    st.none(),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(min_size=1, max_size=4), inner, max_size=3),
    ),
    max_leaves=10,
)


@given(st.dictionaries(st.text(min_size=1, max_size=6), _values, max_size=5))
def test_pamqp_encoded_tables_roundtrip_byte_for_byte(value: common.FieldTable) -> None:
    raw = encode.field_table(value)
    assert encode_table(decode_table(raw[4:])) == raw
