"""Fixtures of the client tests: a broker behind a fault-injecting proxy (recovery tests)."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import pytest

import async_amqp
from tests.support import BrokerTarget

from .faultproxy import FaultProxy

#: Short reconnect delays keep the recovery tests fast.
FAST: dict[str, Any] = {"reconnect_interval": 0.02, "max_reconnect_interval": 0.2}


@dataclass
class ProxiedBroker:
    """A broker target (fake or RabbitMQ) and a :class:`FaultProxy` in front of it."""

    target: BrokerTarget
    proxy: FaultProxy
    host: str
    port: int

    def robust(self, **kwargs: Any) -> async_amqp.RobustConnection:
        """A robust connection through the proxy (fast reconnects unless overridden)."""
        options: dict[str, Any] = {**FAST, "urls": [self.proxy.url()]}
        options.update(kwargs)
        return async_amqp.connect_robust(**options)

    async def another_proxy(self) -> FaultProxy:
        """A second proxy to the same broker (a second "node" with the same state)."""
        return FaultProxy(self.host, self.port)


@pytest.fixture
async def proxied_broker(amqp_broker: BrokerTarget) -> AsyncIterator[ProxiedBroker]:
    """The fake broker, then RabbitMQ, each behind a fault-injecting proxy."""
    options = async_amqp.parse_url(amqp_broker.url)
    host, port = options["host"], options.get("port", 5672)
    async with FaultProxy(host, port).serve() as proxy:
        yield ProxiedBroker(amqp_broker, proxy, host, port)


async def wait_until(predicate: Callable[[], bool | Awaitable[bool]]) -> None:
    """Poll *predicate* (state another task or the broker changes) until true, at most 10 s."""
    with anyio.fail_after(10):
        while True:
            result = predicate()
            if await result if inspect.isawaitable(result) else result:
                return
            await anyio.sleep(0.005)
