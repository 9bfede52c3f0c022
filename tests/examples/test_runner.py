"""examples/_runner.py: how a script picks its broker and its event loop."""

from __future__ import annotations

import sys
from types import SimpleNamespace
from typing import Any

import pytest

from .support import EMBEDDED_BROKER_LINE, load_example

runner = load_example("_runner")


async def test_a_url_is_used_as_given() -> None:
    seen: list[str] = []

    async def main(url: str) -> None:
        seen.append(url)

    await runner.with_broker(main, "amqp://someone@broker.example/")
    assert seen == ["amqp://someone@broker.example/"]


async def test_no_url_starts_an_embedded_fake_broker(capsys: pytest.CaptureFixture[str]) -> None:
    import async_amqp

    products: list[str] = []

    async def main(url: str) -> None:
        async with async_amqp.connect_from_url(url) as conn:
            products.append(conn.server_properties["product"])

    await runner.with_broker(main, None)
    assert products == ["async_amqp_testing"]
    assert EMBEDDED_BROKER_LINE.fullmatch(capsys.readouterr().out.strip())


@pytest.mark.parametrize(
    ("argv", "environment", "expected"),
    [
        ([], None, (None, "asyncio")),
        ([], "amqp://from-env/", ("amqp://from-env/", "asyncio")),
        (["amqp://from-argv/"], "amqp://from-env/", ("amqp://from-argv/", "asyncio")),
        (["--backend", "trio"], None, (None, "trio")),
        (["amqp://h/", "--backend", "trio"], None, ("amqp://h/", "trio")),
    ],
)
def test_command_line(
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    environment: str | None,
    expected: tuple[str | None, str],
) -> None:
    calls: list[tuple[Any, ...]] = []

    def fake_run(func: Any, main: Any, url: str | None, *, backend: str) -> None:
        calls.append((func, main, url, backend))

    async def main(url: str) -> None:
        raise AssertionError("not run")

    monkeypatch.setattr(runner, "anyio", SimpleNamespace(run=fake_run))  # not anyio itself
    monkeypatch.setattr(sys, "argv", ["example.py", *argv])
    if environment is None:
        monkeypatch.delenv("AMQP_URL", raising=False)
    else:
        monkeypatch.setenv("AMQP_URL", environment)
    runner.run_example(main)
    assert calls == [(runner.with_broker, main, *expected)]
