"""What a connection does with what its tasks learn, without awaiting anything.

:class:`ConnectionEvents` owns the connection's open channels. The reader hands it
each core event: connection events are handled here, channel events go to the
channel's :meth:`~._channel_core.ChannelCore.handle_event`. The end of the stream is
read for what it means (a refused login, a TLS alert, a lost connection); and a fatal
error, from any task, fails every waiter, consumer and channel once.
:class:`~._connection.AmqpProtocol` owns one, with the stream, the tasks and the
lifetime.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import anyio

from . import exceptions
from ._core import events as ev
from ._core.client import ClientConnection, ConnectionState
from ._opening import end_of_stream_error
from ._port import ChannelEndpoint, ConnectionPort
from ._tls import tls_error_from
from ._waiter import Waiter

logger = logging.getLogger("async_amqp")

_AWAITING_OPEN = (
    ConnectionState.AWAIT_START,
    ConnectionState.AWAIT_TUNE,
    ConnectionState.AWAIT_OPEN_OK,
)


class ConnectionEvents:
    """The reader's event handlers, the open channels, the meaning of end-of-stream."""

    def __init__(
        self,
        port: ConnectionPort,
        *,
        host: str,
        port_number: int,
        virtualhost: str,
        stop_block: Callable[[], None],
    ) -> None:
        self._port = port
        self._core: ClientConnection = port.core
        self._host = host
        self._port_number = port_number
        self._virtualhost = virtualhost
        self._stop_block = stop_block
        self._channels: dict[int, ChannelEndpoint] = {}
        #: resolved with the connection once connection.open-ok arrived
        self.opened = Waiter()
        #: True once the client started closing the connection
        self.closed_by_client = False
        self.dispatch: dict[type[ev.Event], Callable[[Any], None]] = {
            ev.ReplyArrived: self._on_reply,
            ev.MessageDelivered: self._deliver,
            ev.MessageReturned: self._to_channel,
            ev.PublishesSettled: self._to_channel,
            ev.ConsumerCancelled: self._on_consumer_cancelled,
            ev.ChannelFlow: self._to_channel,
            ev.ChannelClosed: self._on_channel_closed,
            ev.ConnectionOpened: self._on_opened,
            ev.ConnectionClosed: self._on_connection_closed,
            ev.ConnectionBlocked: self._on_blocked,
            ev.ConnectionUnblocked: self._on_unblocked,
        }

    # -- channels ------------------------------------------------------------------------

    def add_channel(self, channel: ChannelEndpoint) -> None:
        """Route the events of *channel*'s id to it from now on."""
        self._channels[channel.channel_id] = channel

    def close_channels(self) -> None:
        """Send channel.close on every open channel (the client closes the connection)."""
        self.closed_by_client = True
        for channel in list(self._channels.values()):
            channel.request_close()

    # -- fatal errors (from any task) -------------------------------------------------

    def end(self, error: BaseException, *, clean: bool, keep_output: bool = False) -> None:
        """Fail every waiter, consumer and channel with *error* (once).

        :param keep_output: the stream still works: the writer sends what is queued
            (our connection.close, or the close-ok that answers the broker's) before
            it stops, instead of dropping it
        """
        if not self._port.fail(error):
            return
        if clean:
            logger.info("connection to %s:%s closed: %s", self._host, self._port_number, error)
        if not keep_output:
            self._core.connection_lost()
        close_waiter = self._core.close_waiter
        if close_waiter is not None:
            close_waiter.set_result(None)  # nothing will answer our close any more
        self.opened.set_error(error)
        for closed in self._core.drain_channels():
            channel = self._channels.get(closed.channel_id)
            for slot in closed.pending:
                if slot.waiter is not None:
                    slot.waiter.set_error(error)
            for token in closed.unconfirmed:
                if token is not None:
                    token.set_error(error)
            if channel is not None:
                channel.connection_ended(error, clean)
        for channel in list(self._channels.values()):
            channel.connection_ended(error, clean)
        self._channels.clear()
        self._port.release_waiters()

    def die(self, error: BaseException, *, keep_output: bool = False) -> None:
        """A fatal error: record it, fail everything, and stop the ``async with`` block.

        The block's exit stops the connection's tasks once the writer is done.
        """
        if self._port.failure is None:
            logger.info(
                "connection to %s:%s ended: %s: %s",
                self._host,
                self._port_number,
                type(error).__name__,
                error,
            )
        self.end(error, clean=False, keep_output=keep_output)
        self._stop_block()

    # -- end of stream (the reader) -----------------------------------------------------

    def tls_refusal(self, error: BaseException) -> exceptions.TLSError | None:
        """A TLS alert before the connection opened: the broker refused our certificate."""
        if self._core.state not in _AWAITING_OPEN:
            return None
        return tls_error_from(error)

    def on_eof(self, error: BaseException) -> None:
        """The stream ended (or broke) under the reader: say why, as the right error."""
        state = self._core.state
        if self._port.failure is not None:
            return
        tls_error = self.tls_refusal(error)
        if tls_error is not None:
            self.die(tls_error)
            return
        if state is ConnectionState.CLOSED and self.closed_by_client:
            self.end(
                exceptions.ConnectionClosedError(0, "connection closed by the client"), clean=True
            )
            return
        self.die(
            end_of_stream_error(
                state,
                error,
                clean_cut=isinstance(error, anyio.EndOfStream) and not self._core.mid_frame,
                login=self._core.login,
                login_method=self._core.login_method,
                virtualhost=self._virtualhost,
                address=f"{self._host}:{self._port_number}",
            )
        )

    # -- event dispatch (runs in the reader, never awaits) --------------------------

    def _deliver(self, event: ev.MessageDelivered) -> None:
        channel = self._channels.get(event.channel_id)
        if channel is not None:
            channel.deliver(event)

    def _to_channel(self, event: Any) -> None:
        channel = self._channels.get(event.channel_id)
        if channel is not None:
            channel.handle_event(event)

    def _on_opened(self, event: ev.ConnectionOpened) -> None:
        core = self._core
        logger.info(
            "connected to %s:%s, vhost %r (channel_max=%s, frame_max=%s, heartbeat=%ss)",
            self._host,
            self._port_number,
            self._virtualhost,
            core.channel_max,
            core.frame_max,
            core.heartbeat_interval,
        )
        self.opened.set_result(None)

    def _on_reply(self, event: ev.ReplyArrived) -> None:
        channel = self._channels.get(event.channel_id)
        if channel is not None:
            channel.handle_event(event)
        elif event.slot.waiter is not None:
            event.slot.waiter.set_result(event)

    def _on_consumer_cancelled(self, event: ev.ConsumerCancelled) -> None:
        logger.info(
            "the broker cancelled consumer %r on channel %s (its queue was deleted?)",
            event.consumer_tag,
            event.channel_id,
        )
        self._to_channel(event)

    def _on_channel_closed(self, event: ev.ChannelClosed) -> None:
        if event.by_server:
            logger.info(
                "channel %s closed by the broker: %s %s",
                event.channel_id,
                event.reply_code,
                event.reply_text,
            )
        else:
            logger.debug("channel %s closed", event.channel_id)
        channel = self._channels.pop(event.channel_id, None)
        if channel is not None:
            channel.handle_event(event)

    def _on_connection_closed(self, event: ev.ConnectionClosed) -> None:
        if not event.by_server:
            if self._core.close_waiter is not None:
                self._core.close_waiter.set_result(None)
            return
        during_login = not self.opened.done
        error = exceptions.connection_error(
            event.reply_code,
            event.reply_text,
            event.class_id,
            event.method_id,
            during_login=during_login,
        )
        # the core queued close-ok: the writer sends it before the socket is closed
        self.die(error, keep_output=True)

    def _on_blocked(self, event: ev.ConnectionBlocked) -> None:
        logger.info("the broker blocked publishing: %s", event.reason or "no reason given")
        self._port.block(event.reason or "blocked")

    def _on_unblocked(self, event: ev.ConnectionUnblocked) -> None:
        logger.info("the broker unblocked publishing")
        self._port.unblock()
