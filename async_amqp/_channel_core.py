"""A channel's state and what the reader tells it; the base of :class:`~._channel.Channel`.

A channel talks to its connection only through a :class:`~._port.ChannelPort`. It owns
its request plumbing (:class:`~._requests.ChannelRequests`), its consumers
(:class:`~._consuming.ConsumerTable`), the messages the broker returned to it and its
flow state. The connection holds only the channel's :class:`~._port.ChannelEndpoint`:
through it the reader hands the channel its events (synchronously, never awaiting) and
the connection ends it. The AMQP methods users call are built on top of this in
:mod:`._exchange_methods`, :mod:`._queue_methods`, :mod:`._basic` and :mod:`._channel`.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Self

import anyio
import anyio.lowlevel
from pamqp import commands

from . import exceptions
from ._consuming import ConsumerTable
from ._core import events as ev
from ._core.client_channel import ChannelState
from ._messages import Properties, ReturnEnvelope
from ._port import ChannelEndpoint, ChannelPort
from ._requests import UNAVAILABLE, ChannelRequests, checked_reply

if TYPE_CHECKING:
    from ._connection import AmqpProtocol

logger = logging.getLogger("async_amqp")

Returned = tuple[bytes, ReturnEnvelope, Properties]


class ChannelCore:
    """A channel's state, its request plumbing, and what the reader tells it."""

    def __init__(
        self, protocol: AmqpProtocol, channel_id: int, *, port: ChannelPort, **_: Any
    ) -> None:
        #: the connection this channel belongs to
        self.protocol = protocol
        self.channel_id = channel_id
        #: what this channel uses of its connection
        self.port = port
        self._core = port.core
        self._requests = ChannelRequests(
            port, channel_id, unavailable=self._unavailable, undo=self._undo_abandoned
        )
        self._consumers = ConsumerTable(self._requests, channel_open=lambda: self.is_open)
        self._returns: deque[Returned] = deque()
        self._returns_wakeup: anyio.Event | None = None
        self._error: BaseException | None = None
        self._closed = False
        self._flow_active = anyio.Event()
        self._flow_active.set()
        self._handlers: dict[type[ev.Event], Callable[[Any], None]] = {
            ev.ReplyArrived: self._on_reply,
            ev.MessageDelivered: self._consumers.on_delivered,
            ev.MessageReturned: self._on_returned,
            ev.PublishesSettled: self._on_settled,
            ev.ConsumerCancelled: self._on_consumer_cancelled,
            ev.ChannelFlow: self._on_flow,
            ev.ChannelClosed: self._on_closed,
        }
        #: what the connection holds of this channel
        self.endpoint = ChannelEndpoint(
            channel_id,
            self._handle_event,
            self._consumers.on_delivered,
            self._connection_ended,
            self._requests.request_close,
            self._requests.give_up,
        )

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"<Channel {self.channel_id} {state}>"

    @property
    def is_open(self) -> bool:
        """True until the channel is closing or closed (by us, the broker, or the connection)."""
        return not self._closed and self._core.channel_state(self.channel_id) is ChannelState.OPEN

    @property
    def publisher_confirms(self) -> bool:
        """True once confirm mode is on: ``publish`` then waits for the broker's ack."""
        return self._core.confirming(self.channel_id)

    @property
    def close_reason(self) -> BaseException | None:
        """Why the channel ended, when the broker or a lost connection ended it."""
        return self._error

    def _unavailable(self) -> BaseException:
        if self._error is not None:
            return self._error
        if self.port.failure is not None:
            return self.port.failure
        return exceptions.ChannelClosedError(
            0,
            f"channel {self.channel_id} is closed: it was used after its "
            "'async with conn.new_channel()' block ended, or after close()",
        )

    # -- called by the connection (through the endpoint) ----------------------------------

    def _handle_event(self, event: ev.Event) -> None:
        self._handlers[type(event)](event)

    def _connection_ended(self, error: BaseException, clean: bool) -> None:
        """The channel is gone: end consumers and the returns iterator."""
        self._closed = True
        if not clean and self._error is None:
            self._error = error
        self._consumers.end(None if clean else error)
        self._flow_active.set()
        wakeup = self._returns_wakeup
        if wakeup is not None:
            self._returns_wakeup = None
            wakeup.set()

    # -- the reader's events (synchronous) ------------------------------------------------

    def _on_reply(self, event: ev.ReplyArrived) -> None:
        slot = event.slot
        waiter = slot.waiter
        method = event.method
        if isinstance(method, commands.Basic.ConsumeOk):
            if waiter is not None and not slot.abandoned:
                self._consumers.on_consume_ok(method.consumer_tag or "", waiter.context)
        elif isinstance(method, commands.Basic.CancelOk):
            self._consumers.on_cancel_ok(method.consumer_tag or "")
        if slot.abandoned:
            self._undo_abandoned(event, waiter.context if waiter is not None else None)
        elif waiter is not None:
            waiter.set_result(event)

    def _undo_abandoned(self, event: ev.ReplyArrived, context: Any) -> None:
        """Undo what a reply nobody will see did on the broker for us.

        A channel opened is closed, a consumer started is cancelled (what it was sent is
        requeued), a fetched message is rejected back to its queue. When the channel or
        the connection is already going away the broker does all this itself.
        """
        method = event.method
        try:
            if isinstance(method, commands.Channel.OpenOk):
                self._requests.request_close()
            elif isinstance(method, commands.Basic.ConsumeOk):
                self._consumers.drop(method.consumer_tag or "", context)
            elif isinstance(method, commands.Basic.GetOk):
                self._give_back(method, no_ack=bool(context))
        except UNAVAILABLE:
            return
        self.port.wake_writer()

    def _give_back(self, method: commands.Basic.GetOk, *, no_ack: bool) -> None:
        """Reject a fetched message nobody will see back to its queue."""
        if no_ack:  # the broker already forgot the message
            logger.warning(
                "a cancelled basic_get(no_ack=True) on channel %s lost a message from %r",
                self.channel_id,
                method.routing_key,
            )
            return
        self._core.send(self.channel_id, commands.Basic.Reject(method.delivery_tag, requeue=True))

    def _on_returned(self, event: ev.MessageReturned) -> None:
        method = event.method
        envelope = ReturnEnvelope(
            method.reply_code or 0,
            method.reply_text or "",
            method.exchange or "",
            method.routing_key or "",
        )
        item = (event.body, envelope, Properties(*event.properties))
        token = event.token
        if token is not None:
            token.note_returned(item)
        self._returns.append(item)
        wakeup = self._returns_wakeup
        if wakeup is not None:
            self._returns_wakeup = None
            wakeup.set()

    def _on_settled(self, event: ev.PublishesSettled) -> None:
        for token, _returned in event.settled:
            if token is None:
                continue
            if not event.ack:
                token.set_error(exceptions.PublishFailedError(token.delivery_tag))
            elif token.returned is not None:
                body, envelope, properties = token.returned
                token.set_error(
                    exceptions.MessageReturnedError(token.delivery_tag, envelope, body, properties)
                )
            else:
                token.set_result(None)

    def _on_consumer_cancelled(self, event: ev.ConsumerCancelled) -> None:
        self._consumers.on_cancelled_by_broker(event.consumer_tag)

    def _on_flow(self, event: ev.ChannelFlow) -> None:
        if event.active:
            self._flow_active.set()
        elif self._flow_active.is_set():
            self._flow_active = anyio.Event()

    def _on_closed(self, event: ev.ChannelClosed) -> None:
        if event.by_server:
            error: BaseException = exceptions.channel_error(
                event.reply_code, event.reply_text, event.class_id, event.method_id
            )
            self._error = error
        else:
            error = exceptions.ChannelClosedError(0, f"channel {self.channel_id} was closed")
        for slot in event.pending:
            if slot.waiter is None:
                continue
            if slot.request is commands.Channel.Close:
                slot.waiter.set_result(None)
            else:
                slot.waiter.set_error(error)
        for token in event.unconfirmed:
            if token is not None:
                token.set_error(error)
        self._connection_ended(error, clean=not event.by_server)

    # -- returned messages ----------------------------------------------------------------

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Returned:
        """Return the next message the broker returned to this channel.

        Ends when the channel is closed normally; raises the reason when the
        broker or a lost connection ended it.
        """
        returns = self._returns
        if returns:
            await self.port.checkpoint_sometimes()
        while not returns:
            if self._closed:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            wakeup = self._returns_wakeup = anyio.Event()
            await wakeup.wait()
        return returns.popleft()

    # -- channel class ----------------------------------------------------------------------

    async def close(self, reply_code: int = 200, reply_text: str = "Normal shutdown") -> None:
        """Close the channel (a no-op when it is already closed or closing)."""
        if not self.is_open:
            await anyio.lowlevel.checkpoint()
            return
        try:
            await self._requests.call(commands.Channel.Close(reply_code, reply_text, 0, 0))
        except (exceptions.ChannelClosedError, exceptions.ConnectionClosedError):
            if not self._closed:
                raise

    async def flow(self, active: bool) -> dict[str, bool]:
        """Ask the broker to pause or resume deliveries (RabbitMQ refuses ``active=False``)."""
        reply = await self._requests.call(commands.Channel.Flow(active))
        return {"active": bool(checked_reply(reply, commands.Channel.FlowOk).active)}
