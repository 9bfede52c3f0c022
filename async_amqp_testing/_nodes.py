"""Listeners as cluster nodes, and the broker faults built on them: restart, stop/start node.

A :class:`FakeBroker` serves one shared state on one or more TCP listeners, its
*nodes* (like a RabbitMQ cluster whose queues are replicated everywhere). A
node can be stopped (its listener closes, so new connections are refused, and
its clients get ``320 CONNECTION_FORCED``) and started again on the same port;
:meth:`NodeControl.restart` does that to every node around the model's
:meth:`~async_amqp_testing._model.BrokerModel.restart`, so only durable state
is left. :class:`NodeControl` is mixed into :class:`FakeBroker`.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Collection
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

import anyio
import anyio.abc
import sniffio
from anyio.abc import SocketAttribute

from ._socketloop import SHUTDOWN_TEXT, SocketSession, StreamSession
from ._tls_accept import TLSHandshakeError, TLSPeer, accept_tls
from ._transport_session import BrokerProtocol, TransportSession, serve_protocols

if TYPE_CHECKING:
    import ssl

    from ._model import BrokerModel
    from ._runtime import BrokerRuntime
    from ._settings import ConnectionSettings

__all__ = ["Node", "NodeControl"]

logger = logging.getLogger("async_amqp_testing")

#: Seconds to wait for aborted sessions to finish closing their sockets.
ABORT_GRACE = 5.0


@dataclass(eq=False)
class Node:
    """One listener of the broker: a cluster node.

    :param index: the node's position in :attr:`FakeBroker.urls` (0 is the first)
    :param requested_port: the port asked for (0: a free one, chosen at the first start)
    """

    index: int
    requested_port: int
    port: int | None = None
    running: bool = False
    sessions: set[SocketSession] = field(default_factory=set)
    scope: anyio.CancelScope | None = None
    stopped: anyio.Event | None = None


class NodeControl:
    """Node listeners, accepting connections, restart and node faults (mixed into FakeBroker)."""

    model: BrokerModel
    host: str
    ssl_context: ssl.SSLContext | None
    tls_handshake_timeout: float
    shutdown_timeout: float
    _nodes: list[Node]
    _runtime: BrokerRuntime
    _task_group: anyio.abc.TaskGroup | None

    # -- listening -----------------------------------------------------------------------

    async def _listen(self, node: Node, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        port = node.port if node.port is not None else node.requested_port
        listener = await anyio.create_tcp_listener(local_host=self.host, local_port=port)
        node.stopped = stopped = anyio.Event()
        try:
            async with listener:
                node.port = int(listener.extra(SocketAttribute.local_port))
                logger.info("listening on %s:%s (node %d)", self.host, node.port, node.index)
                with anyio.CancelScope() as scope:
                    node.scope = scope
                    node.running = True
                    task_status.started()
                    if self.ssl_context is None and sniffio.current_async_library() == "asyncio":
                        await serve_protocols(listener, partial(self._accepted, node=node))
                    else:
                        handler = partial(self._accept, node=node)
                        await listener.serve(handler, task_group=self._task_group)
        finally:
            node.running = False
            node.scope = None
            stopped.set()

    async def _accept(self, stream: anyio.abc.SocketStream, node: Node) -> None:
        try:
            remote = stream.extra(SocketAttribute.remote_address)
            peer = f"{remote[0]}:{remote[1]}" if isinstance(remote, tuple) else str(remote)
            raw = stream.extra(SocketAttribute.raw_socket)
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            byte_stream: anyio.abc.ByteStream = stream
            tls_peer: TLSPeer | None = None
            if self.ssl_context is not None:
                byte_stream, tls_peer = await accept_tls(
                    stream, self.ssl_context, self.tls_handshake_timeout, peer
                )
        except TLSHandshakeError:  # logged by accept_tls
            await anyio.aclose_forcefully(stream)
            return
        except Exception as error:
            logger.info("connection from %s failed before AMQP: %r", stream, error)
            await anyio.aclose_forcefully(stream)
            return
        if not node.running:  # the node stopped during the TLS handshake
            await anyio.aclose_forcefully(byte_stream)
            return
        runtime = self._runtime
        session = StreamSession(
            self._connection_settings(),
            self.model,
            runtime,
            byte_stream,
            runtime.next_session_id(),
            peer,
            tls_peer,
        )
        await self._run_session(session, node)

    def _accepted(self, protocol: BrokerProtocol, node: Node) -> None:
        """A plain TCP connection on asyncio (a loop callback): start its session."""
        assert self._task_group is not None
        assert protocol.transport is not None
        if not node.running:  # accepted while the node stopped
            protocol.transport.abort()
            return
        self._task_group.start_soon(self._serve_protocol, protocol, node)

    async def _serve_protocol(self, protocol: BrokerProtocol, node: Node) -> None:
        assert protocol.transport is not None
        remote = protocol.transport.get_extra_info("peername")
        peer = f"{remote[0]}:{remote[1]}" if isinstance(remote, tuple) else str(remote)
        runtime = self._runtime
        session = TransportSession(
            self._connection_settings(),
            self.model,
            runtime,
            protocol,
            runtime.next_session_id(),
            peer,
        )
        await self._run_session(session, node)

    async def _run_session(self, session: SocketSession, node: Node) -> None:
        runtime = self._runtime
        runtime.sessions.add(session)
        node.sessions.add(session)
        try:
            await session.run()
        finally:
            node.sessions.discard(session)

    async def _stop_listener(self, node: Node) -> None:
        if node.scope is not None:
            node.scope.cancel()
        if node.stopped is not None:
            await node.stopped.wait()

    async def _close_sessions(self, sessions: Collection[SocketSession], *, release: bool) -> None:
        """Close *sessions* with 320 (shutdown), wait for close-ok, abort what lingers.

        :param release: close their model connections first, all at once, so messages they
            had unacked are not handed to a consumer on another of these connections
        """
        if release:
            for session in sessions:
                session.driver.release_model()
        for session in sessions:
            session.server_close(320, SHUTDOWN_TEXT)
        with anyio.move_on_after(self.shutdown_timeout):
            await self._runtime.wait_gone(sessions)
        for session in sessions:
            if session in self._runtime.sessions:
                session.abort()
        with anyio.move_on_after(ABORT_GRACE):
            await self._runtime.wait_gone(sessions)

    # -- faults --------------------------------------------------------------------------

    def _node(self, index: int) -> Node:
        if self._task_group is None:
            raise RuntimeError("the broker is not serving: use 'async with broker.serve()'")
        if not 0 <= index < len(self._nodes):
            raise IndexError(f"no node {index}: this broker has {len(self._nodes)} node(s)")
        return self._nodes[index]

    def node_running(self, index: int) -> bool:
        """Whether node *index* listens (``False`` after :meth:`stop_node`).

        :param index: the node's position in :attr:`urls`
        """
        return self._node(index).running

    async def stop_node(self, index: int) -> None:
        """Stop one node, as ``rabbitmqctl stop_app`` would (no-op when it is stopped).

        Its port closes (new connections are refused), then each of its clients gets
        ``320 CONNECTION_FORCED - broker forced connection closure with reason
        'shutdown'``. The state is shared: queues, messages and other nodes' connections
        are untouched (exclusive queues of the closed connections are deleted).

        :param index: the node's position in :attr:`urls` (0 is the first)
        :raises IndexError: for an unknown node
        :raises RuntimeError: when the broker is not serving
        """
        node = self._node(index)
        with anyio.CancelScope(shield=True):  # a half-stopped node would stay half-stopped
            await self._stop_listener(node)
            logger.info("node %d stopped", index)
            await self._close_sessions(list(node.sessions), release=True)

    async def start_node(self, index: int) -> None:
        """Start a stopped node again on its port (no-op when it is running).

        :param index: the node's position in :attr:`urls`
        :raises OSError: when its port was taken meanwhile
        :raises IndexError: for an unknown node
        :raises RuntimeError: when the broker is not serving
        """
        node = self._node(index)
        if not node.running:
            assert self._task_group is not None
            with anyio.CancelScope(shield=True):
                await self._task_group.start(self._listen, node)

    async def restart(self) -> None:
        """Restart the broker as RabbitMQ restarts: only durable state survives.

        Every running node stops listening; every client gets ``320 CONNECTION_FORCED -
        broker forced connection closure with reason 'shutdown'``; then durable
        exchanges, durable queues, bindings between durable ends and persistent messages
        in durable queues are kept (unacked ones back in their queue, redelivered), and
        everything else is gone (see ``BrokerModel.restart``). The nodes then listen
        again on the same ports, so clients reconnect to the same URLs. A stopped node
        stays stopped; a resource alarm and a pause are cleared. It runs to the end even
        when the caller is cancelled meanwhile (it takes at most about
        ``shutdown_timeout`` seconds), as do :meth:`stop_node` and :meth:`start_node`.

        :raises OSError: when a node's port was taken while it was down
        :raises RuntimeError: when the broker is not serving
        """
        self._node(0)  # raises when not serving
        with anyio.CancelScope(shield=True):  # a half-done restart would leave no listener
            await self._restart()

    async def _restart(self) -> None:
        running = [node for node in self._nodes if node.running]
        for node in running:
            await self._stop_listener(node)
        self._clear_alarms()
        sessions = list(self._runtime.sessions)
        for session in sessions:
            session.driver.release_model()
        self.model.restart()
        logger.info("restarted: durable state kept, %d connection(s) closed", len(sessions))
        await self._close_sessions(sessions, release=False)
        self._after_change()
        assert self._task_group is not None
        for node in running:
            await self._task_group.start(self._listen, node)

    def _connection_settings(self) -> ConnectionSettings:
        """The settings of a new connection (FakeBroker's)."""
        raise NotImplementedError

    def _clear_alarms(self) -> None:
        """Clear the resource alarm and the pause (FakeBroker's)."""
        raise NotImplementedError

    def _after_change(self) -> None:
        """Dispatch and re-arm the timer after an out-of-band model change (FakeBroker's)."""
        raise NotImplementedError
