"""Fault injection on a served broker: forced closes, drops, resource alarms, pauses.

What RabbitMQ's operators (and bad days) do to connections, as
:class:`FaultInjection` methods mixed into :class:`~._broker.FakeBroker`:
``connection.close`` from the server side, a socket dropped without a close,
a resource alarm (``connection.blocked``), a server-side ``basic.cancel``, and
outgoing frames held or delayed. The state they change lives in the broker's
:class:`~._runtime.BrokerRuntime`, where the sessions read it. Node faults
(restart, stop/start a node) are in :mod:`._nodes`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from ._model import BrokerModel
from ._runtime import FORCED_CLOSE_TEXT, BrokerRuntime, ConnectionRef

__all__ = ["FaultInjection"]

logger = logging.getLogger("async_amqp_testing")


class FaultInjection:
    """Server-side faults on connections and outgoing frames (mixed into FakeBroker)."""

    model: BrokerModel
    _runtime: BrokerRuntime

    def _after_change(self) -> None:
        """Dispatch and re-arm the timer after an out-of-band model change (FakeBroker's)."""
        raise NotImplementedError

    @property
    def reply_delay(self) -> float:
        """Seconds every batch of outgoing frames is held (fault injection; settable)."""
        return self._runtime.reply_delay

    @reply_delay.setter
    def reply_delay(self, seconds: float) -> None:
        self._runtime.reply_delay = seconds

    @property
    def blocked_reason(self) -> str | None:
        """The reason of the current resource alarm (:meth:`block`), or None."""
        return self._runtime.blocked_reason

    def close_connection(
        self,
        connection: ConnectionRef = None,
        reply_code: int = 320,
        reply_text: str = FORCED_CLOSE_TEXT,
    ) -> int:
        """Close connections from the server side with connection.close; return how many.

        :param connection: id, snapshot or ``connection_name`` (``None``: every connection)
        :param reply_code: the reply code (320 CONNECTION_FORCED by default)
        :param reply_text: the full reply text
        """
        drivers = self._runtime.select(connection)
        logger.info(
            "closing %s connection(s) from the broker side: %s %s",
            len(drivers),
            reply_code,
            reply_text,
        )
        for driver in drivers:
            driver.server_close(reply_code, reply_text)
        self._after_change()
        return len(drivers)

    def drop_connection(self, connection: ConnectionRef = None) -> int:
        """Close connections' sockets abruptly, with no AMQP close; return how many.

        :param connection: id, snapshot or ``connection_name`` (``None``: every connection)
        """
        drivers = self._runtime.select(connection)
        logger.info("dropping %s connection(s) without a close", len(drivers))
        for driver in drivers:
            driver.abort()
        return len(drivers)

    def block(self, reason: str = "low on memory") -> None:
        """Raise a resource alarm, as RabbitMQ does when memory or disk runs low.

        A connection that then publishes gets ``connection.blocked`` (when it announced
        the capability) and is no longer read from until :meth:`unblock`.

        :param reason: the reason sent in connection.blocked
        """
        logger.info("resource alarm raised: %s", reason)
        self._runtime.blocked_reason = reason

    def unblock(self) -> None:
        """Clear the resource alarm: blocked connections get ``connection.unblocked``."""
        if self._runtime.blocked_reason is not None:
            logger.info("resource alarm cleared")
        self._runtime.blocked_reason = None
        for session in list(self._runtime.sessions):
            session.unblock()

    def cancel_consumer(self, queue: str, consumer_tag: str | None = None, vhost: str = "/") -> int:
        """Cancel consumers from the server side (basic.cancel to clients that support it).

        :param queue: the queue consumed from
        :param consumer_tag: one consumer (``None``: every consumer of the queue)
        :param vhost: the vhost name
        :raises KeyError: for an unknown vhost
        """
        count = self.model.cancel_consumer(vhost, queue, consumer_tag)
        logger.info("cancelled %s consumer(s) of queue %r from the broker side", count, queue)
        self._after_change()
        return count

    def pause(self) -> None:
        """Hold every outgoing frame (replies, deliveries, heartbeats) until :meth:`resume`."""
        self._runtime.pause()

    def resume(self) -> None:
        """Send everything held since :meth:`pause`."""
        self._runtime.resume()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Hold outgoing frames for the duration of a ``with`` block."""
        self.pause()
        try:
            yield
        finally:
            self.resume()
