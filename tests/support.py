"""Broker targets for the behavioural suite (used by tests/conftest.py).

Every behavioural test takes ``amqp_broker`` and so runs against the fake
broker *and* against a real RabbitMQ (``AMQP_URL``, else 127.0.0.1:5672). A
target that is not available is skipped with the reason. Where the two
disagree, the fake broker is wrong.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

import async_amqp
from async_amqp import parse_url

if TYPE_CHECKING:  # conftest.py imports the fake broker lazily, skipping if it fails
    from async_amqp_testing import FakeBroker

RABBITMQ_URL = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
_reachable: dict[str, str | None] = {}


def rabbitmq_unavailable() -> str | None:
    """Return why the RabbitMQ target cannot be used, or None when it can."""
    if RABBITMQ_URL not in _reachable:
        options = parse_url(RABBITMQ_URL)
        host, port = options["host"], options.get("port", 5672)
        try:
            with socket.create_connection((host, port), timeout=2):
                _reachable[RABBITMQ_URL] = None
        except OSError as error:
            _reachable[RABBITMQ_URL] = f"no RabbitMQ reachable at {host}:{port} ({error})"
    return _reachable[RABBITMQ_URL]


@dataclass
class BrokerTarget:
    """A broker the behavioural suite runs against."""

    kind: str
    url: str
    fake: FakeBroker | None = None
    names: list[tuple[str, str]] = field(default_factory=list)

    @property
    def is_fake(self) -> bool:
        return self.kind == "fake"

    def connect(self, **kwargs: Any) -> async_amqp.AmqpProtocol:
        """Connect to this broker (keyword arguments go to ``connect_amqp``)."""
        return async_amqp.connect_from_url(self.url, **kwargs)

    def queue_name(self, label: str = "q") -> str:
        """A unique queue name, deleted after the test."""
        name = f"test.{label}.{uuid.uuid4().hex[:12]}"
        self.names.append(("queue", name))
        return name

    def exchange_name(self, label: str = "x") -> str:
        """A unique exchange name, deleted after the test."""
        name = f"test.{label}.{uuid.uuid4().hex[:12]}"
        self.names.append(("exchange", name))
        return name

    async def cleanup(self) -> None:
        if not self.names:
            return
        with anyio.move_on_after(10, shield=True):
            async with self.connect() as conn:
                for kind, name in self.names:
                    async with conn.new_channel() as chan:
                        if kind == "queue":
                            await chan.queue_delete(name)
                        else:
                            await chan.exchange_delete(name)
