"""What the broker's connection driver and socket session need from outside them.

A :class:`~._driver.ConnectionDriver` talks to its I/O through a
:class:`Transport` and to the broker through a :class:`DriverHost`; the
:class:`~._socketloop.SocketSession` is the transport and needs a
:class:`SessionHost` (a :class:`~._runtime.BrokerRuntime` in the fake broker,
recording fakes in ``tests/broker/driverkit.py``).
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ._driver import ConnectionDriver
    from ._socketloop import SocketSession

__all__ = ["DriverHost", "End", "SessionHost", "Transport"]


class End(enum.Enum):
    """How the connection ends once the current input is processed."""

    FLUSH_THEN_CLOSE = "flush_then_close"
    SILENT_DELAY = "silent_delay"


class Transport(Protocol):
    """What a driver needs from the I/O side."""

    def wake_writer(self) -> None:
        """Send whatever the core has buffered."""

    def output_ready(self) -> None:
        """A slice of a long output is encoded: write it now if that can be done at once."""

    def close_after(self, timeout: float) -> None:
        """Close the socket after *timeout* seconds unless it closes sooner."""

    def abort(self) -> None:
        """Close the socket now."""

    def tuned(self) -> None:
        """The heartbeat interval was negotiated."""

    def resume_reading(self) -> None:
        """Reading may go on (the resource alarm cleared)."""


class DriverHost(Protocol):
    """What a driver needs from the broker hosting it."""

    @property
    def blocked_reason(self) -> str | None:
        """The resource alarm's reason (``None``: no alarm)."""

    def connection_opened(self, driver: ConnectionDriver) -> None:
        """*driver*'s connection.open succeeded (its ``connection`` is set)."""


class SessionHost(DriverHost, Protocol):
    """What a socket session needs from the broker hosting it (and its driver's needs)."""

    @property
    def reply_delay(self) -> float:
        """Seconds every batch of outgoing frames is held (fault injection)."""

    @property
    def output_paused(self) -> bool:
        """Whether outgoing frames are held (fault injection)."""

    async def wait_output_resumed(self) -> None:
        """Return once outgoing frames are no longer held."""

    def deadlines_changed(self) -> None:
        """The model's next deadline may have moved earlier: re-arm the timer."""

    def session_ended(self, session: SocketSession) -> None:
        """*session* closed its socket and released its model connection."""
