"""Topic and headers matching, checked against RabbitMQ's observed rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from async_amqp_testing._model.fieldtable import FieldValue, to_table, typed
from async_amqp_testing._model.routing import headers_match, topic_match


def reference_topic(pattern: list[str], words: list[str]) -> bool:
    """Plain recursive matcher: '*' = one word (maybe empty), '#' = zero or more words."""
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(reference_topic(rest, words[i:]) for i in range(len(words) + 1))
    if not words:
        return False
    return (head == "*" or head == words[0]) and reference_topic(rest, words[1:])


def split(key: str) -> list[str]:
    return [] if key == "" else key.split(".")


word = st.sampled_from(["", "a", "b", "c", "a*", "#b"])
pattern_word = st.sampled_from(["", "a", "b", "c", "*", "#", "a*", "#b"])


@given(st.lists(pattern_word, max_size=6), st.lists(word, max_size=6))
def test_topic_matches_reference(pattern: list[str], words: list[str]) -> None:
    binding_key, routing_key = ".".join(pattern), ".".join(words)
    assert topic_match(binding_key, routing_key) == reference_topic(
        split(binding_key), split(routing_key)
    )


@pytest.mark.parametrize(
    ("binding_key", "routing_key", "expected"),
    [
        ("*", "", False),
        ("#.*", "", False),
        ("a.#", "a", True),
        ("#.a.#", "a", True),
        ("a.#.*.c", "a.c", False),
        ("a.#.*.c", "a.b.c", True),
        ("#", "", True),
        ("", "", True),
        ("", "a", False),
        ("*", "a", True),
        ("*.*", ".", True),
        (".", ".", True),
        ("*", ".", False),
        ("a.*", "a.", True),
        ("a*", "ab", False),
        ("a*", "a*", True),
        ("a.#b", "a.b", False),
        ("a.#b", "a.#b", True),
        ("A", "a", False),
        ("#.#", "a.b", True),
    ],
)
def test_topic_observed_examples(binding_key: str, routing_key: str, expected: bool) -> None:
    assert topic_match(binding_key, routing_key) is expected


def h(**values: FieldValue) -> list[tuple[bytes, FieldValue]]:
    return [(k.replace("_", "-").encode(), v) for k, v in values.items()]


def test_headers_all_and_any() -> None:
    args = to_table({"a": typed("I", 1), "b": typed("S", "x")})
    assert headers_match(args, h(a=typed("I", 1), b=typed("S", "x"), c=typed("b", 0)))
    assert not headers_match(args, h(a=typed("I", 1)))
    args_any = {**args, "x-match": typed("S", "any")}
    assert headers_match(args_any, h(a=typed("I", 1)))
    assert not headers_match(args_any, h(a=typed("I", 2)))


def test_headers_empty_bindings() -> None:
    assert headers_match({}, None)
    assert headers_match({"x-match": typed("S", "all")}, h(a=typed("b", 1)))
    assert not headers_match({"x-match": typed("S", "any")}, h(a=typed("b", 1)))
    assert not headers_match({"a": typed("b", 1)}, None)


def test_headers_numeric_cross_type_equality_but_not_bool() -> None:
    args = {"n": typed("I", 1)}
    for header in (typed("l", 1), typed("s", 1), typed("b", 1), typed("d", 1.0), typed("f", 1.0)):
        assert headers_match(args, h(n=header)), header
    assert not headers_match(args, h(n=typed("t", True)))
    assert not headers_match({"n": typed("t", True)}, h(n=typed("b", 1)))
    assert headers_match({"n": typed("t", True)}, h(n=typed("t", True)))


def test_headers_longstr_equals_byte_array() -> None:
    assert headers_match({"k": typed("S", b"ab")}, h(k=typed("x", b"ab")))
    assert not headers_match({"k": typed("S", b"ab")}, h(k=typed("x", b"ac")))


def test_headers_void_tests_presence() -> None:
    args = {"k": typed("V", None)}
    assert headers_match(args, h(k=typed("S", "anything")))
    assert not headers_match(args, h(other=typed("S", "x")))


def test_headers_x_keys_only_with_x_modes() -> None:
    args = {"x-k": typed("S", "v")}
    assert headers_match(args, None)  # all, x- ignored: no keys -> match
    with_x = {**args, "x-match": typed("S", "all-with-x")}
    assert headers_match(with_x, h(x_k=typed("S", "v")))
    assert not headers_match(with_x, h(x_k=typed("S", "w")))
    any_x = {**args, "x-match": typed("S", "any-with-x")}
    assert headers_match(any_x, h(x_k=typed("S", "v")))
    assert not headers_match(
        {"x-k": typed("S", "v"), "x-match": typed("S", "any")}, h(x_k=typed("S", "v"))
    )
