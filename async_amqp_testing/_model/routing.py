"""Exchange types and their matching rules.

Each exchange type decides, for one binding and one publish, whether the
binding matches. The rules follow RabbitMQ rather than the spec: topic
wildcards only as whole words with ``*`` matching one (possibly empty) word,
and headers matching with Erlang's numeric equality and ``x-match`` modes
including the ``-with-x`` variants.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from functools import lru_cache

from .errors import precondition_failed
from .fieldtable import FieldValue, Table, erlang_term

__all__ = [
    "ExchangeType",
    "XMatch",
    "headers_match",
    "parse_x_match",
    "topic_match",
]


class ExchangeType(Enum):
    """The four built-in exchange types (case-sensitive names)."""

    DIRECT = "direct"
    FANOUT = "fanout"
    TOPIC = "topic"
    HEADERS = "headers"


class XMatch(Enum):
    """Headers-exchange matching modes."""

    ALL = "all"
    ANY = "any"
    ALL_WITH_X = "all-with-x"
    ANY_WITH_X = "any-with-x"


@lru_cache(maxsize=4096)
def _words(key: str) -> tuple[str, ...]:
    # The empty key has zero words; "." has two empty ones.
    return () if key == "" else tuple(key.split("."))


def topic_match(binding_key: str, routing_key: str) -> bool:
    """Whether a topic binding key matches a routing key (RabbitMQ's rules)."""
    return _topic_match(_words(binding_key), _words(routing_key))


@lru_cache(maxsize=16384)
def _topic_match(pattern: tuple[str, ...], words: tuple[str, ...]) -> bool:
    # reachable[j] is True when pattern[:i] can consume exactly words[:j].
    reachable = [True] + [False] * len(words)
    for token in pattern:
        if token == "#":
            seen = False
            for j in range(len(words) + 1):
                seen = seen or reachable[j]
                reachable[j] = seen
        else:
            nxt = [False] * (len(words) + 1)
            for j in range(len(words)):
                if reachable[j] and (token == "*" or token == words[j]):
                    nxt[j + 1] = True
            reachable = nxt
    return reachable[len(words)]


def parse_x_match(arguments: Table) -> XMatch:
    """The binding's ``x-match`` mode (default ``all``).

    :raises AmqpError: 406 with RabbitMQ's text for a bad type or value.
    """
    value = arguments.get("x-match")
    if value is None:
        return XMatch.ALL
    if value.tag != "S":
        raise precondition_failed(
            f"Invalid x-match field type {value.type_name} (value {_erlang_repr(value)}); "
            "expected longstr"
        )
    text = bytes(value.value)
    for mode in XMatch:
        if text == mode.value.encode():
            return mode
    raise precondition_failed(
        f'Invalid x-match field value <<"{text.decode("utf-8", "replace")}">>; '
        "expected all, any, all-with-x, or any-with-x"
    )


def _erlang_repr(value: FieldValue) -> str:
    if value.tag == "t":
        return "true" if value.value else "false"
    if value.tag in ("x",):
        return f'<<"{bytes(value.value).decode("utf-8", "replace")}">>'
    return str(value.value)


def headers_match(arguments: Table, headers: Sequence[tuple[bytes, FieldValue]] | None) -> bool:
    """Whether a headers binding (its arguments) matches a message's headers."""
    mode = parse_x_match(arguments)
    with_x = mode in (XMatch.ALL_WITH_X, XMatch.ANY_WITH_X)
    wanted = [
        (key, value)
        for key, value in arguments.items()
        if key != "x-match" and (with_x or not key.startswith("x-"))
    ]
    present: dict[str, FieldValue] = {}
    for raw_key, value in headers or ():
        key = raw_key.decode("utf-8", "surrogateescape")
        if (with_x or not key.startswith("x-")) and key not in present:
            present[key] = value
    if mode in (XMatch.ALL, XMatch.ALL_WITH_X):
        return all(_value_matches(expected, present.get(key)) for key, expected in wanted)
    return any(_value_matches(expected, present.get(key)) for key, expected in wanted)


def _value_matches(expected: FieldValue, actual: FieldValue | None) -> bool:
    if actual is None:
        return False
    if expected.tag == "V":
        # A void binding value tests presence only, whatever the header's type.
        return True
    return bool(erlang_term(expected) == erlang_term(actual))
