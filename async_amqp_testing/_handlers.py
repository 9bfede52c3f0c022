"""One small function per AMQP method the broker answers, and the encoding of model events.

A handler calls the broker model for one method and returns the synchronous
reply (or ``None`` for nowait variants and for methods without a reply); the
session sends it, in the order the ordering contract fixes. Errors are not
handled here: the model raises `AmqpError`, and the session turns it into
channel.close or connection.close with the method's class and method id.
Field-table arguments are decoded from the frame payload so each value keeps
its type tag (pamqp's decoding forgets it, and RabbitMQ's texts name it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from pamqp import commands
from pamqp.base import Frame

from async_amqp._core.methods import method_arguments
from async_amqp._core.server import ServerConnection
from async_amqp._core.wire import make_method

from ._model import (
    CancelNotify,
    ChannelModel,
    Deliver,
    Event,
    Message,
    PublisherAck,
    PublisherNack,
    Return,
)
from ._model.errors import AmqpError, ReplyCode

__all__ = ["HANDLERS", "Handler", "Reply", "encode_deliver", "encode_event", "typed_arguments"]

#: A synchronous reply: a method, or a method with content (basic.get-ok).
Reply = Frame | tuple[Frame, Message] | None
Handler = Callable[[ChannelModel, Any, bytes], Reply]


def typed_arguments(method: Frame, payload: bytes) -> Mapping[str, Any]:
    """The ``arguments`` table of *method*, decoded from its frame payload with type tags.

    Falls back to pamqp's decoding (types inferred) for a table the model cannot read.

    :param method: the decoded method
    :param payload: the method frame's payload (class id, method id, arguments)
    """
    try:
        table = method_arguments(payload) if payload else None
    except ValueError:  # FieldTableError included
        table = None
    if table is not None:
        return table
    arguments: Mapping[str, Any] = getattr(method, "arguments", None) or {}
    return arguments


# -- exchange ----------------------------------------------------------------------------


def exchange_declare(
    channel: ChannelModel, method: commands.Exchange.Declare, payload: bytes
) -> Reply:
    """exchange.declare → declare-ok."""
    channel.exchange_declare(
        method.exchange,
        method.exchange_type,
        passive=method.passive,
        durable=method.durable,
        auto_delete=method.auto_delete,
        internal=method.internal,
        arguments=typed_arguments(method, payload),
    )
    return None if method.nowait else commands.Exchange.DeclareOk()


def exchange_delete(
    channel: ChannelModel, method: commands.Exchange.Delete, payload: bytes
) -> Reply:
    """exchange.delete → delete-ok."""
    channel.exchange_delete(method.exchange, if_unused=method.if_unused)
    return None if method.nowait else commands.Exchange.DeleteOk()


def exchange_bind(channel: ChannelModel, method: commands.Exchange.Bind, payload: bytes) -> Reply:
    """exchange.bind → bind-ok."""
    channel.exchange_bind(
        method.destination, method.source, method.routing_key, typed_arguments(method, payload)
    )
    return None if method.nowait else commands.Exchange.BindOk()


def exchange_unbind(
    channel: ChannelModel, method: commands.Exchange.Unbind, payload: bytes
) -> Reply:
    """exchange.unbind → unbind-ok."""
    channel.exchange_unbind(
        method.destination, method.source, method.routing_key, typed_arguments(method, payload)
    )
    return None if method.nowait else commands.Exchange.UnbindOk()


# -- queue -------------------------------------------------------------------------------


def queue_declare(channel: ChannelModel, method: commands.Queue.Declare, payload: bytes) -> Reply:
    """queue.declare → declare-ok(queue, message_count, consumer_count)."""
    name, message_count, consumer_count = channel.queue_declare(
        method.queue,
        passive=method.passive,
        durable=method.durable,
        exclusive=method.exclusive,
        auto_delete=method.auto_delete,
        arguments=typed_arguments(method, payload),
    )
    if method.nowait:
        return None
    return make_method(
        commands.Queue.DeclareOk,
        queue=name,
        message_count=message_count,
        consumer_count=consumer_count,
    )


def queue_bind(channel: ChannelModel, method: commands.Queue.Bind, payload: bytes) -> Reply:
    """queue.bind → bind-ok."""
    channel.queue_bind(
        method.queue, method.exchange, method.routing_key, typed_arguments(method, payload)
    )
    return None if method.nowait else commands.Queue.BindOk()


def queue_unbind(channel: ChannelModel, method: commands.Queue.Unbind, payload: bytes) -> Reply:
    """queue.unbind → unbind-ok (it has no nowait)."""
    channel.queue_unbind(
        method.queue, method.exchange, method.routing_key, typed_arguments(method, payload)
    )
    return commands.Queue.UnbindOk()


def queue_purge(channel: ChannelModel, method: commands.Queue.Purge, payload: bytes) -> Reply:
    """queue.purge → purge-ok(message_count)."""
    count = channel.queue_purge(method.queue)
    return None if method.nowait else commands.Queue.PurgeOk(message_count=count)


def queue_delete(channel: ChannelModel, method: commands.Queue.Delete, payload: bytes) -> Reply:
    """queue.delete → delete-ok(message_count)."""
    count = channel.queue_delete(method.queue, if_unused=method.if_unused, if_empty=method.if_empty)
    return None if method.nowait else commands.Queue.DeleteOk(message_count=count)


# -- basic -------------------------------------------------------------------------------


def basic_qos(channel: ChannelModel, method: commands.Basic.Qos, payload: bytes) -> Reply:
    """basic.qos → qos-ok."""
    channel.basic_qos(method.prefetch_size, method.prefetch_count, method.global_)
    return commands.Basic.QosOk()


def basic_consume(channel: ChannelModel, method: commands.Basic.Consume, payload: bytes) -> Reply:
    """basic.consume → consume-ok(consumer_tag)."""
    consumer_tag = channel.basic_consume(
        method.queue,
        method.consumer_tag,
        no_local=method.no_local,
        no_ack=method.no_ack,
        exclusive=method.exclusive,
        arguments=typed_arguments(method, payload),
        nowait=method.nowait,
    )
    if method.nowait:
        return None
    return make_method(commands.Basic.ConsumeOk, consumer_tag=consumer_tag)


def basic_cancel(channel: ChannelModel, method: commands.Basic.Cancel, payload: bytes) -> Reply:
    """basic.cancel → cancel-ok(consumer_tag), also for unknown tags."""
    channel.basic_cancel(method.consumer_tag or "")
    if method.nowait:
        return None
    return make_method(commands.Basic.CancelOk, consumer_tag=method.consumer_tag)


def basic_get(channel: ChannelModel, method: commands.Basic.Get, payload: bytes) -> Reply:
    """basic.get → get-ok with content, or get-empty."""
    result = channel.basic_get(method.queue, no_ack=method.no_ack)
    if result is None:
        return commands.Basic.GetEmpty()
    get_ok = make_method(
        commands.Basic.GetOk,
        delivery_tag=result.delivery_tag,
        redelivered=result.redelivered,
        exchange=result.exchange,
        routing_key=result.routing_key,
        message_count=result.message_count,
    )
    return get_ok, result.message


def basic_ack(channel: ChannelModel, method: commands.Basic.Ack, payload: bytes) -> Reply:
    """basic.ack (no reply)."""
    channel.basic_ack(method.delivery_tag, multiple=method.multiple)
    return None


def basic_nack(channel: ChannelModel, method: commands.Basic.Nack, payload: bytes) -> Reply:
    """basic.nack (no reply)."""
    channel.basic_nack(method.delivery_tag, multiple=method.multiple, requeue=method.requeue)
    return None


def basic_reject(channel: ChannelModel, method: commands.Basic.Reject, payload: bytes) -> Reply:
    """basic.reject (no reply)."""
    channel.basic_reject(method.delivery_tag or 0, requeue=method.requeue)
    return None


def basic_recover(channel: ChannelModel, method: commands.Basic.Recover, payload: bytes) -> Reply:
    """basic.recover → recover-ok."""
    channel.basic_recover(requeue=method.requeue)
    return commands.Basic.RecoverOk()


def basic_recover_async(
    channel: ChannelModel, method: commands.Basic.RecoverAsync, payload: bytes
) -> Reply:
    """The deprecated basic.recover-async: like recover, without a reply."""
    channel.basic_recover(requeue=method.requeue)
    return None


# -- confirm, tx, flow ---------------------------------------------------------------------


def confirm_select(channel: ChannelModel, method: commands.Confirm.Select, payload: bytes) -> Reply:
    """confirm.select → select-ok."""
    channel.confirm_select()
    return None if method.nowait else commands.Confirm.SelectOk()


def tx_select(channel: ChannelModel, method: commands.Tx.Select, payload: bytes) -> Reply:
    """tx.select → select-ok."""
    channel.tx_select()
    return commands.Tx.SelectOk()


def tx_commit(channel: ChannelModel, method: commands.Tx.Commit, payload: bytes) -> Reply:
    """tx.commit → commit-ok (returns of the committed publishes come first)."""
    channel.tx_commit()
    return commands.Tx.CommitOk()


def tx_rollback(channel: ChannelModel, method: commands.Tx.Rollback, payload: bytes) -> Reply:
    """tx.rollback → rollback-ok."""
    channel.tx_rollback()
    return commands.Tx.RollbackOk()


def channel_flow(channel: ChannelModel, method: commands.Channel.Flow, payload: bytes) -> Reply:
    """channel.flow → flow-ok (active=false is refused by the model, as RabbitMQ does)."""
    return commands.Channel.FlowOk(active=channel.flow(bool(method.active)))


def unimplemented(channel: ChannelModel, method: Frame, payload: bytes) -> Reply:
    """Any method a client may not send (a reply method, a server-only method).

    :raises AmqpError: 503 COMMAND_INVALID, a connection error, as RabbitMQ answers
    """
    raise AmqpError(ReplyCode.COMMAND_INVALID, "COMMAND_INVALID - unimplemented method")


HANDLERS: Final[dict[type[Frame], Handler]] = {
    commands.Exchange.Declare: exchange_declare,
    commands.Exchange.Delete: exchange_delete,
    commands.Exchange.Bind: exchange_bind,
    commands.Exchange.Unbind: exchange_unbind,
    commands.Queue.Declare: queue_declare,
    commands.Queue.Bind: queue_bind,
    commands.Queue.Unbind: queue_unbind,
    commands.Queue.Purge: queue_purge,
    commands.Queue.Delete: queue_delete,
    commands.Basic.Qos: basic_qos,
    commands.Basic.Consume: basic_consume,
    commands.Basic.Cancel: basic_cancel,
    commands.Basic.Get: basic_get,
    commands.Basic.Ack: basic_ack,
    commands.Basic.Nack: basic_nack,
    commands.Basic.Reject: basic_reject,
    commands.Basic.Recover: basic_recover,
    commands.Basic.RecoverAsync: basic_recover_async,
    commands.Confirm.Select: confirm_select,
    commands.Tx.Select: tx_select,
    commands.Tx.Commit: tx_commit,
    commands.Tx.Rollback: tx_rollback,
    commands.Channel.Flow: channel_flow,
}


# -- events from the model ---------------------------------------------------------------


def encode_deliver(core: ServerConnection, event: Deliver) -> None:
    """Encode a delivery: basic.deliver, its header and body frames."""
    message = event.message
    core.send_deliver(
        event.channel_id,
        event.consumer_tag,
        event.delivery_tag,
        event.redelivered,
        event.exchange,
        event.routing_key,
        message.raw_properties,
        message.body,
    )


def _return(core: ServerConnection, event: Return) -> None:
    method = make_method(
        commands.Basic.Return,
        reply_code=event.reply_code,
        reply_text=event.reply_text,
        exchange=event.exchange,
        routing_key=event.routing_key,
    )
    core.send_content(event.channel_id, method, event.message.raw_properties, event.message.body)


def _ack(core: ServerConnection, event: PublisherAck) -> None:
    core.send_publisher_ack(event.channel_id, event.delivery_tag, event.multiple)


def _nack(core: ServerConnection, event: PublisherNack) -> None:
    # RabbitMQ leaves requeue at its default, true, in the nacks it sends.
    core.send_method(
        event.channel_id,
        commands.Basic.Nack(delivery_tag=event.delivery_tag, multiple=event.multiple, requeue=True),
    )


def _cancel(core: ServerConnection, event: CancelNotify) -> None:
    # RabbitMQ sets nowait on the cancel it sends: the client owes no cancel-ok.
    core.send_method(
        event.channel_id,
        make_method(commands.Basic.Cancel, consumer_tag=event.consumer_tag, nowait=True),
    )


_ENCODERS: Final[dict[type[Any], Callable[[ServerConnection, Any], None]]] = {
    Deliver: encode_deliver,
    Return: _return,
    PublisherAck: _ack,
    PublisherNack: _nack,
    CancelNotify: _cancel,
}


def encode_event(core: ServerConnection, event: Event) -> None:
    """Queue the frames of one model event on *core*.

    :param core: the connection's server core
    :param event: a Deliver, Return, PublisherAck, PublisherNack or CancelNotify
    """
    _ENCODERS[type(event)](core, event)
