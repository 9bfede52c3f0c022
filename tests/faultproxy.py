"""A TCP proxy that cuts connections on demand: network faults for recovery tests.

It forwards bytes between clients and a broker (RabbitMQ or a fake broker) and
can drop every connection at once (both sides see the socket close, as after a
network cut or a node's death) or refuse new ones (accept and close at once, as a
node that is down). It never parses AMQP. The ``proxied_broker`` fixture puts one in front of each
broker target of the behavioural suite.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.abc
import pytest
from anyio.abc import SocketAttribute

import async_amqp
from tests.support import BrokerTarget


class FaultProxy:
    """Forward 127.0.0.1:<port> to *target_host*:*target_port*; cut or refuse on demand."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = 0
        #: accept and immediately close new connections while True
        self.refusing = False
        #: connections forwarded so far, and cuts made
        self.accepted = 0
        self.cuts = 0
        self._scopes: set[anyio.CancelScope] = set()

    @property
    def active(self) -> int:
        """How many connections are being forwarded now."""
        return len(self._scopes)

    def url(self, user: str = "guest", password: str = "guest", vhost: str = "") -> str:
        """The proxy's ``amqp://`` URL."""
        return f"amqp://{user}:{password}@127.0.0.1:{self.port}/{vhost}"

    def cut(self) -> int:
        """Close every forwarded connection, both sides; return how many."""
        scopes = list(self._scopes)
        for scope in scopes:
            scope.cancel()
        self.cuts += 1
        return len(scopes)

    @asynccontextmanager
    async def serve(self) -> AsyncIterator[FaultProxy]:
        """Listen on a free port for the duration of the block."""
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        self.port = int(listener.extra(SocketAttribute.local_port))
        async with listener, anyio.create_task_group() as task_group:
            task_group.start_soon(listener.serve, self._forward)
            try:
                yield self
            finally:
                self.cut()
                task_group.cancel_scope.cancel()

    async def _forward(self, client: anyio.abc.SocketStream) -> None:
        if self.refusing:
            await anyio.aclose_forcefully(client)
            return
        try:
            upstream = await anyio.connect_tcp(self.target_host, self.target_port)
        except OSError:
            await anyio.aclose_forcefully(client)
            return
        self.accepted += 1
        with anyio.CancelScope() as scope:
            self._scopes.add(scope)
            try:
                async with anyio.create_task_group() as task_group:
                    task_group.start_soon(self._pump, client, upstream, task_group.cancel_scope)
                    task_group.start_soon(self._pump, upstream, client, task_group.cancel_scope)
            finally:
                self._scopes.discard(scope)
                with anyio.CancelScope(shield=True):
                    await anyio.aclose_forcefully(client)
                    await anyio.aclose_forcefully(upstream)

    @staticmethod
    async def _pump(
        source: anyio.abc.SocketStream, sink: anyio.abc.SocketStream, scope: anyio.CancelScope
    ) -> None:
        with suppress(anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
            while True:
                await sink.send(await source.receive(65536))
        scope.cancel()


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
