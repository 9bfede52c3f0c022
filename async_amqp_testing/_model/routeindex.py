"""Indexes that make routing cost independent of the number of bindings.

* :class:`TopicTrie`: binding keys split into words in a trie with separate
  ``*`` and ``#`` branches; a routing key walks it word by word. Results per
  routing key are cached until the bindings change.
* :class:`HeadersIndex`: a headers binding that can only match messages
  carrying one particular header value (``x-match`` all with a non-void value,
  or any) is filed under that ``(name, value)`` pair (any: under each of its
  pairs, or the header's name for a void value); only bindings filed under a
  message's own headers, and those that cannot be filed, are checked with
  :func:`headers_match`.

Both return matching bindings in the order they were added (the order
routing had when it scanned every binding).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING

from .fieldtable import BINARY_TAGS, FieldValue, erlang_term
from .routing import HeadersRule, XMatch, parse_x_match

if TYPE_CHECKING:
    from .exchange import Binding

__all__ = ["HeadersIndex", "TopicTrie"]

_CACHE_LIMIT = 4096


def _words(key: str) -> tuple[str, ...]:
    # The empty key has zero words; "." has two empty ones (as routing.topic_match).
    return () if key == "" else tuple(key.split("."))


class _Node:
    __slots__ = ("bindings", "children", "hash", "star")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.star: _Node | None = None
        self.hash: _Node | None = None
        self.bindings: dict[Binding, int] = {}


class TopicTrie:
    """Topic bindings by the words of their binding keys."""

    __slots__ = ("_cache", "_root")

    def __init__(self) -> None:
        self._root = _Node()
        self._cache: dict[str, list[Binding]] = {}

    def add(self, binding: Binding, order: int) -> None:
        """File *binding* (``order``: its position among the exchange's bindings)."""
        node = self._root
        for word in _words(binding.routing_key):
            if word == "#":
                node.hash = node.hash or _Node()
                node = node.hash
            elif word == "*":
                node.star = node.star or _Node()
                node = node.star
            else:
                node = node.children.setdefault(word, _Node())
        node.bindings[binding] = order
        self._cache.clear()

    def remove(self, binding: Binding) -> None:
        """Forget *binding* (empty branches are pruned)."""
        path = [self._root]
        keys = _words(binding.routing_key)
        for word in keys:
            parent = path[-1]
            child = (
                parent.hash
                if word == "#"
                else parent.star
                if word == "*"
                else parent.children.get(word)
            )
            if child is None:
                return
            path.append(child)
        path[-1].bindings.pop(binding, None)
        self._cache.clear()
        for depth in range(len(keys), 0, -1):
            node = path[depth]
            if node.bindings or node.children or node.star or node.hash:
                break
            parent, word = path[depth - 1], keys[depth - 1]
            if word == "#":
                parent.hash = None
            elif word == "*":
                parent.star = None
            else:
                del parent.children[word]

    def match(self, routing_key: str) -> list[Binding]:
        """The bindings matching *routing_key*, in the order they were added (do not mutate)."""
        cached = self._cache.get(routing_key)
        if cached is None:
            found: dict[Binding, int] = {}
            self.collect(routing_key, found)
            cached = sorted(found, key=found.__getitem__)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[routing_key] = cached
        return cached

    def collect(self, routing_key: str, into: dict[Binding, int]) -> None:
        """Add the bindings matching *routing_key*, with their order numbers, to *into*."""
        self._walk(self._root, _words(routing_key), 0, into, set())

    def _walk(
        self,
        node: _Node,
        words: tuple[str, ...],
        index: int,
        found: dict[Binding, int],
        visited: set[tuple[int, int]],
    ) -> None:
        state = (id(node), index)
        if state in visited:  # "#.#" and the like reach a node by many paths
            return
        visited.add(state)
        if node.hash is not None:  # "#" takes zero or more words
            for rest in range(index, len(words) + 1):
                self._walk(node.hash, words, rest, found, visited)
        if index == len(words):
            found.update(node.bindings)
            return
        child = node.children.get(words[index])
        if child is not None:
            self._walk(child, words, index + 1, found, visited)
        if node.star is not None:  # "*" takes exactly one word, possibly empty
            self._walk(node.star, words, index + 1, found, visited)


class HeadersIndex:
    """Headers bindings filed by a header they need, plus the ones to always check."""

    __slots__ = ("_by_name", "_by_value", "_rules", "_unfiled", "_where")

    def __init__(self) -> None:
        self._by_value: dict[tuple[str, Hashable], dict[Binding, int]] = {}
        self._by_name: dict[str, dict[Binding, int]] = {}
        self._unfiled: dict[Binding, int] = {}
        self._where: dict[Binding, list[dict[Binding, int]]] = {}
        self._rules: dict[Binding, HeadersRule] = {}

    def add(self, binding: Binding, order: int) -> None:
        """File *binding* (``order``: its position among the exchange's bindings)."""
        places = [self._place(key, value) for key, value in self._filing_keys(binding)]
        if not places:
            places = [self._unfiled]
        for place in places:
            place[binding] = order
        self._where[binding] = places
        self._rules[binding] = HeadersRule(binding.arguments)

    def remove(self, binding: Binding) -> None:
        """Forget *binding*."""
        for place in self._where.pop(binding, ()):
            place.pop(binding, None)
        self._rules.pop(binding, None)

    def match(
        self, headers: Sequence[tuple[bytes, FieldValue]] | None, into: dict[Binding, int]
    ) -> None:
        """Add the bindings matching a message's *headers* to *into*."""
        candidates: dict[Binding, int] = dict(self._unfiled)
        present: dict[str, FieldValue] = {}  # the first occurrence of each name counts
        terms: dict[str, object] = {}
        for raw_key, value in headers or ():
            key = raw_key.decode("utf-8", "surrogateescape")
            if key in present:
                continue
            present[key] = value
            named = self._by_name.get(key)
            if named:
                candidates.update(named)
            term = _hashable_term(value)
            if term is not None:
                terms[key] = term
                valued = self._by_value.get((key, term))
                if valued:
                    candidates.update(valued)
        rules = self._rules
        for binding, order in candidates.items():
            if binding not in into and rules[binding].matches(present, terms):
                into[binding] = order

    def _place(self, key: str, value: FieldValue | None) -> dict[Binding, int]:
        if value is None:
            return self._by_name.setdefault(key, {})
        term = _hashable_term(value)
        assert term is not None
        return self._by_value.setdefault((key, term), {})

    def _filing_keys(self, binding: Binding) -> list[tuple[str, FieldValue | None]]:
        """Where to file: one needed pair for ``all`` (the least crowded one); every
        pair (or name, for a void value) for ``any``.

        Empty when the binding must be checked against every message.
        """
        mode = parse_x_match(binding.arguments)
        with_x = mode in (XMatch.ALL_WITH_X, XMatch.ANY_WITH_X)
        wanted = [
            (key, value)
            for key, value in binding.arguments.items()
            if key != "x-match" and (with_x or not key.startswith("x-"))
        ]
        if mode in (XMatch.ALL, XMatch.ALL_WITH_X):
            valued = [
                (len(self._by_value.get((key, term), ())), key, value)
                for key, value in wanted
                if value.tag != "V" and (term := _hashable_term(value)) is not None
            ]
            if valued:
                _crowd, key, value = min(valued, key=lambda entry: entry[0])
                return [(key, value)]
            return [(key, None) for key, _value in wanted[:1]]  # presence of one name
        return [
            (key, None if value.tag == "V" or _hashable_term(value) is None else value)
            for key, value in wanted
        ]  # "any" of nothing matches nothing; it is checked (cheaply) anyway


def _hashable_term(value: FieldValue) -> Hashable | None:
    """A scalar value's term as a dict key; None for tables and arrays (filed by name)."""
    if value.tag in ("F", "A"):
        return None
    if value.tag in BINARY_TAGS:
        return ("binary", bytes(value.value))
    term = erlang_term(value)
    return term if isinstance(term, Hashable) else None
