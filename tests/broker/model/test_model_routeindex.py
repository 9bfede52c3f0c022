"""The routing indexes (topic trie, headers index) give exactly what scanning every
binding with ``topic_match``/``headers_match`` gives, in binding order, also after
bindings are removed."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from async_amqp_testing._model.exchange import Binding, DestinationKind, Exchange
from async_amqp_testing._model.fieldtable import FieldValue, Table, typed
from async_amqp_testing._model.routing import ExchangeType, headers_match, topic_match

pattern_word = st.sampled_from(["", "a", "b", "*", "#", "a*", "#b"])
word = st.sampled_from(["", "a", "b", "a*", "#b", "*", "#"])
topic_key = st.lists(pattern_word, max_size=5).map(".".join)
routing_key = st.lists(word, max_size=5).map(".".join)


def exchange(kind: ExchangeType) -> Exchange:
    return Exchange(
        "x", kind, durable=False, auto_delete=False, internal=False, arguments={}, alternate=None
    )


def binding(number: int, key: str = "", arguments: Table | None = None) -> Binding:
    return Binding.create("x", DestinationKind.QUEUE, f"q{number}", key, arguments or {})


@settings(max_examples=300)
@given(
    st.lists(topic_key, max_size=12),
    st.lists(st.integers(0, 11), max_size=4),
    st.lists(routing_key, min_size=1, max_size=3),
)
def test_topic_index_equals_scanning(
    keys: list[str], removed: list[int], routing_keys: list[str]
) -> None:
    topic = exchange(ExchangeType.TOPIC)
    bindings = [binding(n, key) for n, key in enumerate(keys)]
    for b in bindings:
        topic.add_binding(b)
    for key in routing_keys:  # fill the per-key cache before the removals
        topic.match([key], None)
    for index in removed:
        if index < len(bindings):
            topic.remove_binding(bindings[index])
    remaining = list(topic.bindings)
    for key in routing_keys:
        assert topic.match([key], None) == [b for b in remaining if topic_match(b.routing_key, key)]
    assert topic.match(routing_keys, None) == [
        b for b in remaining if any(topic_match(b.routing_key, k) for k in routing_keys)
    ]


def test_topic_index_is_emptied_and_refilled() -> None:
    topic = exchange(ExchangeType.TOPIC)
    first, second = binding(1, "a.#.b"), binding(2, "a.*")
    topic.add_binding(first)
    topic.add_binding(second)
    assert topic.match(["a.x.y.b"], None) == [first]
    assert topic.match(["a.b"], None) == [first, second]
    topic.remove_binding(first)
    assert topic.match(["a.x.y.b"], None) == []
    assert topic.match(["a.b"], None) == [second]
    topic.add_binding(first)
    assert topic.match(["a.b"], None) == [second, first]  # the order they were added


values = st.sampled_from(
    [
        typed("I", 1),
        typed("d", 1.0),
        typed("t", True),
        typed("S", "v"),
        typed("x", b"v"),
        typed("S", "w"),
        typed("V", None),
        typed("F", {"k": 1}),
        typed("A", [1, "v"]),
    ]
)
names = st.sampled_from(["a", "b", "x-c"])
modes = st.sampled_from([None, "all", "any", "all-with-x", "any-with-x"])


@st.composite
def headers_arguments(draw: st.DrawFn) -> Table:
    arguments: Table = dict(draw(st.lists(st.tuples(names, values), max_size=3)))
    mode = draw(modes)
    if mode is not None:
        arguments["x-match"] = typed("S", mode)
    return arguments


message_headers = st.one_of(
    st.none(), st.lists(st.tuples(names.map(str.encode), values), max_size=4)
)


@settings(max_examples=300)
@given(
    st.lists(headers_arguments(), max_size=10),
    st.lists(st.integers(0, 9), max_size=3),
    message_headers,
)
def test_headers_index_equals_scanning(
    arguments: list[Table],
    removed: list[int],
    headers: list[tuple[bytes, FieldValue]] | None,
) -> None:
    exchange_ = exchange(ExchangeType.HEADERS)
    bindings = [binding(n, "", args) for n, args in enumerate(arguments)]
    for b in bindings:
        exchange_.add_binding(b)
    for index in removed:
        if index < len(bindings):
            exchange_.remove_binding(bindings[index])
    expected = [b for b in exchange_.bindings if headers_match(b.arguments, headers)]
    assert exchange_.match([""], headers) == expected
