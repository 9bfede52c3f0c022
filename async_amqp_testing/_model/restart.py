"""What survives a broker restart, as on RabbitMQ 3.10 (a pure model operation).

RabbitMQ keeps durable entities on disk and rebuilds everything else from
nothing when it boots. Observed on RabbitMQ 3.10.8 (a node of a local cluster
stopped with every node, then started again; see ``docs/testing.rst``):

* every connection is closed first, so unacknowledged deliveries go back to
  their queues at their original positions, marked redelivered; consumers and
  channels are gone, exclusive queues are deleted with their connection, and a
  durable auto-delete queue whose last consumer went with it is deleted too;
* durable exchanges and durable queues stay (also server-named ones), with
  their arguments; transient ones are gone;
* a binding stays when its source exchange and its destination are both
  durable; a durable auto-delete exchange that loses its other bindings this
  way is *not* deleted (the deletion is not a client's unbind);
* of the ready messages of a durable queue only persistent ones
  (``delivery_mode`` 2) stay, in order, keeping their redelivered flag;
* users, vhosts and permissions stay; the x-expires lease of a queue restarts.

Which ready messages stay is the queue type's rule (``survives_restart``): a classic
queue keeps its persistent ones, quorum queues and streams store every message
durably and keep them all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .exchange import Binding, DestinationKind

if TYPE_CHECKING:
    from .broker import BrokerModel
    from .vhost import Vhost

__all__ = ["restart_broker"]


def restart_broker(broker: BrokerModel) -> None:
    """Close every connection, then keep only what a restarted RabbitMQ would still hold.

    :param broker: the broker model to restart in place
    """
    for connection in list(broker.connections.values()):
        connection.close()
        connection.outbox.clear()
    now = broker.clock()
    for vhost in broker.vhosts.values():
        _restart_vhost(vhost, now)
    broker.dispatch()


def _binding_survives(vhost: Vhost, binding: Binding) -> bool:
    source = vhost.find_exchange(binding.source)
    if binding.destination_kind is DestinationKind.QUEUE:
        destination_durable = (queue := vhost.queues.get(binding.destination)) is not None and (
            queue.durable
        )
    else:
        exchange = vhost.find_exchange(binding.destination)
        destination_durable = exchange is not None and exchange.durable
    return source is not None and source.durable and destination_durable


def _restart_vhost(vhost: Vhost, now: float) -> None:
    # Bindings go first, without auto-deleting their sources, so that deleting the
    # transient entities below cascades into nothing.
    doomed = [
        binding
        for exchange in vhost.exchanges.values()
        for binding in exchange.bindings
        if not _binding_survives(vhost, binding)
    ]
    for binding in doomed:
        vhost.remove_binding(binding, auto_delete=False)
    for queue in [queue for queue in vhost.queues.values() if not queue.durable]:
        vhost.delete_queue(queue)
    for exchange in [exchange for exchange in vhost.exchanges.values() if not exchange.durable]:
        vhost.delete_exchange(exchange)
    for queue in vhost.queues.values():
        queue.keep_messages(queue.survives_restart, now)
