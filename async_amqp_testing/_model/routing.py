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
    "HeadersRule",
    "XMatch",
    "first_headers",
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


class HeadersRule:
    """A headers binding's arguments, read once: its mode and the pairs it tests.

    ``wanted`` holds each tested key with the Erlang term its value must equal, or
    None where the value is void (presence only, whatever the header's type).
    """

    __slots__ = ("match_all", "wanted")

    def __init__(self, arguments: Table) -> None:
        mode = parse_x_match(arguments)
        with_x = mode in (XMatch.ALL_WITH_X, XMatch.ANY_WITH_X)
        self.match_all = mode in (XMatch.ALL, XMatch.ALL_WITH_X)
        self.wanted = tuple(
            (key, None if value.tag == "V" else erlang_term(value))
            for key, value in arguments.items()
            if key != "x-match" and (with_x or not key.startswith("x-"))
        )

    def matches(self, present: dict[str, FieldValue], terms: dict[str, object]) -> bool:
        """Whether a message whose headers are *present* (first occurrence of each key)
        matches; *terms* caches their Erlang terms across the rules of one message."""
        match_all = self.match_all
        for key, expected in self.wanted:
            actual = present.get(key)
            if actual is None:
                hit = False
            elif expected is None:
                hit = True
            else:
                term = terms.get(key)
                if term is None:
                    term = terms[key] = erlang_term(actual)
                hit = term == expected
            if hit is not match_all:  # all: the first miss decides; any: the first hit
                return hit
        return match_all


def first_headers(headers: Sequence[tuple[bytes, FieldValue]] | None) -> dict[str, FieldValue]:
    """A message's headers by name, the first occurrence of each (as RabbitMQ reads them)."""
    present: dict[str, FieldValue] = {}
    for raw_key, value in headers or ():
        key = raw_key.decode("utf-8", "surrogateescape")
        if key not in present:
            present[key] = value
    return present


def headers_match(arguments: Table, headers: Sequence[tuple[bytes, FieldValue]] | None) -> bool:
    """Whether a headers binding (its arguments) matches a message's headers."""
    return HeadersRule(arguments).matches(first_headers(headers), {})
