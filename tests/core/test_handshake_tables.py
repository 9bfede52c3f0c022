"""The handshake's large tables: decoded once per encoding, encoded once per content."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pamqp import commands, encode
from pamqp import frame as pamqp_frame

from async_amqp._core.errors import ProtocolError
from async_amqp._core.methods import LARGE_TABLE, copy_plain
from async_amqp._core.wire import EncodedTable, decode_method, encode_method, encoded_table

SERVER_PROPERTIES: dict[str, Any] = {
    "capabilities": {name: True for name in ("publisher_confirms", "basic.nack", "x" * 40)},
    "cluster_name": "rabbit@host",
    "copyright": "Copyright (c) 2007-2022 VMware, Inc. or its affiliates.",
    "information": "Licensed under the MPL 2.0. Website: https://rabbitmq.com",
    "platform": "Erlang/OTP 25.2.3",
    "product": "RabbitMQ",
    "version": "3.10.8",
    "tags": ["a", bytearray(b"b"), {"nested": [1, 2]}],
    "weight": Decimal("1.5"),
}


def _start_payload(properties: dict[str, Any]) -> bytes:
    start = commands.Connection.Start(
        server_properties=properties, mechanisms="PLAIN AMQPLAIN", locales="en_US"
    )
    return pamqp_frame.marshal(start, 0)[7:-1]


def test_a_large_table_decoded_again_is_equal_and_shares_nothing_mutable() -> None:
    payload = _start_payload(SERVER_PROPERTIES)
    assert len(encode.field_table(SERVER_PROPERTIES)) >= LARGE_TABLE
    first = decode_method(payload)
    second = decode_method(payload)
    assert isinstance(first, commands.Connection.Start)
    assert isinstance(second, commands.Connection.Start)
    assert first.server_properties == second.server_properties
    assert first.server_properties["product"] == "RabbitMQ"
    changed: Any = first.server_properties
    changed["capabilities"]["publisher_confirms"] = False
    changed["tags"][1][0] = ord("z")
    changed["tags"][2]["nested"].append(3)
    third = decode_method(payload)
    assert isinstance(third, commands.Connection.Start)
    assert third.server_properties == second.server_properties
    fresh: Any = third.server_properties
    assert fresh["capabilities"]["publisher_confirms"] is True
    assert fresh["tags"] == ["a", bytearray(b"b"), {"nested": [1, 2]}]


def test_a_malformed_large_table_is_refused_every_time() -> None:
    payload = bytearray(_start_payload(SERVER_PROPERTIES))
    tag_at = payload.index(b"cluster_name") + len(b"cluster_name")
    payload[tag_at] = ord("!")  # no such field type
    for _ in range(2):
        with pytest.raises(ProtocolError, match="unknown field type"):
            decode_method(bytes(payload))


plain_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text() | st.binary(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@given(st.dictionaries(st.text(max_size=8), plain_values, max_size=6))
def test_copy_plain_is_equal_and_independent(table: dict[str, Any]) -> None:
    copied = copy_plain(table)
    assert copied == table
    assert copied is not table


@pytest.mark.parametrize(
    "properties",
    [
        {"product": "async_amqp", "capabilities": {"basic.nack": True}},
        {"flag": True},
        {"flag": 1},
        {"flag": 1.0},
        {"name": bytearray(b"x")},
        {"name": "x"},
    ],
)
def test_an_encoded_table_encodes_as_its_table(properties: dict[str, Any]) -> None:
    """start-ok with the cached encoding is byte for byte start-ok with the table, also
    for values that are equal but encode differently (True, 1, 1.0; a byte array, a string)."""
    for _ in range(2):  # the second time from the cache
        table = encoded_table(properties)
        assert isinstance(table, EncodedTable)
        assert table == encode.field_table(properties)
        with_table = commands.Connection.StartOk(
            client_properties=properties, mechanism="PLAIN", locale="en_US", response="r"
        )
        with_cached = commands.Connection.StartOk(
            client_properties=table,  # type: ignore[arg-type]
            mechanism="PLAIN",
            locale="en_US",
            response="r",
        )
        assert encode_method(0, with_cached) == encode_method(0, with_table)
