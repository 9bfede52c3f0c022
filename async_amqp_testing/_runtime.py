"""The broker's serving state, shared by its sessions: the host of every connection driver.

A :class:`BrokerRuntime` is what :class:`~._socketloop.SocketSession` and
:class:`~._driver.ConnectionDriver` see of the broker (it implements
:class:`~._socketloop.SessionHost`): the open sessions and the connections by
id, the resource alarm, the output pause and reply delay (fault injection),
and the timer task that runs the model's TTL and expiry deadlines.
:class:`~._broker.FakeBroker` owns one and sits on top of it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection

import anyio
import anyio.lowlevel

from ._driver import ConnectionDriver
from ._model import BrokerModel
from ._model.snapshots import ConnectionInfo
from ._socketloop import SocketSession, loop_clock

__all__ = ["FORCED_CLOSE_TEXT", "BrokerRuntime", "ConnectionRef", "ModelClock"]

#: How RabbitMQ words an operator's forced close (management UI or rabbitmqctl).
FORCED_CLOSE_TEXT = "CONNECTION_FORCED - Closed via management plugin"
#: A connection chosen by id, by snapshot, or by its ``connection_name`` client property.
ConnectionRef = int | str | ConnectionInfo | None


class ModelClock:
    """The broker model's clock: the event loop's time, read directly while serving."""

    def __init__(self) -> None:
        self.loop_time: Callable[[], float] | None = None

    def __call__(self) -> float:
        loop_time = self.loop_time
        try:
            if loop_time is not None:
                return loop_time()
            return anyio.current_time()
        except RuntimeError:  # outside the event loop (no timers run there)
            return time.monotonic()

    def serving(self, serving: bool) -> None:
        """Read the running loop's clock from now on (*serving*), or anyio's (not)."""
        self.loop_time = loop_clock() if serving else None


class BrokerRuntime:
    """Sessions, alarm, pause gate and timers of one served broker.

    :param model: the broker model the sessions work on
    :param reply_delay: seconds every batch of outgoing frames is held
    """

    def __init__(self, model: BrokerModel, reply_delay: float = 0.0) -> None:
        self.model = model
        self.reply_delay = reply_delay
        self.blocked_reason: str | None = None
        self.output_paused = False
        self.sessions: set[SocketSession] = set()
        self.by_connection_id: dict[int, ConnectionDriver] = {}
        self._resumed: anyio.Event | None = None
        self._next_session_id = 1
        self._session_gone: anyio.Event | None = None
        self._timer_wake: anyio.Event | None = None
        self._timer_target = math.inf

    def start(self) -> None:
        """Make the events of a new serving period (inside the broker's event loop)."""
        self._resumed = anyio.Event()
        self._resumed.set()
        self._timer_wake = anyio.Event()
        self._session_gone = anyio.Event()

    # -- sessions ------------------------------------------------------------------------

    def next_session_id(self) -> int:
        """A new number for a session's logs."""
        session_id = self._next_session_id
        self._next_session_id += 1
        return session_id

    def connection_opened(self, driver: ConnectionDriver) -> None:
        """Index *driver* by its connection id (connection.open succeeded)."""
        assert driver.connection is not None
        self.by_connection_id[driver.connection.connection_id] = driver

    def session_ended(self, session: SocketSession) -> None:
        """Forget *session*, wake :meth:`wait_gone` and re-arm the timer."""
        self.sessions.discard(session)
        if session.connection is not None:
            self.by_connection_id.pop(session.connection.connection_id, None)
        event, self._session_gone = self._session_gone, anyio.Event()
        if event is not None:
            event.set()
        self.deadlines_changed()

    async def wait_gone(self, sessions: Collection[SocketSession]) -> None:
        """Return once every one of *sessions* has ended."""
        while any(session in self.sessions for session in sessions):
            assert self._session_gone is not None
            await self._session_gone.wait()

    def select(self, connection: ConnectionRef) -> list[ConnectionDriver]:
        """The drivers of the connections *connection* names (``None``: every session's)."""
        if connection is None:
            return [session.driver for session in self.sessions]
        if isinstance(connection, ConnectionInfo):
            connection = connection.connection_id
        if isinstance(connection, int):
            driver = self.by_connection_id.get(connection)
            return [] if driver is None else [driver]
        return [
            driver
            for driver in self.by_connection_id.values()
            if driver.connection is not None
            and driver.connection.client_properties.get("connection_name") == connection
        ]

    # -- output pause --------------------------------------------------------------------

    def pause(self) -> None:
        """Hold every outgoing frame until :meth:`resume`."""
        if not self.output_paused:
            self.output_paused = True
            self._resumed = anyio.Event()

    def resume(self) -> None:
        """Let held frames go."""
        if self.output_paused:
            self.output_paused = False
            assert self._resumed is not None
            self._resumed.set()

    async def wait_output_resumed(self) -> None:
        """Return once outgoing frames are no longer held."""
        while self.output_paused and self._resumed is not None:
            await self._resumed.wait()

    # -- timers --------------------------------------------------------------------------

    async def run_timers(self) -> None:
        """Run the model's deadlines as they come (the broker's timer task; never returns)."""
        model = self.model
        while True:
            deadline = model.next_deadline()
            now = anyio.current_time()
            if deadline is not None and deadline <= now:
                model.run_timers()
                await anyio.lowlevel.checkpoint()
                continue
            self._timer_target = math.inf if deadline is None else deadline
            self._timer_wake = wake = anyio.Event()
            with anyio.move_on_after(self._timer_target - now):
                await wake.wait()

    def deadlines_changed(self) -> None:
        """Wake the timer task when the model's next deadline moved earlier."""
        if self._timer_wake is None:
            return
        deadline = self.model.next_deadline()
        if deadline is not None and deadline < self._timer_target:
            self._timer_wake.set()
