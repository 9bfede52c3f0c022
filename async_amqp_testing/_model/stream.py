"""A stream as a 0-9-1 client sees it on a single RabbitMQ 3.10 node.

A stream is an append-only log (observed on RabbitMQ 3.10.8, see NOTES.md):
consumers read it from an offset (``x-stream-offset``: ``first``, ``last``,
``next`` (the default), a number, a timestamp or an interval such as ``10m``)
and every delivery carries its offset in an ``x-stream-offset`` header (``l``,
headers sorted by key, other properties kept). Acks only free prefetch: the
messages stay, so another consumer replays them. Consuming needs a
per-consumer prefetch (406) and manual acks (540); basic.get, queue.purge,
nack and reject are connection errors 540, basic.recover crashes the channel
process (541). declare-ok counts no messages. Retention (``x-max-age``,
``x-max-length-bytes``) drops whole segments on RabbitMQ, which tests never
fill, so the fake keeps everything.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from typing import Any

from .errors import internal_error, not_implemented, precondition_failed
from .fieldtable import BINARY_TAGS, Table
from .message import Message, RawProperties
from .queue import Queue
from .queueitems import Consumer, PublishOutcome, QueuedMessage
from .queuetypes import QueueType, long_value, parse_interval_ms, with_sorted_header

__all__ = ["StreamQueue"]


class StreamQueue(Queue):
    """A stream (``x-queue-type: stream``)."""

    queue_type = QueueType.STREAM
    runs_after_cancel = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._log: list[QueuedMessage] = []
        self._times: list[float] = []  # wall-clock seconds, one per offset
        self._cursors: dict[int, int] = {}  # id(consumer) -> next offset

    @property
    def message_count(self) -> int:
        """RabbitMQ's declare-ok counts no messages for a stream."""
        return 0

    def ready(self) -> Iterator[QueuedMessage]:
        """The whole log, oldest first (what inspection lists for a stream)."""
        return iter(self._log)

    def publish(
        self,
        message: Message,
        routing_keys: tuple[str, ...],
        now: float,
        properties: RawProperties | None = None,
    ) -> PublishOutcome:
        """Append to the log and feed consumers waiting at the end."""
        offset = len(self._log)
        stored = with_sorted_header(message, b"x-stream-offset", long_value(offset), properties)
        self._log.append(QueuedMessage(stored, routing_keys, offset, 0, None))
        self._times.append(self.vhost.broker.system_time())
        self.run(now)
        return PublishOutcome.ACCEPTED

    def requeue(self, items: list[QueuedMessage], now: float, *, explicit: bool = False) -> None:
        """Unacked stream deliveries are simply forgotten: the log keeps them."""
        self.unacked_count -= len(items)

    def keep_messages(self, keep: Callable[[QueuedMessage], bool], now: float) -> int:
        """A restart keeps the whole log (a stream stores every message durably)."""
        self.last_used = now
        return 0

    def purge(self) -> int:
        """Deleting a stream drops its log."""
        self._log.clear()
        self._times.clear()
        return 0

    # ---- consuming --------------------------------------------------------

    def consumer_priority(
        self, arguments: Table, *, no_ack: bool, prefetch_count: int, global_prefetch: int
    ) -> int:
        """Validate a stream consumer: no priority, manual acks, a per-consumer prefetch.

        :raises AmqpError: 406 x-priority or no prefetch, 540 no-ack, 541 bad offset.
        """
        if "x-priority" in arguments:
            raise precondition_failed(
                f"invalid arg 'x-priority' for {self.what} of queue type {self.queue_type.module}"
            )
        if no_ack:
            raise not_implemented(
                f"automatic acknowledgement not supported by stream queues {self.what}"
            )
        if not prefetch_count:
            raise precondition_failed(f"consumer prefetch count is not set for '{self.what}'")
        self._start_offset(arguments)
        return 0

    def _start_offset(self, arguments: Table) -> int:
        spec = arguments.get("x-stream-offset")
        end = len(self._log)
        if spec is None:
            return end
        if spec.tag == "T":
            return bisect.bisect_left(self._times, float(spec.value))
        if spec.is_integer:
            # An offset past the end waits for that offset (observed), it is not "next".
            return max(int(spec.value), 0)
        if spec.tag not in BINARY_TAGS:
            raise not_implemented(f"x-stream-offset of type {spec.type_name}")
        text = bytes(spec.value)
        named = {b"first": 0, b"last": max(end - 1, 0), b"next": end}
        if text in named:
            return named[text]
        interval = parse_interval_ms(text)
        if interval is None:
            raise internal_error()
        since = self.vhost.broker.system_time() - interval / 1000.0
        return bisect.bisect_left(self._times, since)

    def add_consumer(self, consumer: Consumer) -> None:
        """Register a consumer at its starting offset."""
        self._cursors[id(consumer)] = self._start_offset(consumer.arguments)
        super().add_consumer(consumer)

    def remove_consumer(self, consumer: Consumer, now: float) -> None:
        """Forget a consumer and its position."""
        self._cursors.pop(id(consumer), None)
        super().remove_consumer(consumer, now)

    def run(self, now: float) -> None:
        """Hand every consumer the log entries past its position, as prefetch allows."""
        if self.deleted:
            return
        for consumer in list(self.consumers):
            key = id(consumer)
            while self._cursors[key] < len(self._log):
                if not consumer.channel.consumer_has_capacity(consumer):
                    break
                item = self._log[self._cursors[key]]
                self._cursors[key] += 1
                consumer.unacked += 1
                self.unacked_count += 1
                consumer.channel.deliver(consumer, self, item)

    # ---- refused operations -----------------------------------------------

    def _unsupported(self, operation: str) -> None:
        raise not_implemented(f"{operation} not supported by stream queues {self.what}")

    def check_get(self) -> None:
        """basic.get: 540. :raises AmqpError: always."""
        self._unsupported("basic.get")

    def check_purge(self) -> None:
        """queue.purge: 540. :raises AmqpError: always."""
        self._unsupported("queue.purge")

    def check_reject(self) -> None:
        """basic.nack / basic.reject: 540. :raises AmqpError: always."""
        self._unsupported("basic.nack and basic.reject")

    def check_recover(self) -> None:
        """basic.recover: RabbitMQ's channel crashes, 541. :raises AmqpError: always."""
        raise internal_error()
