"""async_amqp_testing: an AMQP 0-9-1 broker in Python that behaves like RabbitMQ 3.10.

It speaks the real wire protocol, so any client (async_amqp, pika, aio-pika,
aiormq, kombu) can be tested against it without a RabbitMQ server. Use it as
the pytest fixture ``fake_broker`` (installed with the package), as an object
(:class:`FakeBroker`, ``async with FakeBroker().serve() as broker``) or as a
command (``python -m async_amqp_testing``). :mod:`async_amqp_testing.raw` is a
byte-level client for testing how a broker answers protocol violations.
Over TLS: the fixtures ``fake_broker_tls`` and ``fake_broker_mtls``, and
``FakeBroker(certificates=TLSCertificates())`` (:mod:`async_amqp_testing.tls`).

The public names load lazily (PEP 562), so the broker model
(:mod:`async_amqp_testing._model`) can be imported without anyio.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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

_LAZY: dict[str, str] = {
    "BlockingFakeBroker": "._blocking",
    "Binding": "._broker",
    "ConnectionRef": "._broker",
    "FakeBroker": "._broker",
    **dict.fromkeys(
        (
            "BindingInfo",
            "ChannelInfo",
            "ConnectionInfo",
            "ConsumerInfo",
            "ExchangeInfo",
            "MessageInfo",
            "QueueInfo",
            "UnackedInfo",
            "VhostInfo",
        ),
        "._model.snapshots",
    ),
    "TLSCertificates": ".tls",
    "TLSFiles": ".tls",
}

if not TYPE_CHECKING:  # hidden from mypy, so a misspelt name stays a type error

    def __getattr__(name: str) -> object:
        """Import the submodule that defines public *name* on first access (PEP 562)."""
        try:
            module_name = _LAZY[name]
        except KeyError:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(module_name, __name__), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    """The module's names, the lazily loaded public ones included."""
    return sorted(set(globals()) | set(__all__))


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
