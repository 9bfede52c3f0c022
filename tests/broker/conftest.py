"""Fixtures of the wire-side broker tests: ``wire_target`` is the fake broker, then RabbitMQ."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from async_amqp import parse_url
from async_amqp_testing import FakeBroker
from tests.support import RABBITMQ_URL, rabbitmq_unavailable

from .wirekit import WireTarget

#: The fake broker's delay before closing after a failed handshake or a broken frame in
#: these tests (RabbitMQ: 3 s).
FAKE_SILENT_CLOSE_DELAY = 0.2


@pytest.fixture(params=["fake", "rabbitmq"])
async def wire_target(request: pytest.FixtureRequest) -> AsyncIterator[WireTarget]:
    """Where raw-frame tests send their frames: the fake broker, then 127.0.0.1:5672."""
    if request.param == "rabbitmq":
        reason = rabbitmq_unavailable()
        if reason:
            pytest.skip(reason)
        options = parse_url(RABBITMQ_URL)
        yield WireTarget(
            "rabbitmq",
            options["host"],
            options.get("port", 5672),
            user=options.get("login", "guest"),
            password=options.get("password", "guest"),
            vhost=options["virtualhost"],
        )
        return
    broker = FakeBroker(silent_close_delay=FAKE_SILENT_CLOSE_DELAY, close_timeout=10)
    async with broker.serve():
        yield WireTarget("fake", broker.host, broker.port, broker)
