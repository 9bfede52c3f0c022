"""A FakeBroker served from a background thread, for synchronous code (pika, kombu).

The broker's state may only be touched from its own event loop. A
:class:`BlockingFakeBroker` runs that loop in a thread (an anyio blocking
portal) and forwards each inspection and fault-injection call into it, so a
synchronous test can call them safely from its own thread.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from anyio.from_thread import BlockingPortal, start_blocking_portal

from async_amqp import AmqpProtocol

from ._inspection import Binding
from ._model.snapshots import (
    ConnectionInfo,
    ExchangeInfo,
    MessageInfo,
    QueueInfo,
    UnackedInfo,
    VhostInfo,
)
from ._runtime import FORCED_CLOSE_TEXT

if TYPE_CHECKING:
    from ._broker import FakeBroker
    from ._runtime import ConnectionRef
    from .tls import TLSCertificates, TLSFiles

__all__ = ["BlockingFakeBroker", "serve_in_thread"]

_T = TypeVar("_T")


@contextmanager
def serve_in_thread(broker: FakeBroker, backend: str = "asyncio") -> Iterator[BlockingFakeBroker]:
    """Serve *broker* from a new thread for the duration of a ``with`` block.

    :param broker: the broker to serve
    :param backend: the anyio backend of the broker's thread
    :raises OSError: when the address cannot be bound
    """
    with (
        start_blocking_portal(backend) as portal,
        portal.wrap_async_context_manager(broker.serve()),
    ):
        yield BlockingFakeBroker(broker, portal)


class BlockingFakeBroker:
    """Thread-safe view of a :class:`FakeBroker` served from a background thread.

    :param broker: the served broker
    :param portal: the portal of the broker's event loop thread
    """

    def __init__(self, broker: FakeBroker, portal: BlockingPortal) -> None:
        self.broker = broker
        self.portal = portal

    def __repr__(self) -> str:
        return f"<BlockingFakeBroker {self.host}:{self.port}>"

    def _call(self, function: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        return self.portal.call(partial(function, *args, **kwargs))

    def _await(self, function: Callable[..., Awaitable[_T]], *args: Any) -> _T:
        return self.portal.call(function, *args)

    # -- address -------------------------------------------------------------------------

    @property
    def host(self) -> str:
        """The address the broker listens on."""
        return self.broker.host

    @property
    def port(self) -> int:
        """The port the broker listens on (:attr:`FakeBroker.port`)."""
        return self.broker.port

    @property
    def url(self) -> str:
        """``amqp://USER:PASSWORD@HOST:PORT/`` for the first user (``amqps`` with TLS)."""
        return self.broker.url

    @property
    def ports(self) -> list[int]:
        """The port of every node (see :attr:`FakeBroker.ports`)."""
        return self.broker.ports

    @property
    def urls(self) -> list[str]:
        """The URL of every node (see :attr:`FakeBroker.urls`)."""
        return self.broker.urls

    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        """The broker's server-side TLS context (``None``: plain TCP)."""
        return self.broker.ssl_context

    @property
    def certificates(self) -> TLSCertificates | None:
        """The test certificates the broker serves TLS with, if any."""
        return self.broker.certificates

    @property
    def client_ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts the broker (see :attr:`FakeBroker.client_ssl_context`)."""
        return self.broker.client_ssl_context

    @property
    def tls_files(self) -> TLSFiles:
        """PEM files of the test certificates (see :attr:`FakeBroker.tls_files`)."""
        return self.broker.tls_files

    def connect(self, *, node: int = 0, **kwargs: Any) -> AmqpProtocol:
        """An async_amqp connection for the caller's event loop (:meth:`FakeBroker.connect`)."""
        return self.broker.connect(node=node, **kwargs)

    # -- administration ------------------------------------------------------------------

    def add_user(self, user: str, password: str, vhosts: Iterable[str] | None = None) -> None:
        """Add (or replace) a user (see :meth:`FakeBroker.add_user`)."""
        self._call(self.broker.add_user, user, password, vhosts)

    def add_vhost(self, name: str) -> None:
        """Create a vhost (see :meth:`FakeBroker.add_vhost`)."""
        self._call(self.broker.add_vhost, name)

    def reset(self, *, close_connections: bool = False) -> None:
        """Empty the broker (see :meth:`FakeBroker.reset`)."""
        self._call(self.broker.reset, close_connections=close_connections)

    # -- inspection ----------------------------------------------------------------------

    def snapshot(self, vhost: str = "/") -> VhostInfo:
        """See :meth:`FakeBroker.snapshot`."""
        return self._call(self.broker.snapshot, vhost)

    def exchanges(self, vhost: str = "/") -> dict[str, ExchangeInfo]:
        """See :meth:`FakeBroker.exchanges`."""
        return self._call(self.broker.exchanges, vhost)

    def exchange(self, name: str, vhost: str = "/") -> ExchangeInfo:
        """See :meth:`FakeBroker.exchange`."""
        return self._call(self.broker.exchange, name, vhost)

    def queues(self, vhost: str = "/") -> dict[str, QueueInfo]:
        """See :meth:`FakeBroker.queues`."""
        return self._call(self.broker.queues, vhost)

    def queue(self, name: str, vhost: str = "/") -> QueueInfo:
        """See :meth:`FakeBroker.queue`."""
        return self._call(self.broker.queue, name, vhost)

    def messages(self, queue: str, vhost: str = "/") -> tuple[MessageInfo, ...]:
        """See :meth:`FakeBroker.messages`."""
        return self._call(self.broker.messages, queue, vhost)

    def bindings(self, vhost: str = "/") -> list[Binding]:
        """See :meth:`FakeBroker.bindings`."""
        return self._call(self.broker.bindings, vhost)

    def connections(self) -> list[ConnectionInfo]:
        """See :meth:`FakeBroker.connections`."""
        return self._call(self.broker.connections)

    def unacked(self) -> list[UnackedInfo]:
        """See :meth:`FakeBroker.unacked`."""
        return self._call(self.broker.unacked)

    # -- fault injection -----------------------------------------------------------------

    def close_connection(
        self,
        connection: ConnectionRef = None,
        reply_code: int = 320,
        reply_text: str = FORCED_CLOSE_TEXT,
    ) -> int:
        """See :meth:`FakeBroker.close_connection`."""
        return self._call(self.broker.close_connection, connection, reply_code, reply_text)

    def drop_connection(self, connection: ConnectionRef = None) -> int:
        """See :meth:`FakeBroker.drop_connection`."""
        return self._call(self.broker.drop_connection, connection)

    def block(self, reason: str = "low on memory") -> None:
        """See :meth:`FakeBroker.block`."""
        self._call(self.broker.block, reason)

    def unblock(self) -> None:
        """See :meth:`FakeBroker.unblock`."""
        self._call(self.broker.unblock)

    def cancel_consumer(self, queue: str, consumer_tag: str | None = None, vhost: str = "/") -> int:
        """See :meth:`FakeBroker.cancel_consumer`."""
        return self._call(self.broker.cancel_consumer, queue, consumer_tag, vhost)

    def restart(self) -> None:
        """Restart the broker; returns once it listens again (see :meth:`FakeBroker.restart`)."""
        self._await(self.broker.restart)

    def stop_node(self, index: int) -> None:
        """Stop one node (see :meth:`FakeBroker.stop_node`)."""
        self._await(self.broker.stop_node, index)

    def start_node(self, index: int) -> None:
        """Start a stopped node again (see :meth:`FakeBroker.start_node`)."""
        self._await(self.broker.start_node, index)

    def node_running(self, index: int) -> bool:
        """Whether a node listens (see :meth:`FakeBroker.node_running`)."""
        return self._call(self.broker.node_running, index)

    def pause(self) -> None:
        """See :meth:`FakeBroker.pause`."""
        self._call(self.broker.pause)

    def resume(self) -> None:
        """See :meth:`FakeBroker.resume`."""
        self._call(self.broker.resume)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Hold outgoing frames for the duration of a ``with`` block."""
        self.pause()
        try:
            yield
        finally:
            self.resume()

    @property
    def reply_delay(self) -> float:
        """Seconds every batch of outgoing frames is held (:attr:`FakeBroker.reply_delay`)."""
        return self.broker.reply_delay

    @reply_delay.setter
    def reply_delay(self, seconds: float) -> None:
        self._call(setattr, self.broker, "reply_delay", seconds)

    @property
    def blocked_reason(self) -> str | None:
        """The reason of the current resource alarm, or None (:attr:`FakeBroker.blocked_reason`)."""
        return self.broker.blocked_reason
