"""The shapes of the broker's replies that channel methods return (typed dicts).

A method called with ``no_wait=False`` (the default) returns one of these, and
type checkers know it: ``declared["queue"]`` is a ``str``. With ``no_wait=True``
the broker sends no reply and the method returns ``None``.
"""

from __future__ import annotations

from typing import TypedDict

__all__ = ["ExchangeDeclareResult", "MessageCountResult", "QueueDeclareResult"]


class QueueDeclareResult(TypedDict):
    """What :meth:`Channel.queue_declare` returns: the broker's queue.declare-ok."""

    #: the queue's name (the broker's choice when declared with ``''``)
    queue: str
    #: ready messages in the queue
    message_count: int
    #: consumers of the queue
    consumer_count: int


class ExchangeDeclareResult(TypedDict):
    """What :meth:`Channel.exchange_declare` returns."""

    #: the exchange's name
    exchange: str


class MessageCountResult(TypedDict):
    """What :meth:`Channel.queue_delete` and :meth:`Channel.queue_purge` return."""

    #: the ready messages deleted or purged
    message_count: int
