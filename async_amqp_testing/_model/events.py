"""Asynchronous server-to-client events the model queues on a connection.

Everything the broker sends without being asked (deliveries, returns,
publisher confirms, consumer cancellations) is appended, in the order
RabbitMQ would send it, to the owning `ConnectionModel.outbox`; the wire side
drains the outbox and turns each event into frames.
"""

from __future__ import annotations

from dataclasses import dataclass

from .message import Message

__all__ = ["CancelNotify", "Deliver", "Event", "PublisherAck", "PublisherNack", "Return"]


@dataclass(slots=True)
class Deliver:
    """basic.deliver plus content."""

    channel_id: int
    consumer_tag: str
    delivery_tag: int
    redelivered: bool
    exchange: str
    routing_key: str
    message: Message


@dataclass(slots=True)
class Return:
    """basic.return plus content (an unroutable mandatory publish)."""

    channel_id: int
    reply_code: int
    reply_text: str
    exchange: str
    routing_key: str
    message: Message


@dataclass(slots=True)
class PublisherAck:
    """basic.ack from the server in confirm mode."""

    channel_id: int
    delivery_tag: int
    multiple: bool


@dataclass(slots=True)
class PublisherNack:
    """basic.nack from the server in confirm mode (reject-publish overflow)."""

    channel_id: int
    delivery_tag: int
    multiple: bool


@dataclass(slots=True)
class CancelNotify:
    """Server-sent basic.cancel (only for clients announcing consumer_cancel_notify)."""

    channel_id: int
    consumer_tag: str


Event = Deliver | Return | PublisherAck | PublisherNack | CancelNotify
