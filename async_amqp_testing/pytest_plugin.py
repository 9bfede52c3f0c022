"""pytest plugin of async_amqp_testing: the ``fake_broker`` fixture (work in progress)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``fake_broker`` marker."""
    config.addinivalue_line(
        "markers",
        "fake_broker(**options): configure the fake_broker fixture (users, vhosts, heartbeat, ...)",
    )
