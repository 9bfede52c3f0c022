"""How a connection reacts to what its tasks learn, without awaiting anything.

The reader turns bytes into core events and hands each to an ``_on_*`` method
here, which wakes waiters, fills buffers and calls the channel's callbacks; the
end of the stream is read for what it means (a refused login, a TLS alert, a
lost connection); and a fatal error, from any task, fails every waiter, consumer
and channel once. :class:`~._connection.AmqpProtocol` derives from this and
owns the stream, the tasks, the lifetime and the public API.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc

from . import exceptions
from ._core import events as ev
from ._core.client import ClientConnection, ConnectionState
from ._opening import end_of_stream_error
from ._tls import tls_error_from
from ._waiter import Waiter

if TYPE_CHECKING:
    from ._channel import Channel

logger = logging.getLogger("async_amqp")


class _ConnectionEvents:
    """The reader's event handlers, the meaning of end-of-stream, and fatal errors."""

    # Set by AmqpProtocol.__init__.
    host: str
    port: int
    virtualhost: str
    blocked_reason: str | None
    _core: ClientConnection
    _channels: dict[int, Channel]
    _task_group: anyio.abc.TaskGroup | None
    _fatal: BaseException | None
    _closed_by_client: bool
    _opened: Waiter
    _unblocked: anyio.Event
    _send_wanted: anyio.Event
    _drained: anyio.Event

    # -- fatal errors (from any task) -------------------------------------------------

    def _end(self, error: BaseException, *, clean: bool) -> None:
        """Fail every waiter, consumer and channel with *error* (once)."""
        if self._fatal is not None:
            return
        if clean:
            logger.info("connection to %s:%s closed: %s", self.host, self.port, error)
        self._fatal = error
        self._core.connection_lost()
        self._opened.set_error(error)
        for closed in self._core.drain_channels():
            channel = self._channels.get(closed.channel_id)
            for slot in closed.pending:
                if slot.waiter is not None:
                    slot.waiter.set_error(error)
            for token in closed.unconfirmed:
                if token is not None:
                    token.set_error(error)
            if channel is not None:
                channel._ended(error, clean=clean)
        for channel in list(self._channels.values()):
            channel._ended(error, clean=clean)
        self._channels.clear()
        self._unblocked.set()
        self._send_wanted.set()
        self._drained.set()

    def _die(self, error: BaseException) -> None:
        """A fatal error: record it, fail everything, and stop the connection's tasks."""
        if self._fatal is None:
            logger.info(
                "connection to %s:%s ended: %s: %s",
                self.host,
                self.port,
                type(error).__name__,
                error,
            )
        self._end(error, clean=False)
        if self._task_group is not None:
            self._task_group.cancel_scope.cancel()

    # -- end of stream (the reader) -----------------------------------------------------

    def _tls_refusal(self, error: BaseException) -> exceptions.TLSError | None:
        """A TLS alert before the connection opened: the broker refused our certificate."""
        if self._core.state not in (
            ConnectionState.AWAIT_START,
            ConnectionState.AWAIT_TUNE,
            ConnectionState.AWAIT_OPEN_OK,
        ):
            return None
        return tls_error_from(error)

    def _on_eof(self, error: BaseException) -> None:
        state = self._core.state
        if self._fatal is not None:
            return
        tls_error = self._tls_refusal(error)
        if tls_error is not None:
            self._die(tls_error)
            return
        if state is ConnectionState.CLOSED and self._closed_by_client:
            self._end(
                exceptions.ConnectionClosedError(0, "connection closed by the client"), clean=True
            )
            return
        self._die(
            end_of_stream_error(
                state,
                error,
                clean_cut=isinstance(error, anyio.EndOfStream) and not self._core.mid_frame,
                login=self._core.login,
                login_method=self._core.login_method,
                virtualhost=self.virtualhost,
                address=f"{self.host}:{self.port}",
            )
        )

    # -- event dispatch (runs in the reader, never awaits) --------------------------

    @property
    def _dispatch(self) -> dict[type[ev.Event], Callable[[Any], None]]:
        return {
            ev.ReplyArrived: self._on_reply,
            ev.MessageDelivered: self._on_delivered,
            ev.MessageReturned: self._on_returned,
            ev.PublishesSettled: self._on_settled,
            ev.ConsumerCancelled: self._on_consumer_cancelled,
            ev.ChannelFlow: self._on_flow,
            ev.ChannelClosed: self._on_channel_closed,
            ev.ConnectionOpened: self._on_opened,
            ev.ConnectionClosed: self._on_connection_closed,
            ev.ConnectionBlocked: self._on_blocked,
            ev.ConnectionUnblocked: self._on_unblocked,
        }

    def _on_opened(self, event: ev.ConnectionOpened) -> None:
        core = self._core
        logger.info(
            "connected to %s:%s, vhost %r (channel_max=%s, frame_max=%s, heartbeat=%ss)",
            self.host,
            self.port,
            self.virtualhost,
            core.channel_max,
            core.frame_max,
            core.heartbeat_interval,
        )
        self._opened.set_result(self)

    def _on_reply(self, event: ev.ReplyArrived) -> None:
        channel = self._channels.get(event.channel_id)
        slot = event.slot
        if channel is not None:
            channel._on_reply(slot, event)
        elif slot.waiter is not None:
            slot.waiter.set_result(event)

    def _on_delivered(self, event: ev.MessageDelivered) -> None:
        channel = self._channels.get(event.channel_id)
        if channel is not None:
            channel._on_delivered(event)

    def _on_returned(self, event: ev.MessageReturned) -> None:
        channel = self._channels.get(event.channel_id)
        if channel is not None:
            channel._on_returned(event)

    def _on_settled(self, event: ev.PublishesSettled) -> None:
        channel = self._channels.get(event.channel_id)
        if channel is not None:
            channel._on_settled(event)

    def _on_consumer_cancelled(self, event: ev.ConsumerCancelled) -> None:
        logger.info(
            "the broker cancelled consumer %r on channel %s (its queue was deleted?)",
            event.consumer_tag,
            event.channel_id,
        )
        channel = self._channels.get(event.channel_id)
        if channel is not None:
            channel._on_consumer_cancelled(event.consumer_tag)

    def _on_flow(self, event: ev.ChannelFlow) -> None:
        channel = self._channels.get(event.channel_id)
        if channel is not None:
            channel._on_flow(event.active)

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
            channel._on_closed(event)

    def _on_connection_closed(self, event: ev.ConnectionClosed) -> None:
        if not event.by_server:
            if self._core.close_waiter is not None:
                self._core.close_waiter.set_result(None)
            return
        during_login = not self._opened.done
        error = exceptions.connection_error(
            event.reply_code,
            event.reply_text,
            event.class_id,
            event.method_id,
            during_login=during_login,
        )
        if self._closed_by_client:
            waiter = self._core.close_waiter
            if waiter is not None:
                waiter.set_result(None)
        self._die(error)

    def _on_blocked(self, event: ev.ConnectionBlocked) -> None:
        logger.info("the broker blocked publishing: %s", event.reason or "no reason given")
        self.blocked_reason = event.reason or "blocked"
        if self._unblocked.is_set():
            self._unblocked = anyio.Event()

    def _on_unblocked(self, event: ev.ConnectionUnblocked) -> None:
        logger.info("the broker unblocked publishing")
        self.blocked_reason = None
        self._unblocked.set()
