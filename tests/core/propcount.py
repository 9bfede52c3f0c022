"""Counting how often raw property lists are parsed (shared by core and broker tests)."""

from __future__ import annotations

import pytest

from async_amqp._core.rawprops import PropertyList


def count_parses(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Record every split of a raw property list from now on (``PropertyList.split``,
    which ``parse`` calls too)."""
    calls: list[bytes] = []
    original = PropertyList.split.__func__  # type: ignore[attr-defined]

    def counting(cls: type[PropertyList], raw: bytes) -> tuple[PropertyList, int]:
        calls.append(raw)
        return original(cls, raw)  # type: ignore[no-any-return]

    monkeypatch.setattr(PropertyList, "split", classmethod(counting))
    return calls
