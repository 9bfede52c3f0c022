"""One broker session per accepted connection: bytes in, model calls, frames out.

A :class:`Session` drives the server role of the sans-IO core
(:class:`async_amqp._core.server.ServerConnection`) over one anyio byte
stream with three tasks: the reader (bytes → core events → handlers → model,
never awaiting anything but the socket), the writer (drains the model's
outbox and the core's buffer in one ``send`` per batch) and the heartbeat
clock. It makes the handshake decisions (credentials, vhost) and ends the
connection the way RabbitMQ does: close-ok then wait for the client's TCP
close, connection.close then wait for close-ok, silent delayed closes for
handshake failures, an immediate drop for undecodable frames. Every error is
contained in its session: the listener and the other sessions never see it.
"""

from __future__ import annotations

import enum
import logging
import math
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
from pamqp import commands
from pamqp.base import Frame

from async_amqp._core import server as sv
from async_amqp._core.erlang import binary_w
from async_amqp._core.errors import FrameError, ProtocolError
from async_amqp._core.heartbeat import HeartbeatAction
from async_amqp._core.wire import (
    FRAME_BODY,
    FRAME_HEADER,
    FRAME_METHOD,
    decode_properties,
    make_method,
)

from ._handlers import HANDLERS, Reply, encode_event, unimplemented
from ._model import CancelNotify, ConnectionModel, Event, Message
from ._model.errors import AmqpError
from ._model.fieldtable import FieldTableError
from ._protocol import (
    ACCESS_REQUEST,
    ACCESS_REQUEST_OK,
    FrameSplitter,
    access_request_is_valid,
    drops_immediately,
    parse_credentials,
)

if TYPE_CHECKING:
    from ._broker import FakeBroker

__all__ = ["Session"]

logger = logging.getLogger("async_amqp_testing")

READ_SIZE = 1 << 18
#: RabbitMQ's text when the broker shuts down with connections open.
SHUTDOWN_TEXT = "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'"


class _End(enum.Enum):
    """How the reader stops."""

    FLUSH_THEN_CLOSE = "flush_then_close"
    SILENT_DELAY = "silent_delay"


class Session:
    """One client connection to the fake broker.

    :param broker: the broker that accepted the connection
    :param stream: the connected byte stream (already TLS-wrapped when TLS is on)
    :param session_id: a number for logs
    :param peer: the client address, for logs and inspection
    """

    def __init__(
        self, broker: FakeBroker, stream: anyio.abc.ByteStream, session_id: int, peer: str
    ) -> None:
        self.broker = broker
        self.stream = stream
        self.session_id = session_id
        self.peer = peer
        self.core = sv.ServerConnection(
            server_properties=broker.server_properties,
            mechanisms="PLAIN AMQPLAIN",
            channel_max=broker.channel_max,
            frame_max=broker.frame_max,
            heartbeat=broker.heartbeat,
        )
        self.connection: ConnectionModel | None = None
        self.user: str | None = None
        self.capabilities: dict[str, Any] = {}
        self.reading_blocked = False
        self._blocked_sent = False
        self._splitter = FrameSplitter()
        self._held: deque[tuple[int, bytes, bool]] = deque()
        self._send_wanted = anyio.Event()
        self._unblocked = anyio.Event()
        self._heartbeat_changed = anyio.Event()
        self._task_group: anyio.abc.TaskGroup | None = None
        self._end: _End | None = None
        self._finishing = False
        self._close_timer_started = False
        self._aborted = False
        self._dispatch: dict[type[sv.ServerEvent], Callable[[Any], None]] = {
            sv.LoginRequested: self._on_login,
            sv.TuneAccepted: self._on_tune,
            sv.OpenRequested: self._on_open,
            sv.ChannelOpened: self._on_channel_opened,
            sv.MethodReceived: self._on_method,
            sv.ContentReceived: self._on_content,
            sv.ChannelClosedByClient: self._on_channel_closed,
            sv.ChannelCloseConfirmed: self._on_channel_closed,
            sv.ConnectionClosedByClient: self._on_client_close,
            sv.ConnectionCloseConfirmed: self._on_close_confirmed,
            sv.ProtocolHeaderRefused: self._on_header_refused,
        }

    def __repr__(self) -> str:
        return f"<Session {self.session_id} {self.peer} {self.core.state.value}>"

    @property
    def name(self) -> str:
        """``connection N (peer)`` for logs."""
        return f"connection {self.session_id} ({self.peer})"

    # -- lifetime ------------------------------------------------------------------------

    async def run(self) -> None:
        """Serve the connection until it ends; never raises (errors are logged)."""
        logger.info("%s: accepted", self.name)
        try:
            async with anyio.create_task_group() as task_group:
                self._task_group = task_group
                task_group.start_soon(self._write_loop)
                task_group.start_soon(self._heartbeat_loop)
                task_group.start_soon(self._read_loop)
        except Exception:
            logger.exception("%s: internal error in the fake broker", self.name)
        finally:
            self._task_group = None
            self._aborted = True
            self._release_model()
            with anyio.CancelScope(shield=True):
                await anyio.aclose_forcefully(self.stream)
            self.broker._session_ended(self)
            logger.info("%s: closed", self.name)

    def abort(self) -> None:
        """Close the socket now, without any AMQP close (also a fault injection)."""
        self._aborted = True
        if self._task_group is not None:
            self._task_group.cancel_scope.cancel()

    def server_close(self, reply_code: int, reply_text: str) -> None:
        """Send connection.close (e.g. 320 CONNECTION_FORCED) and wait for close-ok.

        :param reply_code: the reply code
        :param reply_text: the full reply text
        """
        if self._aborted:
            return
        if self.core.state is sv.ServerState.OPEN:
            self._close_connection(reply_code, reply_text, 0, 0)
        elif self.core.state not in (sv.ServerState.CLOSING, sv.ServerState.CLOSED):
            self.abort()

    def wake_writer(self) -> None:
        """Ask the writer to send whatever is buffered."""
        self._send_wanted.set()

    # -- tasks ---------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        stream = self.stream
        while True:
            while self.reading_blocked:
                await self._unblocked.wait()
            if self._held:
                held, self._held = list(self._held), deque()
                self._process(held)
            elif not self.reading_blocked:
                try:
                    data = await stream.receive(READ_SIZE)
                except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
                    logger.debug("%s: the client closed the socket", self.name)
                    self.abort()
                    return
                except OSError as error:
                    logger.info("%s: connection lost: %r", self.name, error)
                    self.abort()
                    return
                self._process(self._splitter.split(data))
            self.broker._poke_timer()
            self.wake_writer()
            if self._end is _End.FLUSH_THEN_CLOSE:
                self._finishing = True
                return
            if self._end is _End.SILENT_DELAY:
                await anyio.sleep(self.broker.login_failure_delay)
                self.abort()
                return

    async def _write_loop(self) -> None:
        core = self.core
        broker = self.broker
        while True:
            if broker._paused:
                await broker._wait_resumed()
            self._drain_outbox()
            if not core.has_data_to_send:
                if self._finishing:
                    self.abort()
                    return
                self._send_wanted = anyio.Event()
                await self._send_wanted.wait()
                continue
            if broker.reply_delay > 0:
                await anyio.sleep(broker.reply_delay)
                self._drain_outbox()
            data = core.data_to_send(anyio.current_time())
            try:
                await self.stream.send(data)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as error:
                logger.info("%s: write failed: %r", self.name, error)
                self.abort()
                return

    async def _heartbeat_loop(self) -> None:
        core = self.core
        while True:
            deadline = core.heartbeat.next_deadline()
            if math.isinf(deadline):
                self._heartbeat_changed = anyio.Event()
                await self._heartbeat_changed.wait()
                continue
            await anyio.sleep_until(deadline)
            now = anyio.current_time()
            if self.reading_blocked:
                core.heartbeat.received(now)  # like RabbitMQ: no timeout while blocked
            action = core.poll_heartbeat(now)
            if action is HeartbeatAction.SEND:
                self.wake_writer()
            elif action is HeartbeatAction.TIMED_OUT:
                logger.info(
                    "%s: missed heartbeats from client, timeout: %ss",
                    self.name,
                    core.heartbeat_interval,
                )
                self.abort()
                return

    # -- input ---------------------------------------------------------------------------

    def _process(self, pieces: list[tuple[int, bytes, bool]]) -> None:
        core = self.core
        for index, (frame_type, piece, whole) in enumerate(pieces):
            if self._end is not None or self._aborted:
                return
            if (
                whole
                and frame_type == FRAME_METHOD
                and piece[7:11] == ACCESS_REQUEST
                and self._on_access_request(piece)
            ):
                continue
            try:
                events = core.receive(piece, anyio.current_time())
            except ProtocolError as error:
                self._on_protocol_error(error)
                return
            for event in events:
                if logger.isEnabledFor(logging.DEBUG):
                    logger.debug("%s: received %r", self.name, event)
                self._dispatch[type(event)](event)
            if (
                frame_type in (FRAME_HEADER, FRAME_BODY)
                and self.broker.blocked_reason is not None
                and self.core.state is sv.ServerState.OPEN
            ):
                self._block(pieces[index + 1 :])
                return

    def _on_protocol_error(self, error: ProtocolError) -> None:
        handshaking = self.connection is None and self.core.state is not sv.ServerState.CLOSING
        logger.info("%s: protocol error: %s", self.name, error.reply_text)
        if drops_immediately(error):
            self.core.fail(error)
            self.abort()
        elif handshaking:
            self._silent_close()
        else:
            self._drain_outbox()
            self.core.fail(error)
            self._after_server_close(self.broker.close_timeout)

    def _on_access_request(self, frame: bytes) -> bool:
        """Answer access.request (30/10) as RabbitMQ does; False: let the core see the frame.

        pamqp has no class for it, so the core would take it for an unknown method.
        """
        core = self.core
        if core.state is not sv.ServerState.OPEN or frame[-1] != 0xCE:
            return False
        channel_id = int.from_bytes(frame[1:3], "big")
        payload = frame[7:-1]
        if len(frame) > core.frame_max:
            return False
        if channel_id == 0:
            error: ProtocolError = ProtocolError(
                504, "unexpected method in connection state running", class_id=30, method_id=10
            )
        elif channel_id not in core.open_channel_ids:
            error = ProtocolError(504, "expected 'channel.open'", class_id=30, method_id=10)
        elif not core.channel_is_open(channel_id):
            return True  # the broker is closing this channel: discarded until close-ok
        elif not access_request_is_valid(payload):
            error = FrameError(f"cannot decode {binary_w(payload[4:])}", class_id=30, method_id=10)
        else:
            reply = ACCESS_REQUEST_OK
            core.send_raw(b"\x01" + frame[1:3] + len(reply).to_bytes(4, "big") + reply + b"\xce")
            return True
        self._on_protocol_error(error)
        return True

    def _silent_close(self) -> None:
        self.core.fail(ProtocolError(0, "", send_close=False))
        self._end = _End.SILENT_DELAY

    # -- handshake -----------------------------------------------------------------------

    def _on_login(self, event: sv.LoginRequested) -> None:
        capabilities = event.client_properties.get("capabilities")
        self.capabilities = dict(capabilities) if isinstance(capabilities, dict) else {}
        credentials = parse_credentials(event.mechanism, event.response)
        if credentials is None:
            logger.info("%s: malformed login or unknown mechanism %r", self.name, event.mechanism)
            self._silent_close()
            return
        user, password = credentials
        if not self.broker.model.authenticate(user, password):
            logger.info("%s: login refused for user %r", self.name, user)
            if self.capabilities.get("authentication_failure_close") is True:
                self.core.refuse_login(event.mechanism, send_close=True)
                self._after_server_close(self.broker.login_failure_delay)
            else:
                self._silent_close()
            return
        self.user = user
        self.core.accept_login()

    def _on_tune(self, event: sv.TuneAccepted) -> None:
        self._heartbeat_changed.set()

    def _on_open(self, event: sv.OpenRequested) -> None:
        assert self.user is not None
        try:
            connection = self.broker.model.open_connection(
                self.user, event.virtual_host, self.capabilities, self.core.client_properties
            )
        except AmqpError as error:
            logger.info("%s: %s", self.name, error.reply_text)
            self.core.close_connection(
                error.reply_code, error.reply_text, *_where(commands.Connection.Open)
            )
            self._after_server_close(self.broker.close_timeout)
            return
        connection.on_output = self.wake_writer
        self.connection = connection
        self.core.accept_open()
        self.broker._session_opened(self)
        logger.info("%s: user %r opened vhost %r", self.name, self.user, event.virtual_host)

    # -- channels and methods ------------------------------------------------------------

    def _on_channel_opened(self, event: sv.ChannelOpened) -> None:
        assert self.connection is not None
        self.connection.open_channel(event.channel_id)

    def _on_channel_closed(
        self, event: sv.ChannelClosedByClient | sv.ChannelCloseConfirmed
    ) -> None:
        if self.connection is not None:
            self.connection.close_channel(event.channel_id)
            self.broker.model.dispatch()

    def _on_method(self, event: sv.MethodReceived) -> None:
        method = event.method
        handler = HANDLERS.get(type(method), unimplemented)
        self._run(event.channel_id, method, lambda channel: handler(channel, method, event.payload))

    def _on_content(self, event: sv.ContentReceived) -> None:
        method = event.method
        if not isinstance(method, commands.Basic.Publish):
            self._run(event.channel_id, method, lambda channel: unimplemented(channel, method, b""))
            return
        try:
            properties = decode_properties(event.properties_payload)
        except ValueError:
            self._close_connection(541, "INTERNAL_ERROR", 0, 0)
            return
        message = Message(
            method.exchange, method.routing_key, properties, event.properties_payload, event.body
        )

        def publish(channel: Any) -> Reply:
            channel.basic_publish(
                method.exchange, method.routing_key, method.mandatory, method.immediate, message
            )
            return None

        self._run(event.channel_id, method, publish)

    def _run(self, channel_id: int, method: Frame, call: Callable[[Any], Reply]) -> None:
        """Apply the ordering contract: model call, its events, the reply, dispatch, deliveries."""
        connection = self.connection
        assert connection is not None
        channel = connection.channels[channel_id]
        try:
            reply = call(channel)
        except AmqpError as error:
            self._drain_outbox()
            self._refuse(channel_id, method, error)
            self.broker.model.dispatch()
            return
        except FieldTableError:
            self._close_connection(541, "INTERNAL_ERROR", 0, 0)
            return
        # RabbitMQ answers first and notifies cancelled consumers after (queue.delete).
        cancels = self._drain_outbox(keep=CancelNotify)
        if reply is not None:
            self._send_reply(channel_id, reply)
        for event in cancels:
            self._encode(event)
        self.broker.model.dispatch()
        self._drain_outbox()

    def _send_reply(self, channel_id: int, reply: Frame | tuple[Frame, Message]) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s: channel %s sending %r", self.name, channel_id, reply)
        if isinstance(reply, tuple):
            method, message = reply
            self.core.send_content(channel_id, method, message.raw_properties, message.body)
        else:
            self.core.send_method(channel_id, reply)

    def _refuse(self, channel_id: int, method: Frame, error: AmqpError) -> None:
        # A bare 541 is a crash inside RabbitMQ: it names no method.
        class_id, method_id = (0, 0) if error.reply_code == 541 else _where(type(method))
        logger.info(
            "%s: channel %s: %s %s", self.name, channel_id, error.reply_code, error.reply_text
        )
        if error.is_connection_error:
            self._close_connection(error.reply_code, error.reply_text, class_id, method_id)
            return
        assert self.connection is not None
        self.connection.close_channel(channel_id)
        self.core.close_channel(channel_id, error.reply_code, error.reply_text, class_id, method_id)

    # -- closing -------------------------------------------------------------------------

    def _close_connection(
        self, reply_code: int, reply_text: str, class_id: int, method_id: int
    ) -> None:
        self._drain_outbox()
        self.core.close_connection(reply_code, reply_text, class_id, method_id)
        self._release_model()
        self._after_server_close(self.broker.close_timeout)
        self.wake_writer()

    def _after_server_close(self, timeout: float) -> None:
        """The broker sent connection.close: wait for close-ok, at most *timeout* seconds."""
        self._release_model()
        self._start_close_timer(timeout)

    def _start_close_timer(self, timeout: float) -> None:
        if self._close_timer_started or self._task_group is None:
            return
        self._close_timer_started = True

        async def close_later() -> None:
            await anyio.sleep(timeout)
            logger.info("%s: no close-ok or TCP close in %ss, closing", self.name, timeout)
            self.abort()

        self._task_group.start_soon(close_later)

    def _on_client_close(self, event: sv.ConnectionClosedByClient) -> None:
        logger.info(
            "%s: closed by the client (%s %s)", self.name, event.reply_code, event.reply_text
        )
        self._release_model()
        # Like RabbitMQ: close-ok, then wait for the client to close TCP.
        self._start_close_timer(self.broker.close_timeout)

    def _on_close_confirmed(self, event: sv.ConnectionCloseConfirmed) -> None:
        self._end = _End.FLUSH_THEN_CLOSE

    def _on_header_refused(self, event: sv.ProtocolHeaderRefused) -> None:
        logger.info("%s: refused protocol header %r", self.name, event.header)
        self._end = _End.FLUSH_THEN_CLOSE

    def _release_model(self) -> None:
        connection = self.connection
        if connection is None or connection.closed:
            return
        connection.on_output = None
        connection.close()
        connection.outbox.clear()
        self.broker.model.dispatch()

    # -- output --------------------------------------------------------------------------

    def _drain_outbox(self, keep: type[Any] | None = None) -> list[Event]:
        """Encode the model's queued events; return (without encoding) those of type *keep*."""
        connection = self.connection
        kept: list[Event] = []
        if connection is None or not connection.outbox:
            return kept
        outbox = connection.outbox
        if self.core.state is not sv.ServerState.OPEN:
            outbox.clear()
            return kept
        while outbox:
            event = outbox.popleft()
            if keep is not None and isinstance(event, keep):
                kept.append(event)
            else:
                self._encode(event)
        return kept

    def _encode(self, event: Event) -> None:
        if self.core.channel_is_open(event.channel_id):
            encode_event(self.core, event)

    # -- blocking (resource alarm) -------------------------------------------------------

    def _block(self, rest: list[tuple[int, bytes, bool]]) -> None:
        """A publish arrived during an alarm: stop reading, as RabbitMQ does."""
        self._held.extend(rest)
        self.reading_blocked = True
        self._unblocked = anyio.Event()
        reason = self.broker.blocked_reason
        if not self._blocked_sent and self.capabilities.get("connection.blocked") is True:
            self._blocked_sent = True
            self.core.send_method(0, make_method(commands.Connection.Blocked, reason=reason))
        logger.info("%s: blocked (%s)", self.name, reason)

    def unblock(self) -> None:
        """The alarm cleared: send connection.unblocked if blocked was sent, read again."""
        if self._blocked_sent:
            self._blocked_sent = False
            if self.core.state is sv.ServerState.OPEN:
                self.core.send_method(0, commands.Connection.Unblocked())
                self.wake_writer()
        if self.reading_blocked:
            self.reading_blocked = False
            self._unblocked.set()


def _where(method_class: type[Frame]) -> tuple[int, int]:
    return method_class.index >> 16, method_class.index & 0xFFFF
