"""Fixtures for the broker-model tests: a fake clock and a broker on it."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

# The helpers module sits next to this file; tests import it by name.
sys.path.insert(0, str(Path(__file__).parent))

from async_amqp_testing._model import BrokerModel

from .modelkit import Client, FakeClock


@pytest.fixture
def clock() -> FakeClock:
    """A hand-driven monotonic clock."""
    return FakeClock()


@pytest.fixture
def broker(clock: FakeClock) -> BrokerModel:
    """A broker with guest/guest on '/', fixed wall time and seeded names."""
    return BrokerModel(clock=clock, system_time=lambda: 1_700_000_000.0, rng=random.Random(7))


@pytest.fixture
def client(broker: BrokerModel) -> Client:
    """One connection announcing consumer_cancel_notify."""
    return Client(broker)


@pytest.fixture
def other(broker: BrokerModel) -> Client:
    """A second connection."""
    return Client(broker)
