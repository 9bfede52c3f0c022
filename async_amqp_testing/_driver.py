"""The broker's per-connection driver: what a connection says, decided without I/O.

A :class:`ConnectionDriver` owns one connection's server core and broker-model
connection. It is fed one-frame pieces of received bytes and, without any
I/O, makes the decisions RabbitMQ makes: the handshake (credentials, vhost),
the ordering contract of each method (model call, the events it produced,
the reply, dispatch, deliveries), channel and connection errors, how the
connection ends, and resource-alarm blocking. It is built from what it needs,
not from the broker facade: a :class:`~._settings.ConnectionSettings`, the
:class:`~._model.BrokerModel`, a :class:`DriverHost` (the alarm state and the
connection-opened event) and a :class:`Transport` for what needs time or the
socket (waking the writer, closing now or later), which the anyio
:class:`~._socketloop.SocketSession` provides.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pamqp import commands
from pamqp.base import Frame

from async_amqp._core import server as sv
from async_amqp._core.codes import ReplyCode, method_ids
from async_amqp._core.errors import ClosePolicy, ProtocolError
from async_amqp._core.server_events import Received
from async_amqp._core.wire import make_method

from ._framelog import describe_event, describe_reply
from ._handlers import HANDLERS, Reply, unimplemented
from ._handshake import HandshakeSteps
from ._model import BrokerModel, ConnectionModel, Message
from ._model.errors import AmqpError
from ._model.fieldtable import FieldTableError
from ._ports import DriverHost, End, Transport
from ._publishing import BARE_INTERNAL_ERROR, PublishSteps
from ._settings import ConnectionSettings
from ._tls_accept import TLSPeer

__all__ = ["ConnectionDriver"]


logger = logging.getLogger("async_amqp_testing")


#: States in which RabbitMQ answers errors with a silent close after a delay (before
#: tune-ok); from "opening" on, it sends connection.close.
_SILENT_STATES = frozenset(
    {
        sv.ServerState.AWAIT_HEADER,
        sv.ServerState.AWAIT_START_OK,
        sv.ServerState.AWAIT_LOGIN_DECISION,
        sv.ServerState.AWAIT_TUNE_OK,
    }
)


class ConnectionDriver(PublishSteps, HandshakeSteps):
    """The protocol side of one broker connection.

    :param settings: the connection's settings (tuning, mechanisms, timeouts)
    :param model: the broker model the connection works on
    :param host: the broker's alarm state and connection events
    :param transport: the session doing the I/O
    :param name: ``connection N (peer)`` for logs
    :param tls_peer: what the TLS handshake established (``None``: a plain TCP connection)
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        model: BrokerModel,
        host: DriverHost,
        transport: Transport,
        name: str,
        tls_peer: TLSPeer | None = None,
    ) -> None:
        self.settings = settings
        self.model = model
        self.host = host
        self.transport = transport
        self.name = name
        self.tls_peer = tls_peer
        # Like RabbitMQ: EXTERNAL is offered on TLS connections only.
        self.mechanisms = [
            mechanism
            for mechanism in settings.auth_mechanisms
            if mechanism != "EXTERNAL" or tls_peer is not None
        ]
        self.core = sv.ServerConnection(
            server_properties=settings.server_properties,
            mechanisms=" ".join(self.mechanisms),
            channel_max=settings.channel_max,
            frame_max=settings.frame_max,
            heartbeat=settings.heartbeat,
        )
        self.connection: ConnectionModel | None = None
        self.user: str | None = None
        self.capabilities: dict[str, Any] = {}
        self.end: End | None = None
        self.aborted = False
        self.reading_blocked = False
        self._blocked_sent = False
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

    # -- input ---------------------------------------------------------------------------

    def receive_data(self, data: Received, now: float) -> None:
        """Take bytes as received and act on every event they complete.

        Call it with ``b""`` after :meth:`unblock` to read what the alarm held back.
        Publishes read in a row are handled one by one, but their deliveries are
        dispatched (and the outbox encoded) once, before the next other event and at
        the end; the model's clock is read once per call.

        :param data: bytes as received (any size, cut anywhere), or a receive arena's
            bytes so far (see :meth:`~async_amqp._core.server_input.ServerInput.receive_data`)
        :param now: the current time, for the heartbeat clock
        """
        if self.end is not None or self.aborted:
            return
        core = self.core
        core.receive_data(data, now)
        model = self.model
        model.hold_clock()
        try:
            self._read_events(core)
        finally:
            model.release_clock()

    @property
    def has_held_input(self) -> bool:
        """True while received bytes wait (reading stopped for the resource alarm)."""
        return self.core.has_unread_data

    def _read_events(self, core: sv.ServerConnection) -> None:
        host = self.host
        dispatch = self._dispatch
        on_publish = self._on_publish
        on_ack = self._on_ack
        published = False  # publishes or acks whose deliveries are not dispatched yet
        debug = logger.isEnabledFor(logging.DEBUG)
        while self.end is None and not self.aborted:
            if published and not core.next_frame_is_quiet():
                # The next frame may make the core reply itself: deliveries first.
                published = False
                self._after_publishes()
            # What earlier frames caused goes out before anything the next one causes.
            connection = self.connection
            if connection is not None and connection.outbox:
                self.drain_outbox()
            core.pause_after_content = host.blocked_reason is not None
            try:
                event = core.next_event()
            except ProtocolError as error:
                core.discard_unread()
                if published:
                    self._after_publishes()
                self._on_protocol_error(error)
                return
            if event is sv.NEED_DATA:
                break
            if event is sv.PAUSED:
                if published:
                    published = False
                    self._after_publishes()
                self._block()
                break
            if debug:
                logger.debug("%s: received %s", self.name, describe_event(event))
            if isinstance(event, sv.PublishReceived):
                published = on_publish(event)
                continue
            if isinstance(event, sv.MethodReceived) and type(event.method) is commands.Basic.Ack:
                published = on_ack(event)
                continue
            if published:
                published = False
                self._after_publishes()
            dispatch[type(event)](event)
        if published:
            self._after_publishes()

    def _on_protocol_error(self, error: ProtocolError) -> None:
        logger.info("%s: protocol error: %s", self.name, error.reply_text)
        if error.policy is ClosePolicy.DROP_NOW:
            self.core.fail(error)
            self.abort()
        elif self.core.state in _SILENT_STATES:
            self._silent_close()
        else:
            self.drain_outbox()
            self.core.fail(error)
            if error.policy is ClosePolicy.CLOSE_THEN_DROP:
                # RabbitMQ sends the close, reads nothing more and closes after its grace
                # period, close-ok or not.
                self.release_model()
                self.end = End.SILENT_DELAY
            else:
                self._after_server_close(self.settings.close_timeout)

    def _silent_close(self) -> None:
        self.core.fail(ProtocolError(0, "", send_close=False))
        self.end = End.SILENT_DELAY

    def _opened(self) -> None:
        self.host.connection_opened(self)

    # -- channels and methods ------------------------------------------------------------

    def _on_channel_opened(self, event: sv.ChannelOpened) -> None:
        assert self.connection is not None
        self.connection.open_channel(event.channel_id)

    def _on_channel_closed(
        self, event: sv.ChannelClosedByClient | sv.ChannelCloseConfirmed
    ) -> None:
        if self.connection is not None:
            self.connection.close_channel(event.channel_id)
            self.model.dispatch()

    def _on_method(self, event: sv.MethodReceived) -> None:
        method = event.method
        handler = HANDLERS.get(type(method), unimplemented)
        self._run(event.channel_id, method, lambda channel: handler(channel, method, event.payload))

    def _run(self, channel_id: int, method: Frame, call: Callable[[Any], Reply]) -> None:
        """Apply the ordering contract: model call, its events, the reply, dispatch, deliveries."""
        connection = self.connection
        assert connection is not None
        channel = connection.channels[channel_id]
        try:
            reply = call(channel)
        except AmqpError as error:
            self.drain_outbox()
            self._refuse(channel_id, method, error)
            self.model.dispatch()
            return
        except FieldTableError:
            self._close_connection(*BARE_INTERNAL_ERROR)
            return
        self.drain_outbox()
        if reply is not None:
            self._send_reply(channel_id, reply)
        self.model.dispatch()
        self.drain_outbox()

    def _send_reply(self, channel_id: int, reply: Frame | tuple[Frame, Message]) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s: channel %s sending %s", self.name, channel_id, describe_reply(reply))
        if isinstance(reply, tuple):
            method, message = reply
            self.core.send_content(channel_id, method, message.raw_properties, message.body)
        else:
            self.core.send_method(channel_id, reply)

    def _refuse(self, channel_id: int, method: Frame, error: AmqpError) -> None:
        # A bare 541 is a crash inside RabbitMQ: it names no method.
        bare = error.reply_code == ReplyCode.INTERNAL_ERROR
        class_id, method_id = (0, 0) if bare else method_ids(method)
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

    def server_close(self, reply_code: int, reply_text: str) -> None:
        """Send connection.close (e.g. 320 CONNECTION_FORCED) and wait for close-ok.

        :param reply_code: the reply code
        :param reply_text: the full reply text
        """
        if self.aborted:
            return
        if self.core.state is sv.ServerState.OPEN:
            self._close_connection(reply_code, reply_text, 0, 0)
        elif self.core.state not in (sv.ServerState.CLOSING, sv.ServerState.CLOSED):
            self.abort()

    def abort(self) -> None:
        """Stop processing input and close the socket now."""
        self.aborted = True
        self.transport.abort()

    def _close_connection(
        self, reply_code: int, reply_text: str, class_id: int, method_id: int
    ) -> None:
        self.drain_outbox()
        self.core.close_connection(reply_code, reply_text, class_id, method_id)
        self._after_server_close(self.settings.close_timeout)
        self.transport.wake_writer()

    def _after_server_close(self, timeout: float) -> None:
        """The broker sent connection.close: wait for close-ok, at most *timeout* seconds."""
        self.release_model()
        self.transport.close_after(timeout)

    def _on_client_close(self, event: sv.ConnectionClosedByClient) -> None:
        logger.info(
            "%s: closed by the client (%s %s)", self.name, event.reply_code, event.reply_text
        )
        self.release_model()
        # Like RabbitMQ: close-ok, then wait for the client to close TCP.
        self.transport.close_after(self.settings.close_timeout)

    def _on_close_confirmed(self, event: sv.ConnectionCloseConfirmed) -> None:
        self.end = End.FLUSH_THEN_CLOSE

    def _on_header_refused(self, event: sv.ProtocolHeaderRefused) -> None:
        logger.info("%s: refused protocol header %r", self.name, event.header)
        self.end = End.FLUSH_THEN_CLOSE

    def release_model(self) -> None:
        """Close the model's connection once (requeues, exclusive queues), deliver the rest."""
        connection = self.connection
        if connection is None or connection.closed:
            return
        connection.on_output = None
        connection.close()
        connection.outbox.clear()
        self.model.dispatch()

    # -- blocking (resource alarm) -------------------------------------------------------

    def _block(self) -> None:
        """A publish arrived during an alarm: stop reading, as RabbitMQ does."""
        self.reading_blocked = True
        reason = self.host.blocked_reason
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
                self.transport.wake_writer()
        if self.reading_blocked:
            self.reading_blocked = False
            self.core.resume_reading()
            self.transport.resume_reading()
