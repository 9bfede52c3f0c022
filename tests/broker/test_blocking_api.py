"""BlockingFakeBroker mirrors FakeBroker's API: same names, same signatures, documented.

:class:`~async_amqp_testing.BlockingFakeBroker` forwards each call into the
broker's thread by hand; these checks make a method added to, renamed in or
re-signed on :class:`~async_amqp_testing.FakeBroker` fail here until the mirror
follows.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from async_amqp_testing import BlockingFakeBroker, FakeBroker

#: FakeBroker names with no blocking twin: serving is what the blocking view wraps.
ASYNC_ONLY = frozenset({"serve", "in_thread"})


def public(cls: type) -> set[str]:
    """The public names defined on *cls* (methods and properties)."""
    return {name for name in dir(cls) if not name.startswith("_")}


def mirrored() -> list[str]:
    """FakeBroker's public methods and properties that the blocking view must have."""
    return sorted(public(FakeBroker) - ASYNC_ONLY)


def test_every_fakebroker_name_has_a_blocking_twin() -> None:
    missing = set(mirrored()) - public(BlockingFakeBroker)
    assert not missing, f"BlockingFakeBroker lacks {sorted(missing)}"


def test_the_blocking_view_adds_only_fakebroker_attributes() -> None:
    broker = FakeBroker()
    attributes = {name for name in vars(broker) if not name.startswith("_")}
    extra = public(BlockingFakeBroker) - public(FakeBroker) - attributes
    assert not extra, f"BlockingFakeBroker has names FakeBroker lacks: {sorted(extra)}"


def _shape(function: Any) -> list[tuple[str, Any, Any, Any]]:
    """Parameter names, kinds and defaults (annotations are strings, compared too)."""
    return [
        (parameter.name, parameter.kind, parameter.default, parameter.annotation)
        for parameter in inspect.signature(function).parameters.values()
    ]


@pytest.mark.parametrize("name", mirrored())
def test_signatures_match(name: str) -> None:
    original = inspect.getattr_static(FakeBroker, name)
    twin = inspect.getattr_static(BlockingFakeBroker, name)
    assert isinstance(original, property) == isinstance(twin, property), name
    if isinstance(original, property):
        assert (original.fset is None) == (twin.fset is None), f"{name}: settable differs"
        return
    assert _shape(original) == _shape(twin)
    returns = inspect.signature(original).return_annotation
    assert inspect.signature(twin).return_annotation == returns


@pytest.mark.parametrize("name", mirrored())
def test_every_twin_is_documented_and_points_back(name: str) -> None:
    twin = inspect.getattr_static(BlockingFakeBroker, name)
    doc = inspect.getdoc(twin)
    assert doc, f"BlockingFakeBroker.{name} has no docstring"
    original = inspect.getdoc(inspect.getattr_static(FakeBroker, name)) or ""
    first_line = original.splitlines()[0] if original else ""
    assert f"FakeBroker.{name}`" in doc or doc.splitlines()[0] == first_line, (
        f"BlockingFakeBroker.{name}'s docstring neither cites FakeBroker.{name} "
        "nor repeats its summary"
    )
