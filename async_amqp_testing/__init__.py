"""async_amqp_testing: an AMQP 0-9-1 broker in Python that behaves like RabbitMQ 3.10.

It speaks the real wire protocol, so any client (async_amqp, pika, aio-pika,
aiormq, kombu) can be tested against it without a RabbitMQ server. Use it as
the pytest fixture ``fake_broker`` (installed with the package), as an object
(:class:`FakeBroker`, ``async with FakeBroker().serve() as broker``) or as a
command (``python -m async_amqp_testing``). :mod:`async_amqp_testing.raw` is a
byte-level client for testing how a broker answers protocol violations.
Over TLS: the fixtures ``fake_broker_tls`` and ``fake_broker_mtls``, and
``FakeBroker(certificates=TLSCertificates())`` (:mod:`async_amqp_testing.tls`).
"""

from ._blocking import BlockingFakeBroker
from ._broker import Binding, ConnectionRef, FakeBroker
from ._model.snapshots import (
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
from .tls import TLSCertificates, TLSFiles

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
    "TLSCertificates",
    "TLSFiles",
    "UnackedInfo",
    "VhostInfo",
]
