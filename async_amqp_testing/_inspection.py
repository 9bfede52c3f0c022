"""Read-only inspection of a broker's state, for tests' assertions.

:class:`BrokerInspection` is the part of :class:`~async_amqp_testing.FakeBroker`
that answers "what does the broker hold now": exchanges, bindings, queues
with their ready messages (body and decoded properties) and consumers,
unacked deliveries and connections. Everything returned is a frozen snapshot
copied out of the model, so holding one never changes, or is changed by, the
running broker.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._model import BrokerModel
from ._model.fieldtable import Table
from ._model.snapshots import (
    BindingInfo,
    ConnectionInfo,
    ExchangeInfo,
    MessageInfo,
    QueueInfo,
    UnackedInfo,
    VhostInfo,
)

__all__ = ["Binding", "BrokerInspection"]


@dataclass(frozen=True, slots=True)
class Binding:
    """A binding, as :meth:`FakeBroker.bindings` lists it."""

    source: str
    destination_kind: str
    destination: str
    routing_key: str
    arguments: Table


class BrokerInspection:
    """Snapshots of the broker model's state (mixed into :class:`FakeBroker`)."""

    model: BrokerModel

    def snapshot(self, vhost: str = "/") -> VhostInfo:
        """A read-only copy of a vhost: exchanges (the default one as ``''``) and queues.

        :param vhost: the vhost name
        :raises KeyError: for an unknown vhost
        """
        return self.model.snapshot(vhost)

    def exchanges(self, vhost: str = "/") -> dict[str, ExchangeInfo]:
        """Snapshots of every exchange of a vhost, by name.

        :param vhost: the vhost name
        """
        return self.snapshot(vhost).exchanges

    def exchange(self, name: str, vhost: str = "/") -> ExchangeInfo:
        """A snapshot of one exchange.

        :param name: the exchange name
        :param vhost: the vhost name
        :raises KeyError: when there is no such exchange
        """
        exchanges = self.exchanges(vhost)
        if name not in exchanges:
            raise KeyError(f"no exchange {name!r} in vhost {vhost!r}")
        return exchanges[name]

    def queues(self, vhost: str = "/") -> dict[str, QueueInfo]:
        """Snapshots of every queue of a vhost (messages, consumers), by name.

        :param vhost: the vhost name
        """
        return self.snapshot(vhost).queues

    def queue(self, name: str, vhost: str = "/") -> QueueInfo:
        """A snapshot of one queue, with its ready messages and consumers.

        :param name: the queue name
        :param vhost: the vhost name
        :raises KeyError: when there is no such queue
        """
        queues = self.queues(vhost)
        if name not in queues:
            raise KeyError(f"no queue {name!r} in vhost {vhost!r}")
        return queues[name]

    def messages(self, queue: str, vhost: str = "/") -> tuple[MessageInfo, ...]:
        """The ready messages of a queue, in delivery order (body and decoded properties).

        :param queue: the queue name
        :param vhost: the vhost name
        :raises KeyError: when there is no such queue
        """
        return self.queue(queue, vhost).messages

    def bindings(self, vhost: str = "/") -> list[Binding]:
        """Every binding of a vhost (queue and exchange destinations).

        :param vhost: the vhost name
        """
        return [
            _binding(source, info)
            for source, exchange in self.exchanges(vhost).items()
            for info in exchange.bindings
        ]

    def connections(self) -> list[ConnectionInfo]:
        """Snapshots of every open connection, with its channels and unacked deliveries."""
        return self.model.connection_snapshots()

    def unacked(self) -> list[UnackedInfo]:
        """Every delivery awaiting an ack, over all connections and channels."""
        return [
            delivery
            for connection in self.connections()
            for channel in connection.channels
            for delivery in channel.unacked
        ]


def _binding(source: str, info: BindingInfo) -> Binding:
    return Binding(
        source, info.destination_kind, info.destination, info.routing_key, info.arguments
    )
