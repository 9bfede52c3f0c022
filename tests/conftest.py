"""Fixtures shared by the test suite: the broker targets of the behavioural suite."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support import RABBITMQ_URL, BrokerTarget, rabbitmq_unavailable


@pytest.fixture(params=["fake", "rabbitmq"])
async def amqp_broker(request: pytest.FixtureRequest) -> AsyncIterator[BrokerTarget]:
    """A broker to test against: the fake broker, then RabbitMQ."""
    if request.param == "rabbitmq":
        reason = rabbitmq_unavailable()
        if reason:
            pytest.skip(reason)
        target = BrokerTarget("rabbitmq", RABBITMQ_URL)
        try:
            yield target
        finally:
            await target.cleanup()
        return
    try:
        from async_amqp_testing import FakeBroker
    except ImportError as error:
        pytest.skip(f"the fake broker is not importable: {error}")
    async with FakeBroker().serve() as broker:
        yield BrokerTarget("fake", broker.url, fake=broker)
