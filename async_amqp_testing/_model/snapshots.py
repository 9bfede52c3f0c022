"""Read-only snapshots of the broker state, for tests and the facade.

Snapshots are frozen dataclasses copied out of the live model, so a test can
hold on to one while the broker keeps running, and nothing outside the model
can mutate the model through them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pamqp.commands import Basic

from .fieldtable import Table

if TYPE_CHECKING:
    from .channel import ChannelModel
    from .connection import ConnectionModel
    from .exchange import Exchange
    from .queue import Queue
    from .vhost import Vhost

__all__ = [
    "BindingInfo",
    "ChannelInfo",
    "ConnectionInfo",
    "ConsumerInfo",
    "ExchangeInfo",
    "MessageInfo",
    "QueueInfo",
    "UnackedInfo",
    "VhostInfo",
]


@dataclass(frozen=True, slots=True)
class BindingInfo:
    """A binding whose source is the enclosing exchange."""

    destination_kind: str  # "queue" or "exchange"
    destination: str
    routing_key: str
    arguments: Table


@dataclass(frozen=True, slots=True)
class ExchangeInfo:
    """An exchange, its flags and its bindings."""

    name: str
    type: str
    durable: bool
    auto_delete: bool
    internal: bool
    arguments: Table
    bindings: tuple[BindingInfo, ...]


@dataclass(frozen=True, slots=True)
class MessageInfo:
    """A ready message."""

    exchange: str
    routing_key: str
    body: bytes
    properties: Basic.Properties
    raw_properties: bytes
    redelivered: bool


@dataclass(frozen=True, slots=True)
class ConsumerInfo:
    """A consumer of a queue."""

    consumer_tag: str
    connection_id: int
    channel_id: int
    no_ack: bool
    exclusive: bool
    priority: int
    prefetch_count: int


@dataclass(frozen=True, slots=True)
class QueueInfo:
    """A queue, its flags, its ready messages (delivery order) and consumers."""

    name: str
    durable: bool
    exclusive: bool
    auto_delete: bool
    arguments: Table
    messages: tuple[MessageInfo, ...]
    consumers: tuple[ConsumerInfo, ...]
    unacked_count: int

    @property
    def message_count(self) -> int:
        """Ready messages."""
        return len(self.messages)


@dataclass(frozen=True, slots=True)
class UnackedInfo:
    """A delivery awaiting ack on a channel."""

    delivery_tag: int
    queue: str
    consumer_tag: str | None
    body: bytes


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """An open channel."""

    channel_id: int
    mode: str
    prefetch_count: int
    global_prefetch_count: int
    consumer_tags: tuple[str, ...]
    unacked: tuple[UnackedInfo, ...]


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """An open connection."""

    connection_id: int
    user: str
    vhost: str
    client_properties: dict[str, object]
    channels: tuple[ChannelInfo, ...]


@dataclass(frozen=True, slots=True)
class VhostInfo:
    """A vhost's exchanges (built-ins included, the default one as ``""``) and queues."""

    name: str
    exchanges: dict[str, ExchangeInfo]
    queues: dict[str, QueueInfo]


def exchange_info(exchange: Exchange) -> ExchangeInfo:
    """Snapshot one exchange."""
    return ExchangeInfo(
        exchange.name,
        exchange.type.value,
        exchange.durable,
        exchange.auto_delete,
        exchange.internal,
        dict(exchange.arguments),
        tuple(
            BindingInfo(b.destination_kind.value, b.destination, b.routing_key, dict(b.arguments))
            for b in exchange.bindings
        ),
    )


def queue_info(queue: Queue) -> QueueInfo:
    """Snapshot one queue."""
    return QueueInfo(
        queue.name,
        queue.durable,
        queue.exclusive_owner is not None,
        queue.auto_delete,
        dict(queue.arguments),
        tuple(
            MessageInfo(
                item.message.exchange,
                item.message.routing_key,
                bytes(item.message.body),
                item.message.properties,
                item.message.raw_properties,
                item.redelivered,
            )
            for item in queue.ready()
        ),
        tuple(
            ConsumerInfo(
                c.consumer_tag,
                _connection_id(c.channel),
                _channel_id(c.channel),
                c.no_ack,
                c.exclusive,
                c.priority,
                c.prefetch_count,
            )
            for c in queue.consumers
        ),
        queue.unacked_count,
    )


def _connection_id(channel: object) -> int:
    connection = getattr(channel, "connection", None)
    return int(getattr(connection, "connection_id", 0))


def _channel_id(channel: object) -> int:
    return int(getattr(channel, "channel_id", 0))


def vhost_info(vhost: Vhost) -> VhostInfo:
    """Snapshot a vhost."""
    exchanges = {"": exchange_info(vhost.default_exchange)}
    exchanges.update({name: exchange_info(x) for name, x in vhost.exchanges.items()})
    return VhostInfo(vhost.name, exchanges, {n: queue_info(q) for n, q in vhost.queues.items()})


def channel_info(channel: ChannelModel) -> ChannelInfo:
    """Snapshot a channel."""
    return ChannelInfo(
        channel.channel_id,
        channel.mode.value,
        channel.prefetch_count,
        channel.global_prefetch_count,
        tuple(channel.consumers),
        tuple(
            UnackedInfo(
                u.delivery_tag,
                u.queue.name,
                None if u.consumer is None else u.consumer.consumer_tag,
                bytes(u.item.message.body),
            )
            for u in channel.unacked.values()
        ),
    )


def connection_info(connection: ConnectionModel) -> ConnectionInfo:
    """Snapshot a connection."""
    return ConnectionInfo(
        connection.connection_id,
        connection.user,
        connection.vhost.name,
        dict(connection.client_properties),
        tuple(channel_info(c) for c in connection.channels.values()),
    )
