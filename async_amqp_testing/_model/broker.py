"""The broker as a whole: users, vhosts, connections, dispatch and timers.

`BrokerModel` is the entry point the wire side holds. It authenticates,
opens connections, flushes staged deliveries into connection outboxes
(`dispatch`), runs message-TTL and queue-expiry timers (`run_timers`, driven
by `next_deadline`), and offers read-only snapshots and fault-injection hooks
to tests. Time only comes from the injected clocks.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .channel import ChannelModel
from .connection import ConnectionModel
from .declare import random_name
from .errors import not_allowed
from .publish import REPLY_PREFIX
from .restart import restart_broker
from .snapshots import ConnectionInfo, VhostInfo, connection_info, vhost_info
from .vhost import Vhost

__all__ = ["BrokerModel"]


class BrokerModel:
    """The whole broker state."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        users: Mapping[str, str] | None = None,
        vhosts: Iterable[str] = ("/",),
        permissions: Mapping[str, Iterable[str]] | None = None,
        *,
        system_time: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        """:param clock: monotonic seconds, for TTLs and queue expiry.
        :param permissions: user -> vhosts they may open; by default every user may open
            every vhost.
        :param system_time: wall-clock seconds, only for ``x-death``'s ``time`` field.
        :param rng: source of server-generated names (seed it for reproducible names).
        """
        self.clock = clock
        self._held_now: float | None = None
        self.system_time = system_time
        self.rng = rng if rng is not None else random.Random()
        self.users: dict[str, str] = dict(users) if users is not None else {"guest": "guest"}
        self.vhosts: dict[str, Vhost] = {}
        for name in vhosts:
            self.add_vhost(name)
        self.permissions: dict[str, set[str]] | None = (
            None if permissions is None else {u: set(v) for u, v in permissions.items()}
        )
        self.connections: dict[int, ConnectionModel] = {}
        self._next_connection_id = 1
        self._staged: dict[int, ConnectionModel] = {}
        self._reply_channels: dict[str, ChannelModel] = {}

    # ---- administration ---------------------------------------------------

    def add_vhost(self, name: str) -> None:
        """Create a vhost (with the built-in exchanges) if it does not exist."""
        if name not in self.vhosts:
            self.vhosts[name] = Vhost(self, name)

    def empty_vhosts(self) -> None:
        """Delete every queue (cancelling its consumers) and every non-``amq.*`` exchange."""
        for vhost in self.vhosts.values():
            for queue in list(vhost.queues.values()):
                vhost.delete_queue(queue)
            for exchange in list(vhost.exchanges.values()):
                if not exchange.name.startswith("amq."):
                    vhost.delete_exchange(exchange)
        self.dispatch()

    def add_user(self, username: str, password: str, vhosts: Iterable[str] | None = None) -> None:
        """Add (or replace) a user; ``vhosts`` limits access when permissions are explicit."""
        self.users[username] = password
        if self.permissions is not None:
            self.permissions[username] = set(vhosts or ())

    def authenticate(self, username: str, password: str) -> bool:
        """Whether the credentials are valid."""
        return username in self.users and self.users[username] == password

    def vhost_exists(self, name: str) -> bool:
        """Whether the vhost exists."""
        return name in self.vhosts

    def can_access(self, user: str, vhost: str) -> bool:
        """Whether ``user`` may open ``vhost``."""
        if vhost not in self.vhosts or user not in self.users:
            return False
        return self.permissions is None or vhost in self.permissions.get(user, set())

    def open_connection(
        self,
        user: str,
        vhost: str,
        capabilities: Mapping[str, Any] | None = None,
        client_properties: Mapping[str, Any] | None = None,
    ) -> ConnectionModel:
        """connection.open for an authenticated user.

        :raises AmqpError: 530 ``vhost V not found`` / ``access to vhost 'V' refused for
            user 'U'`` (connection errors).
        """
        if vhost not in self.vhosts:
            raise not_allowed(f"vhost {vhost} not found")
        if not self.can_access(user, vhost):
            raise not_allowed(f"access to vhost '{vhost}' refused for user '{user}'")
        connection = ConnectionModel(
            self,
            self._next_connection_id,
            user,
            self.vhosts[vhost],
            capabilities or {},
            client_properties or {},
        )
        self.connections[connection.connection_id] = connection
        self._next_connection_id += 1
        return connection

    def forget_connection(self, connection: ConnectionModel) -> None:
        """Called by `ConnectionModel.close`."""
        self.connections.pop(connection.connection_id, None)
        self._staged.pop(connection.connection_id, None)

    # ---- delivery ---------------------------------------------------------

    def mark_staged(self, connection: ConnectionModel) -> None:
        """A connection has deliveries waiting for `dispatch`."""
        self._staged[connection.connection_id] = connection

    def dispatch(self) -> None:
        """Move staged deliveries into their connections' outboxes.

        The wire side calls this after writing each method's synchronous reply.
        """
        staged, self._staged = self._staged, {}
        for connection in staged.values():
            connection.flush_staged()

    def now(self) -> float:
        """The clock's time, or the time :meth:`hold_clock` read."""
        held = self._held_now
        return self.clock() if held is None else held

    def hold_clock(self) -> None:
        """Read the clock once for a batch of work: :meth:`now` returns that time until
        :meth:`release_clock` (the wire side holds it while it handles one read)."""
        self._held_now = self.clock()

    def release_clock(self) -> None:
        """:meth:`now` reads the clock again."""
        self._held_now = None

    def register_reply_channel(self, channel: ChannelModel) -> str:
        """Allocate the direct reply-to routing key of a channel."""
        key = REPLY_PREFIX + random_name(self.rng, "") + "." + random_name(self.rng, "")
        self._reply_channels[key] = channel
        return key

    def unregister_reply_channel(self, key: str) -> None:
        """Forget a closed channel's direct reply-to key."""
        self._reply_channels.pop(key, None)

    def reply_channel(self, key: str) -> ChannelModel | None:
        """The channel a direct reply-to key belongs to, if it still consumes replies."""
        channel = self._reply_channels.get(key)
        if channel is None or channel.closed or channel.reply_consumer_tag is None:
            return None
        return channel

    # ---- timers -----------------------------------------------------------

    def next_deadline(self) -> float | None:
        """The earliest clock() value at which `run_timers` has work, if any.

        Called after every read: it looks only at the queues that may have a deadline
        (``Vhost.timed``), and forgets those that turn out to have none, so a broker
        whose queues have no TTL and no idle x-expires looks at none.
        """
        earliest: float | None = None
        for vhost in self.vhosts.values():
            timed = vhost.timed
            if not timed:
                continue
            for queue in list(timed):
                deadline = None if queue.deleted else queue.next_deadline()
                if deadline is None:
                    timed.discard(queue)
                elif earliest is None or deadline < earliest:
                    earliest = deadline
        return earliest

    def run_timers(self) -> None:
        """Expire messages at queue heads and delete expired queues (then dispatch)."""
        now = self.clock()
        for vhost in list(self.vhosts.values()):
            vhost.run_timers(now)
        self.dispatch()

    # ---- fault injection --------------------------------------------------

    def cancel_consumer(self, vhost: str, queue: str, consumer_tag: str | None = None) -> int:
        """Server-side cancel of one consumer (or all, with None) of a queue.

        Clients that announced consumer_cancel_notify get a basic.cancel. Returns how many
        consumers were cancelled. Like `run_timers`, this happens outside any method, so it
        dispatches what it staged itself.
        """
        target = self.vhosts[vhost].queues.get(queue)
        if target is None:
            return 0
        cancelled = [
            c for c in target.consumers if consumer_tag is None or c.consumer_tag == consumer_tag
        ]
        now = self.clock()
        for consumer in cancelled:
            target.remove_consumer(consumer, now)
            consumer.channel.server_cancel(consumer)
        if cancelled and target.auto_delete and not target.consumers:
            self.vhosts[vhost].delete_queue(target)
        else:
            target.run(now)
        self.dispatch()
        return len(cancelled)

    def restart(self) -> None:
        """A broker restart: close every connection, keep only durable state.

        See :mod:`.restart` for what survives (as on RabbitMQ 3.10). The wire side sends
        each client its ``320 CONNECTION_FORCED`` close; this only changes the state.
        """
        restart_broker(self)

    # ---- inspection -------------------------------------------------------

    def snapshot(self, vhost: str = "/") -> VhostInfo:
        """A read-only copy of a vhost's exchanges and queues."""
        return vhost_info(self.vhosts[vhost])

    def connection_snapshots(self) -> list[ConnectionInfo]:
        """Read-only copies of every open connection and its channels."""
        return [connection_info(c) for c in self.connections.values()]
