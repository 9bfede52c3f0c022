"""Channels: every AMQP method a user calls, and the channel's share of the reader's work.

Requests go through the core synchronously (encode + register the reply
slot in one step), then the caller awaits its :class:`Waiter`. A caller
cancelled while waiting *abandons* the slot; the late reply is consumed and,
where it changed broker state on our behalf (a consumer started, a message
fetched, a channel opened), undone.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import uuid
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.lowlevel
from pamqp import commands
from pamqp.base import Frame

from . import exceptions
from ._consumer import Consumer, ConsumerCallback
from ._core import events as ev
from ._core.client import ConnectionUnavailable
from ._core.client_channel import ChannelState, ChannelUnavailable
from ._core.replies import PendingReply
from ._core.wire import make_method
from ._messages import (
    Envelope,
    Payload,
    Properties,
    ReturnEnvelope,
    encode_payload,
    encode_properties,
)
from ._waiter import Waiter

if TYPE_CHECKING:
    from ._connection import AmqpProtocol

logger = logging.getLogger("async_amqp")

Arguments = Mapping[str, Any] | None
Returned = tuple[bytes, ReturnEnvelope, Properties]
_R = TypeVar("_R", bound=Frame)


def _reply(event: ev.ReplyArrived, reply_class: type[_R]) -> _R:
    """Return the reply method, checked to be the kind the request expects."""
    method = event.method
    if not isinstance(method, reply_class):
        raise exceptions.SynchronizationError(
            f"expected {reply_class.name}, the broker answered {method.name}"
        )
    return method


def _no_arguments(method: str, arguments: Arguments) -> None:
    if arguments:
        raise ValueError(f"{method} takes no AMQP arguments (got {dict(arguments)!r})")


class _PublishWaiter(Waiter):
    """The outcome of one publish in confirm mode."""

    __slots__ = ("delivery_tag", "returned")

    def __init__(self) -> None:
        super().__init__()
        self.delivery_tag = 0
        self.returned: tuple[bytes, ReturnEnvelope, Properties] | None = None


class Channel:
    """An AMQP channel. Open one with ``async with conn.new_channel() as chan``.

    ``async for body, envelope, properties in chan`` yields the messages the
    broker returned (``mandatory=True`` publishes it could not route); they
    are buffered from the moment the channel opens.
    """

    def __init__(self, protocol: AmqpProtocol, channel_id: int, **_: Any) -> None:
        self.protocol = protocol
        self.channel_id = channel_id
        self._core = protocol._core
        self._consumers: dict[str, Consumer] = {}
        #: consumer tags we stopped listening to, with their no_ack flag
        self._orphans: dict[str, bool] = {}
        self._returns: deque[Returned] = deque()
        self._returns_wakeup: anyio.Event | None = None
        self._error: BaseException | None = None
        self._closed = False
        self._flow_active = anyio.Event()
        self._flow_active.set()

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

    # -- plumbing --------------------------------------------------------------------

    def _unavailable(self) -> BaseException:
        if self._error is not None:
            return self._error
        if self.protocol._fatal is not None:
            return self.protocol._fatal
        return exceptions.ChannelClosedError(0, f"channel {self.channel_id} is closed")

    async def _call(self, method: Frame, context: Any = None) -> ev.ReplyArrived:
        """Send a synchronous request and wait for its reply."""
        await anyio.lowlevel.checkpoint_if_cancelled()  # cancelled before sending: send nothing
        waiter = Waiter(context)
        try:
            slot = self._core.call(self.channel_id, method, waiter)
        except (ChannelUnavailable, ConnectionUnavailable):
            raise self._unavailable() from None
        self.protocol._wake_writer()
        try:
            reply: ev.ReplyArrived = await waiter.wait()
        except BaseException:
            self._core.abandon(self.channel_id, slot)
            self.protocol._wake_writer()
            raise
        return reply

    async def _send(self, method: Frame) -> None:
        """Send a method that gets no reply."""
        await anyio.lowlevel.checkpoint_if_cancelled()
        try:
            self._core.send(self.channel_id, method)
        except (ChannelUnavailable, ConnectionUnavailable):
            raise self._unavailable() from None
        self.protocol._wake_writer()
        await self.protocol._yield_sometimes()

    async def _request(self, method: Frame, no_wait: bool) -> ev.ReplyArrived | None:
        if no_wait:
            await self._send(method)
            return None
        return await self._call(method)

    # -- called by the connection's reader (synchronous) ----------------------------------

    def _on_reply(self, slot: PendingReply, event: ev.ReplyArrived) -> None:
        waiter = slot.waiter
        method = event.method
        if isinstance(method, commands.Basic.ConsumeOk) and waiter is not None:
            consumer: Consumer = waiter.context
            tag = method.consumer_tag or ""
            if slot.abandoned:
                self._orphan(tag, consumer.no_ack)
                self._core.send(self.channel_id, commands.Basic.Cancel(tag, nowait=True))
                return
            consumer.consumer_tag = tag
            self._consumers[tag] = consumer
        elif isinstance(method, commands.Basic.CancelOk):
            tag = method.consumer_tag or ""
            consumer_gone = self._consumers.pop(tag, None)
            if consumer_gone is not None:
                self._orphan(tag, consumer_gone.no_ack)
                consumer_gone._finish()
        if slot.abandoned:
            self._undo_abandoned(event, waiter.context if waiter is not None else None)
            return
        if waiter is not None:
            waiter.set_result(event)

    def _orphan(self, consumer_tag: str, no_ack: bool) -> None:
        self._orphans[consumer_tag] = no_ack

    def _undo_abandoned(self, event: ev.ReplyArrived, context: Any) -> None:
        method = event.method
        if isinstance(method, commands.Channel.OpenOk):
            self._request_close()
        elif isinstance(method, commands.Basic.GetOk):
            if context:  # no_ack: the broker already forgot the message
                logger.warning(
                    "a cancelled basic_get(no_ack=True) on channel %s lost a message from %r",
                    self.channel_id,
                    method.routing_key,
                )
            else:
                self._core.send(
                    self.channel_id, commands.Basic.Reject(method.delivery_tag, requeue=True)
                )

    def _on_delivered(self, event: ev.MessageDelivered) -> None:
        method = event.method
        tag = method.consumer_tag or ""
        consumer = self._consumers.get(tag)
        if consumer is None:
            no_ack = self._orphans.get(tag, True)
            if not no_ack:  # nobody listens any more: give it back to the queue now
                self._core.send(
                    self.channel_id, commands.Basic.Reject(method.delivery_tag, requeue=True)
                )
            return
        consumer._push(
            (
                event.body,
                Envelope(
                    tag,
                    method.delivery_tag or 0,
                    method.exchange or "",
                    method.routing_key or "",
                    bool(method.redelivered),
                ),
                Properties.decode(event.properties_payload),
            )
        )

    def _on_returned(self, event: ev.MessageReturned) -> None:
        method = event.method
        envelope = ReturnEnvelope(
            method.reply_code or 0,
            method.reply_text or "",
            method.exchange or "",
            method.routing_key or "",
        )
        item = (event.body, envelope, Properties.decode(event.properties_payload))
        token = event.token
        if token is not None:
            token.returned = item
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

    def _on_consumer_cancelled(self, consumer_tag: str) -> None:
        consumer = self._consumers.pop(consumer_tag, None)
        if consumer is not None:
            consumer.cancelled_by_server = True
            self._orphan(consumer_tag, consumer.no_ack)
            consumer._finish()

    def _on_flow(self, active: bool) -> None:
        if active:
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
        self._ended(error, clean=not event.by_server)

    def _ended(self, error: BaseException, *, clean: bool) -> None:
        """The channel is gone: end consumers and the returns iterator."""
        self._closed = True
        if not clean and self._error is None:
            self._error = error
        for consumer in self._consumers.values():
            consumer._finish(None if clean else error)
        self._consumers.clear()
        self._flow_active.set()
        wakeup = self._returns_wakeup
        if wakeup is not None:
            self._returns_wakeup = None
            wakeup.set()

    def _request_close(self) -> None:
        """Send channel.close without waiting (the connection is shutting down)."""
        try:
            self._core.call(
                self.channel_id, commands.Channel.Close(200, "Normal shutdown", 0, 0), None
            )
        except (ChannelUnavailable, ConnectionUnavailable):
            return
        self.protocol._wake_writer()

    # -- returned messages ----------------------------------------------------------------

    def __aiter__(self) -> Channel:
        return self

    async def __anext__(self) -> Returned:
        """Return the next message the broker returned to this channel.

        Ends when the channel is closed normally; raises the reason when the
        broker or a lost connection ended it.
        """
        returns = self._returns
        if returns:
            await self.protocol._checkpoint_sometimes()
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
            await self._call(commands.Channel.Close(reply_code, reply_text, 0, 0))
        except (exceptions.ChannelClosedError, exceptions.ConnectionClosedError):
            if not self._closed:
                raise

    async def flow(self, active: bool) -> dict[str, bool]:
        """Ask the broker to pause or resume deliveries (RabbitMQ refuses ``active=False``)."""
        reply = await self._call(commands.Channel.Flow(active))
        return {"active": bool(_reply(reply, commands.Channel.FlowOk).active)}

    # -- exchange class ---------------------------------------------------------------------

    async def exchange_declare(
        self,
        exchange_name: str,
        type_name: str = "direct",
        passive: bool = False,
        durable: bool = False,
        auto_delete: bool = False,
        no_wait: bool = False,
        arguments: Arguments = None,
        *,
        internal: bool = False,
    ) -> dict[str, str] | None:
        """Declare an exchange (or check that it exists with ``passive=True``).

        :returns: ``{'exchange': name}`` (None with ``no_wait``)
        :raises PreconditionFailedError: when it exists with other settings
        :raises NotFoundError: when passive and missing
        """
        reply = await self._request(
            make_method(
                commands.Exchange.Declare,
                exchange=exchange_name,
                exchange_type=type_name,
                passive=passive,
                durable=durable,
                auto_delete=auto_delete,
                internal=internal,
                nowait=no_wait,
                arguments=dict(arguments or {}),
            ),
            no_wait,
        )
        return None if reply is None else {"exchange": exchange_name}

    async def exchange_delete(
        self,
        exchange_name: str,
        if_unused: bool = False,
        no_wait: bool = False,
        arguments: Arguments = None,
    ) -> bool | None:
        """Delete an exchange (deleting a missing one succeeds).

        :param arguments: accepted for compatibility; exchange.delete carries none
        :raises ValueError: when *arguments* is not empty
        """
        _no_arguments("exchange_delete", arguments)
        reply = await self._request(
            make_method(
                commands.Exchange.Delete,
                exchange=exchange_name,
                if_unused=if_unused,
                nowait=no_wait,
            ),
            no_wait,
        )
        return None if reply is None else True

    async def exchange_bind(
        self,
        exchange_destination: str,
        exchange_source: str,
        routing_key: str = "",
        no_wait: bool = False,
        arguments: Arguments = None,
    ) -> bool | None:
        """Route messages from *exchange_source* to *exchange_destination*."""
        reply = await self._request(
            make_method(
                commands.Exchange.Bind,
                destination=exchange_destination,
                source=exchange_source,
                routing_key=routing_key,
                nowait=no_wait,
                arguments=dict(arguments or {}),
            ),
            no_wait,
        )
        return None if reply is None else True

    async def exchange_unbind(
        self,
        exchange_destination: str,
        exchange_source: str,
        routing_key: str = "",
        no_wait: bool = False,
        arguments: Arguments = None,
    ) -> bool | None:
        """Remove an exchange-to-exchange binding."""
        reply = await self._request(
            make_method(
                commands.Exchange.Unbind,
                destination=exchange_destination,
                source=exchange_source,
                routing_key=routing_key,
                nowait=no_wait,
                arguments=dict(arguments or {}),
            ),
            no_wait,
        )
        return None if reply is None else True

    # -- queue class --------------------------------------------------------------------------

    async def queue_declare(
        self,
        queue_name: str = "",
        passive: bool = False,
        durable: bool = False,
        exclusive: bool = False,
        auto_delete: bool = False,
        no_wait: bool = False,
        arguments: Arguments = None,
    ) -> dict[str, Any] | None:
        """Declare a queue; an empty name lets the broker choose one.

        :returns: ``{'queue', 'message_count', 'consumer_count'}`` (None with ``no_wait``)
        """
        reply = await self._request(
            make_method(
                commands.Queue.Declare,
                queue=queue_name or "",
                passive=passive,
                durable=durable,
                exclusive=exclusive,
                auto_delete=auto_delete,
                nowait=no_wait,
                arguments=dict(arguments or {}),
            ),
            no_wait,
        )
        if reply is None:
            return None
        method = _reply(reply, commands.Queue.DeclareOk)
        return {
            "queue": method.queue,
            "message_count": method.message_count,
            "consumer_count": method.consumer_count,
        }

    async def queue_delete(
        self,
        queue_name: str,
        if_unused: bool = False,
        if_empty: bool = False,
        no_wait: bool = False,
        arguments: Arguments = None,
    ) -> dict[str, int] | None:
        """Delete a queue; returns ``{'message_count': ready messages deleted}``.

        :param arguments: accepted for compatibility; queue.delete carries none
        :raises ValueError: when *arguments* is not empty
        """
        _no_arguments("queue_delete", arguments)
        reply = await self._request(
            make_method(
                commands.Queue.Delete,
                queue=queue_name,
                if_unused=if_unused,
                if_empty=if_empty,
                nowait=no_wait,
            ),
            no_wait,
        )
        if reply is None:
            return None
        return {"message_count": _reply(reply, commands.Queue.DeleteOk).message_count or 0}

    async def queue_bind(
        self,
        queue_name: str,
        exchange_name: str,
        routing_key: str = "",
        no_wait: bool = False,
        arguments: Arguments = None,
    ) -> bool | None:
        """Bind a queue to an exchange."""
        reply = await self._request(
            make_method(
                commands.Queue.Bind,
                queue=queue_name,
                exchange=exchange_name,
                routing_key=routing_key,
                nowait=no_wait,
                arguments=dict(arguments or {}),
            ),
            no_wait,
        )
        return None if reply is None else True

    async def queue_unbind(
        self,
        queue_name: str,
        exchange_name: str,
        routing_key: str = "",
        arguments: Arguments = None,
        no_wait: bool = False,
    ) -> bool:
        """Remove a queue binding (removing a missing one succeeds).

        AMQP's queue.unbind has no ``nowait`` bit, so this always waits for
        the broker; ``no_wait`` is accepted for compatibility.
        """
        await self._call(
            make_method(
                commands.Queue.Unbind,
                queue=queue_name,
                exchange=exchange_name,
                routing_key=routing_key,
                arguments=dict(arguments or {}),
            )
        )
        return True

    async def queue_purge(self, queue_name: str, no_wait: bool = False) -> dict[str, int] | None:
        """Remove a queue's ready messages; returns ``{'message_count': removed}``."""
        reply = await self._request(
            make_method(commands.Queue.Purge, queue=queue_name, nowait=no_wait), no_wait
        )
        if reply is None:
            return None
        return {"message_count": _reply(reply, commands.Queue.PurgeOk).message_count or 0}

    # -- basic class: publishing ------------------------------------------------------------------

    async def publish(
        self,
        payload: Payload,
        exchange_name: str,
        routing_key: str,
        properties: Properties | Mapping[str, Any] | None = None,
        mandatory: bool = False,
        immediate: bool = False,
    ) -> None:
        """Publish a message.

        In confirm mode (after :meth:`confirm_select`) this returns once the
        broker has accepted the message.

        :raises PublishFailedError: the broker nacked it (confirm mode)
        :raises MessageReturnedError: a mandatory message was unroutable (confirm mode)
        :raises ConnectionBlockedError: the broker blocked publishing past ``blocked_timeout``
        """
        await anyio.lowlevel.checkpoint_if_cancelled()
        body = encode_payload(payload)
        properties_payload = encode_properties(properties)
        protocol = self.protocol
        core = self._core
        if protocol.blocked_reason is not None or core.pending_bytes > 1 << 20:
            await protocol._wait_publishable(core.pending_bytes)
        if not self._flow_active.is_set():
            await self._flow_active.wait()
        if not core.confirming(self.channel_id):
            try:
                core.publish(
                    self.channel_id,
                    exchange_name,
                    routing_key,
                    mandatory,
                    immediate,
                    properties_payload,
                    body,
                )
            except (ChannelUnavailable, ConnectionUnavailable):
                raise self._unavailable() from None
            protocol._wake_writer()
            await protocol._yield_sometimes()
            return
        token = _PublishWaiter()
        try:
            delivery_tag = core.publish(
                self.channel_id,
                exchange_name,
                routing_key,
                mandatory,
                immediate,
                properties_payload,
                body,
                token,
            )
        except (ChannelUnavailable, ConnectionUnavailable):
            raise self._unavailable() from None
        token.delivery_tag = delivery_tag or 0
        protocol._wake_writer()
        await token.wait()

    basic_publish = publish

    async def confirm_select(self, *, no_wait: bool = False) -> bool | None:
        """Put the channel in confirm mode: from now on ``publish`` waits for the broker's ack."""
        reply = await self._request(commands.Confirm.Select(nowait=no_wait), no_wait)
        return None if reply is None else True

    # -- basic class: consuming --------------------------------------------------------------------

    def new_consumer(
        self,
        queue_name: str = "",
        consumer_tag: str = "",
        no_local: bool = False,
        no_ack: bool = False,
        exclusive: bool = False,
        no_wait: bool = False,
        arguments: Arguments = None,
    ) -> Consumer:
        """Return a consumer to use as ``async with ... as listener: async for ... in listener``."""
        return Consumer(
            self,
            queue_name=queue_name,
            consumer_tag=consumer_tag,
            no_local=no_local,
            no_ack=no_ack,
            exclusive=exclusive,
            no_wait=no_wait,
            arguments=dict(arguments or {}),
        )

    async def basic_consume(
        self,
        callback: ConsumerCallback,
        queue_name: str = "",
        consumer_tag: str = "",
        no_local: bool = False,
        no_ack: bool = False,
        exclusive: bool = False,
        no_wait: bool = False,
        arguments: Arguments = None,
    ) -> dict[str, str]:
        """Start a consumer that calls ``callback(channel, body, envelope, properties)``.

        The callback (sync or async) runs in its own task, never in the reader,
        one message at a time. An exception it raises ends the connection and
        is raised out of ``async with connect_amqp()``.

        :returns: ``{'consumer_tag': tag}``
        """
        consumer = Consumer(
            self,
            queue_name=queue_name,
            consumer_tag=consumer_tag,
            no_local=no_local,
            no_ack=no_ack,
            exclusive=exclusive,
            no_wait=no_wait,
            arguments=dict(arguments or {}),
            callback=callback,
        )
        await self._start_consumer(consumer)
        task_group = self.protocol._task_group
        assert task_group is not None
        task_group.start_soon(self.protocol._guard, lambda: self._run_callback(consumer))
        return {"consumer_tag": consumer.consumer_tag}

    async def _run_callback(self, consumer: Consumer) -> None:
        callback = consumer.callback
        assert callback is not None
        async for body, envelope, properties in consumer:
            result = callback(self, body, envelope, properties)
            if inspect.isawaitable(result):
                await result

    async def _start_consumer(self, consumer: Consumer) -> None:
        tag = consumer.consumer_tag
        if tag and (tag in self._consumers):
            raise exceptions.DuplicateConsumerTagError(tag)
        if consumer.no_wait and not tag:
            tag = consumer.consumer_tag = f"ctag{self.channel_id}.{uuid.uuid4().hex}"
        method = make_method(
            commands.Basic.Consume,
            queue=consumer.queue_name,
            consumer_tag=tag,
            no_local=consumer.no_local,
            no_ack=consumer.no_ack,
            exclusive=consumer.exclusive,
            nowait=consumer.no_wait,
            arguments=consumer.arguments or {},
        )
        if consumer.no_wait:
            self._consumers[tag] = consumer
            try:
                await self._send(method)
            except BaseException:
                self._consumers.pop(tag, None)
                raise
            return
        await self._call(method, context=consumer)

    async def _stop_consumer(self, consumer: Consumer) -> None:
        """Cancel *consumer* and give its unprocessed messages back to the queue."""
        with anyio.CancelScope(shield=True):
            tag = consumer.consumer_tag
            if self.is_open and self.protocol.is_open and tag in self._consumers:
                with contextlib.suppress(
                    exceptions.ChannelClosedError, exceptions.ConnectionClosedError
                ):
                    await self.basic_cancel(tag)
            consumer._finish()
            unprocessed = consumer._take_unprocessed()
            if consumer.no_ack or not unprocessed or not self.is_open:
                return
            for _body, envelope, _properties in unprocessed:
                try:
                    self._core.send(
                        self.channel_id, commands.Basic.Reject(envelope.delivery_tag, requeue=True)
                    )
                except (ChannelUnavailable, ConnectionUnavailable):
                    return
            self.protocol._wake_writer()

    async def basic_cancel(self, consumer_tag: str, no_wait: bool = False) -> dict[str, str]:
        """Stop a consumer; its iterator ends once it has yielded what was already delivered."""
        if no_wait:
            consumer = self._consumers.pop(consumer_tag, None)
            await self._send(commands.Basic.Cancel(consumer_tag, nowait=True))
            if consumer is not None:
                self._orphan(consumer_tag, consumer.no_ack)
                consumer._finish()
            return {"consumer_tag": consumer_tag}
        reply = await self._call(commands.Basic.Cancel(consumer_tag))
        return {"consumer_tag": _reply(reply, commands.Basic.CancelOk).consumer_tag or ""}

    async def basic_qos(
        self, prefetch_size: int = 0, prefetch_count: int = 0, connection_global: bool = False
    ) -> bool:
        """Limit unacknowledged deliveries per consumer (per channel: ``connection_global``)."""
        await self._call(commands.Basic.Qos(prefetch_size, prefetch_count, connection_global))
        return True

    async def basic_get(self, queue_name: str = "", no_ack: bool = False) -> dict[str, Any]:
        """Fetch one message.

        :raises EmptyQueueError: when the queue has no ready message
        """
        reply = await self._call(
            make_method(commands.Basic.Get, queue=queue_name, no_ack=no_ack), context=no_ack
        )
        if isinstance(reply.method, commands.Basic.GetEmpty):
            raise exceptions.EmptyQueueError(f"queue {queue_name!r} is empty")
        method = _reply(reply, commands.Basic.GetOk)
        return {
            "routing_key": method.routing_key,
            "redelivered": method.redelivered,
            "delivery_tag": method.delivery_tag,
            "exchange_name": method.exchange,
            "message_count": method.message_count,
            "message": reply.body,
            "properties": Properties.decode(reply.properties_payload),
        }

    # -- basic class: acknowledgements ---------------------------------------------------------

    async def basic_ack(self, delivery_tag: int, multiple: bool = False) -> None:
        """Acknowledge a delivery (``multiple``: and every earlier one)."""
        await anyio.lowlevel.checkpoint_if_cancelled()
        try:
            self._core.ack(self.channel_id, delivery_tag, multiple)
        except (ChannelUnavailable, ConnectionUnavailable):
            raise self._unavailable() from None
        self.protocol._wake_writer()
        await self.protocol._yield_sometimes()

    basic_client_ack = basic_ack

    async def basic_nack(
        self, delivery_tag: int, multiple: bool = False, requeue: bool = True
    ) -> None:
        """Reject one or (``multiple``) several deliveries, requeueing them by default."""
        await self._send(commands.Basic.Nack(delivery_tag, multiple, requeue))

    basic_client_nack = basic_nack

    async def basic_reject(self, delivery_tag: int, requeue: bool = False) -> None:
        """Reject a delivery; it is dropped (or dead-lettered) unless ``requeue``."""
        await self._send(commands.Basic.Reject(delivery_tag, requeue))

    async def basic_recover(self, requeue: bool = True) -> bool:
        """Redeliver every unacknowledged message of this channel."""
        await self._call(commands.Basic.Recover(requeue))
        return True

    async def basic_recover_async(self, requeue: bool = True) -> None:
        """Like :meth:`basic_recover` without waiting for the broker (deprecated method)."""
        await self._send(commands.Basic.RecoverAsync(requeue))

    # -- tx class -------------------------------------------------------------------------

    async def tx_select(self) -> bool:
        """Make the channel transactional."""
        await self._call(commands.Tx.Select())
        return True

    async def tx_commit(self) -> bool:
        """Commit the publishes and acks made since the last commit or rollback."""
        await self._call(commands.Tx.Commit())
        return True

    async def tx_rollback(self) -> bool:
        """Discard the publishes and acks made since the last commit or rollback."""
        await self._call(commands.Tx.Rollback())
        return True
