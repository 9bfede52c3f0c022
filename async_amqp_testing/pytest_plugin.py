"""pytest plugin: the ``fake_broker`` fixture and marker, installed with the package.

Registered through the ``pytest11`` entry point, so a project only needs the
package installed, no conftest. A fresh broker is started for every test that
asks for ``fake_broker``:

* an async test run by anyio's pytest plugin gets a :class:`FakeBroker`
  served in the test's own event loop (asyncio or trio, whichever backend
  the test runs on);
* any other test (plain sync tests using pika or kombu, or async tests run by
  another plugin) gets a :class:`BlockingFakeBroker`: the broker runs in a
  background thread with its own event loop, and every method is safe to call
  from the test's thread.

Configure it per test with ``@pytest.mark.fake_broker(users={'bob': 'pw'},
vhosts=['/', 'other'], heartbeat=5)``; the keywords are :class:`FakeBroker`'s.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from ._blocking import BlockingFakeBroker
from ._broker import FakeBroker

__all__ = ["fake_broker", "fake_broker_options"]


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``fake_broker`` marker."""
    config.addinivalue_line(
        "markers",
        "fake_broker(**options): options of the fake_broker fixture, as FakeBroker keywords "
        "(users, vhosts, permissions, heartbeat, frame_max, channel_max, ...)",
    )


def fake_broker_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Collect the keywords of every ``fake_broker`` marker on the test (the closest wins).

    :param request: the fixture request
    :raises TypeError: when a marker has positional arguments
    """
    options: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers("fake_broker"))):
        if marker.args:
            raise TypeError(
                "@pytest.mark.fake_broker takes keyword arguments only, e.g. "
                "@pytest.mark.fake_broker(users={'bob': 'secret'})"
            )
        options.update(marker.kwargs)
    return options


def _runs_on_anyio(request: pytest.FixtureRequest) -> bool:
    function = getattr(request, "function", None)
    return (
        function is not None
        and inspect.iscoroutinefunction(function)
        and "anyio_backend" in request.fixturenames
    )


@pytest.fixture
def fake_broker(request: pytest.FixtureRequest) -> Iterator[FakeBroker | BlockingFakeBroker]:
    """A fresh fake broker for this test (in the test's event loop, or in a thread).

    Async tests run by anyio get a :class:`FakeBroker`; other tests get a thread-safe
    :class:`BlockingFakeBroker`. Both have ``url``, ``host``, ``port``, ``connect()`` and
    the inspection and fault-injection methods.
    """
    if _runs_on_anyio(request):
        yield request.getfixturevalue("_fake_broker_in_test_loop")
        return
    with FakeBroker(**fake_broker_options(request)).in_thread() as broker:
        yield broker


@pytest.fixture
async def _fake_broker_in_test_loop(
    request: pytest.FixtureRequest, anyio_backend: Any
) -> AsyncIterator[FakeBroker]:
    """The broker served by the test's own anyio event loop (run by anyio's plugin)."""
    async with FakeBroker(**fake_broker_options(request)).serve() as broker:
        yield broker
