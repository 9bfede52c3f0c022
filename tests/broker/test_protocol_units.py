"""Unit tests of the broker's protocol helpers: frame splitting, SASL parsing, properties."""

from __future__ import annotations

import itertools
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pamqp import commands

from async_amqp._core.incremental import FrameSplitter
from async_amqp._core.rawprops import check_publish_properties, decode_publish_properties
from async_amqp._core.wire import PROTOCOL_HEADER, encode_method
from async_amqp_testing._sasl import parse_credentials
from async_amqp_testing.raw import amqplain_response, encode_frame

FRAMES = [
    encode_method(1, commands.Channel.Open()),
    encode_frame(2, 1, struct.pack(">HHQ", 60, 0, 3) + b"\x00\x00"),
    encode_frame(3, 1, b"abc"),
    encode_frame(8, 0, b""),
    encode_frame(3, 1, b"x" * 300),
]
STREAM = PROTOCOL_HEADER + b"".join(FRAMES)


@given(st.lists(st.integers(min_value=1, max_value=len(STREAM)), max_size=20))
def test_pieces_reassemble_the_stream_and_end_at_frame_ends(cuts: list[int]) -> None:
    splitter = FrameSplitter()
    points = sorted({0, *cuts, len(STREAM)})
    pieces = []
    for start, end in itertools.pairwise(points):
        pieces += splitter.split(STREAM[start:end])
    assert b"".join(piece for _, piece, _ in pieces) == STREAM
    whole = [piece for _, piece, is_whole in pieces if is_whole]
    assert all(piece in FRAMES for piece in whole)
    ends = [len(PROTOCOL_HEADER)]
    for frame in FRAMES:
        ends.append(ends[-1] + len(frame))
    position = 0
    for frame_type, piece, _ in pieces:
        position += len(piece)
        assert (frame_type != -1) == (position in ends[1:])  # the header piece is -1


def test_one_chunk_gives_one_whole_piece_per_frame() -> None:
    pieces = FrameSplitter().split(STREAM)
    assert [piece for _, piece, _ in pieces] == [PROTOCOL_HEADER, *FRAMES]
    assert [whole for _, _, whole in pieces] == [False, True, True, True, True, True]
    assert [frame_type for frame_type, _, _ in pieces] == [-1, 1, 2, 3, 8, 3]


@pytest.mark.parametrize(
    ("mechanism", "response", "expected"),
    [
        ("PLAIN", b"\0bob\0secret", ("bob", "secret")),
        ("PLAIN", b"\0bob\0", ("bob", "")),
        ("PLAIN", b"authz\0bob\0secret", None),
        ("PLAIN", b"\0bob\0secret\0", None),
        ("PLAIN", b"\0bob", None),
        ("plain", b"\0bob\0secret", None),
        ("AMQPLAIN", amqplain_response("bob", "secret"), ("bob", "secret")),
        ("AMQPLAIN", b"garbage", None),
        ("AMQPLAIN", b"\x05LOGINI\x00\x00\x00\x01\x08PASSWORDS\x00\x00\x00\x00", None),
        ("EXTERNAL", b"", None),
    ],
)
def test_credentials(mechanism: str, response: bytes, expected: tuple[str, str] | None) -> None:
    assert parse_credentials(mechanism, response) == expected


@pytest.mark.parametrize(
    "raw",
    [b"", b"\x00", b"\x00\x01\x00\x00", b"\x80\x00\x05ab", b"\x80\x00\x02abX"],
    ids=["empty", "one-byte", "continued", "truncated", "left-over"],
)
def test_property_lists_refused_like_rabbitmq(raw: bytes) -> None:
    with pytest.raises(ValueError):
        decode_publish_properties(raw)


def test_property_strings_may_be_any_bytes() -> None:
    properties = decode_publish_properties(b"\x80\x00\x02\xff\xfe")
    assert properties.content_type == b"\xff\xfe".decode("utf-8", "surrogateescape")
    assert decode_publish_properties(commands.Basic.Properties(priority=3).marshal()).priority == 3


@given(
    st.one_of(
        st.binary(max_size=40),
        st.builds(
            lambda flags, rest: flags + rest,
            st.sampled_from([b"\x20\x00", b"\xa0\x00", b"\x10\x00", b"\x30\x00"]),
            st.binary(max_size=30),
        ),
    )
)
def test_checking_a_property_list_refuses_what_decoding_refuses(raw: bytes) -> None:
    """The fast path's check (no decoding) and the full decoding agree on every list."""
    try:
        decode_publish_properties(raw)
    except ValueError:
        with pytest.raises(ValueError):
            check_publish_properties(raw)
    else:
        assert check_publish_properties(raw).encode() == raw
