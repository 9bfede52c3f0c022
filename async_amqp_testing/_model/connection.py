"""Per-connection broker state: channels, exclusive queues and the outbox.

The outbox is the single ordered stream of everything the server sends this
connection unasked. Returns, confirms and cancel notifications are appended
while a method runs ("emitted"); deliveries are staged and only appended
when `BrokerModel.dispatch` runs, so a consume-ok or commit-ok the wire side
writes first always precedes them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .channel import ChannelModel
from .events import Event

if TYPE_CHECKING:
    from .broker import BrokerModel
    from .queue import Queue
    from .vhost import Vhost

__all__ = ["ConnectionModel"]


class ConnectionModel:
    """One client connection, opened on a vhost by an authenticated user."""

    def __init__(
        self,
        broker: BrokerModel,
        connection_id: int,
        user: str,
        vhost: Vhost,
        capabilities: Mapping[str, Any],
        client_properties: Mapping[str, Any],
    ) -> None:
        self.broker = broker
        self.connection_id = connection_id
        self.user = user
        self.vhost = vhost
        self.capabilities = dict(capabilities)
        self.client_properties = dict(client_properties)
        self.channels: dict[int, ChannelModel] = {}
        self.exclusive_queues: dict[str, Queue] = {}
        self.outbox: deque[Event] = deque()
        self.on_output: Callable[[], None] | None = None
        self.closed = False
        self._staged: list[Event] = []

    @property
    def consumer_cancel_notify(self) -> bool:
        """Whether the client announced the consumer_cancel_notify capability."""
        return self.capabilities.get("consumer_cancel_notify") is True

    def open_channel(self, channel_id: int) -> ChannelModel:
        """Create the model of a newly opened channel (the wire side checks the id)."""
        channel = ChannelModel(self, channel_id)
        self.channels[channel_id] = channel
        return channel

    def close_channel(self, channel_id: int) -> None:
        """Forget a channel after close/close-ok, requeueing its unacked deliveries."""
        channel = self.channels.pop(channel_id, None)
        if channel is not None:
            channel.close()
        self._staged = [e for e in self._staged if e.channel_id != channel_id]

    def close(self) -> None:
        """Connection gone: close every channel, then delete its exclusive queues."""
        if self.closed:
            return
        for channel_id in list(self.channels):
            self.close_channel(channel_id)
        self.closed = True
        for name in list(self.exclusive_queues):
            # By name: a queue restarted after a crash is a new object (`Vhost.restart_queue`).
            queue = self.vhost.queues.get(name)
            if queue is not None and queue.exclusive_owner is self:
                self.vhost.delete_queue(queue)
        self.exclusive_queues.clear()
        self._staged.clear()
        self.broker.forget_connection(self)

    def emit(self, event: Event) -> None:
        """Append an event to the outbox now (returns, confirms, cancel notifications)."""
        if self.closed:
            return
        self.outbox.append(event)
        if self.on_output is not None:
            self.on_output()

    def stage(self, event: Event) -> None:
        """Hold a delivery until the next dispatch."""
        if not self.closed:
            self._staged.append(event)
            self.broker.mark_staged(self)

    def flush_staged(self) -> None:
        """Move staged deliveries to the outbox and wake the writer."""
        if not self._staged:
            return
        self.outbox.extend(self._staged)
        self._staged.clear()
        if self.on_output is not None:
            self.on_output()
