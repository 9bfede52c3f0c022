"""async_amqp_testing: an AMQP 0-9-1 broker in Python that behaves like RabbitMQ 3.10.

It speaks the real wire protocol, so any client (async_amqp, pika, aio-pika,
aiormq, kombu) can be tested against it without a RabbitMQ server. Use it as
the pytest fixture ``fake_broker`` (installed with the package), as an object
(:class:`FakeBroker`, ``async with FakeBroker().serve() as broker``) or as a
command (``python -m async_amqp_testing``). :mod:`async_amqp_testing.raw` is a
byte-level client for testing how a broker answers protocol violations.
"""

from ._blocking import BlockingFakeBroker
from ._broker import Binding, ConnectionRef, FakeBroker
from ._model.inspect import (
    BindingInfo,
    ChannelInfo,
    ConnectionInfo,
    ConsumerInfo,
    ExchangeInfo,
    MessageInfo,
    QueueInfo,
    UnackedInfo,
    VhostInfo,
)

__all__ = [
    "Binding",
    "BindingInfo",
    "BlockingFakeBroker",
    "ChannelInfo",
    "ConnectionInfo",
    "ConnectionRef",
    "ConsumerInfo",
    "ExchangeInfo",
    "FakeBroker",
    "MessageInfo",
    "QueueInfo",
    "UnackedInfo",
    "VhostInfo",
]
