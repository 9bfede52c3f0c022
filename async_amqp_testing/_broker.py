"""The FakeBroker facade: listener, sessions, timers, inspection and fault injection.

:class:`FakeBroker` owns one broker model and serves it on a TCP listener
inside ``async with broker.serve()``: every accepted stream gets a
:class:`~async_amqp_testing._socketloop.SocketSession` (hosted by a
:class:`~async_amqp_testing._runtime.BrokerRuntime`, which also runs the model's
TTL and expiry deadlines), and the methods below let a test look at the state
(read-only snapshots) and inject faults (forced closes, drops, resource
alarms, server-side cancels, paused or delayed replies). Everything here runs
in the broker's event loop; :meth:`FakeBroker.in_thread` runs it in a
background thread for synchronous code.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import AbstractContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import anyio
import anyio.abc

from async_amqp import AmqpProtocol, connect_amqp

from ._blocking import BlockingFakeBroker, serve_in_thread
from ._faults import FaultInjection
from ._inspection import Binding, BrokerInspection
from ._model import BrokerModel
from ._nodes import Node, NodeControl
from ._runtime import BrokerRuntime, ConnectionRef, ModelClock
from ._server_identity import MODELLED_RABBITMQ_VERSION, server_properties
from ._settings import ConnectionSettings, check_broker_settings

if TYPE_CHECKING:
    from .tls import TLSCertificates, TLSFiles

__all__ = ["Binding", "ConnectionRef", "FakeBroker"]

logger = logging.getLogger("async_amqp_testing")

#: The SASL mechanisms the broker implements (RabbitMQ's defaults, and EXTERNAL).
MECHANISMS = ("PLAIN", "AMQPLAIN", "EXTERNAL")


def _mechanisms(requested: Iterable[str] | None, ssl_context: ssl.SSLContext | None) -> list[str]:
    """The mechanisms to offer: as requested, or RabbitMQ's defaults (+ EXTERNAL with mTLS)."""
    if requested is None:
        verifies_clients = ssl_context is not None and ssl_context.verify_mode != ssl.CERT_NONE
        return ["PLAIN", "AMQPLAIN", "EXTERNAL"] if verifies_clients else ["PLAIN", "AMQPLAIN"]
    mechanisms = list(requested)
    unknown = [mechanism for mechanism in mechanisms if mechanism not in MECHANISMS]
    if unknown or not mechanisms:
        raise ValueError(
            f"auth_mechanisms must be some of {', '.join(MECHANISMS)}, not {mechanisms!r}"
        )
    return mechanisms


class FakeBroker(BrokerInspection, FaultInjection, NodeControl):
    """An AMQP 0-9-1 broker that behaves like RabbitMQ 3.10; serve it with :meth:`serve`.

    :param users: user name → password (default ``{'guest': 'guest'}``)
    :param vhosts: virtual hosts (default ``['/']``)
    :param permissions: user → vhosts they may open (default: every user, every vhost)
    :param heartbeat: heartbeat offered in connection.tune (seconds, 0: none)
    :param frame_max: frame_max offered in connection.tune
    :param channel_max: channel_max offered in connection.tune
    :param host: address to listen on
    :param port: port to listen on (0: a free port); the first node's with several nodes
    :param ssl_context: serve TLS with this server-side context
    :param certificates: serve TLS with these test certificates (when *ssl_context* is not
        given); :attr:`client_ssl_context` and :attr:`tls_files` come from them
    :param tls_handshake_timeout: seconds a client has to complete the TLS handshake
        (RabbitMQ's ``ssl_handshake_timeout``: 5)
    :param auth_mechanisms: SASL mechanisms offered, in order (default ``PLAIN AMQPLAIN``,
        and ``EXTERNAL`` when the TLS context asks for client certificates); EXTERNAL is
        offered on TLS connections only and logs in as the client certificate's CN
    :param silent_close_delay: seconds before the socket closes after a refused login, a
        handshake error or a broken frame (RabbitMQ's grace period: 3)
    :param handshake_timeout: seconds a client has, from TCP accept to connection.open, before
        its socket is closed (RabbitMQ: 10)
    :param close_timeout: seconds to wait for close-ok, or for the client's TCP close after
        its connection.close (RabbitMQ: 30)
    :param shutdown_timeout: seconds :meth:`serve` waits for clients to answer its
        320 CONNECTION_FORCED close when it ends
    :param reply_delay: seconds every batch of outgoing frames is held (fault injection)
    :param cluster_name: the ``cluster_name`` server property (default
        ``async_amqp_testing@<host>``)
    :param server_version: the ``version`` server property: the RabbitMQ version the
        broker models (``3.10.8``); set another dotted version to test a client's
        version checks. ``product`` stays ``async_amqp_testing``.
    :param nodes: how many listeners (cluster nodes) serve the one shared state; node *i*
        listens on ``port + i`` (every node on a free port when *port* is 0)
    :raises ConfigurationError: (a ``ValueError``) for a setting no client could work with,
        e.g. ``channel_max=70000`` or ``heartbeat=-1``
    """

    def __init__(
        self,
        users: Mapping[str, str] | None = None,
        vhosts: Iterable[str] | None = None,
        permissions: Mapping[str, Iterable[str]] | None = None,
        *,
        heartbeat: int = 60,
        frame_max: int = 131072,
        channel_max: int = 2047,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        certificates: TLSCertificates | None = None,
        tls_handshake_timeout: float = 5.0,
        auth_mechanisms: Iterable[str] | None = None,
        silent_close_delay: float = 3.0,
        handshake_timeout: float = 10.0,
        close_timeout: float = 30.0,
        shutdown_timeout: float = 2.0,
        reply_delay: float = 0.0,
        cluster_name: str | None = None,
        server_version: str = MODELLED_RABBITMQ_VERSION,
        nodes: int = 1,
    ) -> None:
        self.heartbeat, self.frame_max, self.channel_max = heartbeat, frame_max, channel_max
        self.tls_handshake_timeout = tls_handshake_timeout
        self.silent_close_delay = silent_close_delay
        self.handshake_timeout = handshake_timeout
        self.close_timeout = close_timeout
        self.shutdown_timeout = shutdown_timeout
        self._check_settings(port, reply_delay)
        self.users = dict(users) if users is not None else {"guest": "guest"}
        if not self.users:
            raise ValueError("FakeBroker needs at least one user")
        self._clock = ModelClock()
        self.model = BrokerModel(
            clock=self._clock,
            users=self.users,
            vhosts=tuple(vhosts) if vhosts is not None else ("/",),
            permissions=permissions,
        )
        self.host = host
        if ssl_context is None and certificates is not None:
            ssl_context = certificates.server_context()
        self.ssl_context = ssl_context
        self.certificates = certificates
        self._client_ssl_context: ssl.SSLContext | None = None
        self.auth_mechanisms = _mechanisms(auth_mechanisms, ssl_context)
        self.server_properties = server_properties(
            cluster_name or f"async_amqp_testing@{host}", server_version
        )
        self._runtime = BrokerRuntime(self.model, reply_delay)
        if nodes < 1:
            raise ValueError(f"nodes must be at least 1, not {nodes}")
        self._nodes = [Node(index, port + index if port else 0) for index in range(nodes)]
        self._task_group: anyio.abc.TaskGroup | None = None
        self._serving = False

    def __repr__(self) -> str:
        ports = ",".join(str(node.port) for node in self._nodes if node.running)
        where = f"{self.host}:{ports}" if ports else "not serving"
        return f"<FakeBroker {where} connections={len(self._runtime.sessions)}>"

    def _check_settings(self, port: int, reply_delay: float) -> None:
        check_broker_settings(
            heartbeat=self.heartbeat,
            frame_max=self.frame_max,
            channel_max=self.channel_max,
            port=port,
            timeouts={
                "tls_handshake_timeout": self.tls_handshake_timeout,
                "silent_close_delay": self.silent_close_delay,
                "handshake_timeout": self.handshake_timeout,
                "close_timeout": self.close_timeout,
                "shutdown_timeout": self.shutdown_timeout,
                "reply_delay": reply_delay,
            },
        )

    def _connection_settings(self) -> ConnectionSettings:
        return ConnectionSettings(
            server_properties=self.server_properties,
            auth_mechanisms=tuple(self.auth_mechanisms),
            channel_max=self.channel_max,
            frame_max=self.frame_max,
            heartbeat=self.heartbeat,
            silent_close_delay=self.silent_close_delay,
            handshake_timeout=self.handshake_timeout,
            close_timeout=self.close_timeout,
        )

    # -- address -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port the broker listens on (the first node's, with several nodes).

        :raises RuntimeError: before :meth:`serve` has started
        """
        return self.ports[0]

    @property
    def ports(self) -> list[int]:
        """The port of every node, in order (a stopped node keeps its port).

        :raises RuntimeError: before :meth:`serve` has started
        """
        ports = [node.port for node in self._nodes]
        if None in ports:
            raise RuntimeError("the broker is not serving: use 'async with broker.serve()'")
        return [port for port in ports if port is not None]

    @property
    def url(self) -> str:
        """``amqp://USER:PASSWORD@HOST:PORT/`` for the first user (``amqps`` with TLS).

        With several nodes, the first node's URL.
        """
        return self.urls[0]

    @property
    def urls(self) -> list[str]:
        """The URL of every node (see :attr:`url`), in order."""
        user, password = next(iter(self.users.items()))
        scheme = "amqps" if self.ssl_context is not None else "amqp"
        host = f"[{self.host}]" if ":" in self.host else self.host
        credentials = f"{quote(user, safe='')}:{quote(password, safe='')}"
        return [f"{scheme}://{credentials}@{host}:{port}/" for port in self.ports]

    @property
    def client_ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this broker (and presents the client certificate).

        Made from the broker's ``certificates`` (the ``fake_broker_tls`` fixture's).

        :raises RuntimeError: when the broker has no test certificates
        """
        if self._client_ssl_context is None:
            self._client_ssl_context = self._certificates().client_context()
        return self._client_ssl_context

    @property
    def tls_files(self) -> TLSFiles:
        """PEM files of the broker's ``certificates`` (the TLS fixtures write them).

        :raises RuntimeError: when the broker has no test certificates, or they are not
            written (:meth:`.TLSCertificates.write_files`)
        """
        files = self._certificates().files
        if files is None:
            raise RuntimeError("the test certificates are not written: call write_files()")
        return files

    def _certificates(self) -> TLSCertificates:
        if self.certificates is None:
            raise RuntimeError(
                "this FakeBroker has no test certificates: use the fake_broker_tls fixture "
                "or FakeBroker(certificates=TLSCertificates())"
            )
        return self.certificates

    def connect(self, *, node: int = 0, **kwargs: Any) -> AmqpProtocol:
        """Return an async_amqp connection to this broker (use it as ``async with``).

        Keyword arguments go to :func:`async_amqp.connect_amqp`; login and password
        default to the first user's, and ``ssl`` to :attr:`client_ssl_context` when the
        broker serves TLS with test certificates.

        :param node: the node to connect to (its position in :attr:`urls`)
        """
        user, password = next(iter(self.users.items()))
        kwargs.setdefault("login", user)
        kwargs.setdefault("password", password)
        if self.ssl_context is not None and self.certificates is not None:
            kwargs.setdefault("ssl", self.client_ssl_context)
        return connect_amqp(self.host, self.ports[node], **kwargs)

    # -- serving -------------------------------------------------------------------------

    @asynccontextmanager
    async def serve(self) -> AsyncIterator[FakeBroker]:
        """Listen and serve inside the block; connections are accepted once it starts.

        On exit every client gets ``320 CONNECTION_FORCED`` (as on a RabbitMQ shutdown).

        :raises OSError: when the address cannot be bound (e.g. the port is in use)
        :raises RuntimeError: when the broker is already serving
        """
        if self._serving:
            raise RuntimeError("this FakeBroker is already serving")
        self._serving = True
        self._clock.serving(True)
        self._runtime.start()
        try:
            async with anyio.create_task_group() as task_group:
                self._task_group = task_group
                for node in self._nodes:
                    await task_group.start(self._listen, node)
                task_group.start_soon(self._runtime.run_timers)
                try:
                    yield self
                finally:
                    with anyio.CancelScope(shield=True):
                        await self._shutdown()
                    task_group.cancel_scope.cancel()
        finally:
            self._serving = False
            self._clock.serving(False)
            self._task_group = None
            for node in self._nodes:
                node.port = None

    async def _shutdown(self) -> None:
        self._clear_alarms()
        await self._close_sessions(list(self._runtime.sessions), release=False)

    def _clear_alarms(self) -> None:
        self.unblock()
        self.resume()

    def _after_change(self) -> None:
        """Run pending deliveries and re-arm the timer after an out-of-band model change."""
        self.model.dispatch()
        self._runtime.deadlines_changed()

    # -- administration ------------------------------------------------------------------

    def add_user(self, user: str, password: str, vhosts: Iterable[str] | None = None) -> None:
        """Add (or replace) a user.

        :param user: user name
        :param password: password
        :param vhosts: vhosts the user may open when permissions are explicit
        """
        self.users[user] = password
        self.model.add_user(user, password, vhosts)

    def add_vhost(self, name: str) -> None:
        """Create a virtual host (with its ``amq.*`` exchanges) if it does not exist.

        :param name: the vhost name
        """
        self.model.add_vhost(name)

    def reset(self, *, close_connections: bool = False) -> None:
        """Empty the broker: delete every queue and every exchange but the ``amq.*`` ones.

        Consumers of deleted queues get a server-side basic.cancel. Users, vhosts and
        settings are kept.

        :param close_connections: also close every connection (320 CONNECTION_FORCED)
        """
        logger.info("resetting: deleting every queue and exchange")
        if close_connections:
            self.close_connection()
        self.model.empty_vhosts()
        self._after_change()

    # -- threads -------------------------------------------------------------------------

    def in_thread(self, backend: str = "asyncio") -> AbstractContextManager[BlockingFakeBroker]:
        """Serve from a background thread: ``with FakeBroker().in_thread() as broker:``.

        The context manager yields a :class:`BlockingFakeBroker` whose methods are safe to
        call from any thread (for pika, kombu and other synchronous clients).

        :param backend: the anyio backend of the broker's thread
        """
        return serve_in_thread(self, backend)
