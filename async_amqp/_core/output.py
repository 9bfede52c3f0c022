"""What both roles of a connection share on the way out: the queue of encoded
frames waiting for the socket, and the heartbeat clock that watches traffic.

The I/O layer takes everything queued with :meth:`data_to_send` in one piece,
so one ``send`` carries many frames.
"""

from __future__ import annotations

from .heartbeat import HeartbeatAction, HeartbeatClock
from .wire import encode_heartbeat


class FrameOutput:
    """Frames waiting to be written, and the heartbeat clock of the connection."""

    def __init__(self) -> None:
        self._outgoing: list[bytes | memoryview] = []
        #: message bytes queued by publishes since the last write (for back-pressure)
        self._pending_size = 0
        self.heartbeat = HeartbeatClock(0, 0.0)

    @property
    def has_data_to_send(self) -> bool:
        """True when encoded frames wait to be written."""
        return bool(self._outgoing)

    @property
    def pending_bytes(self) -> int:
        """Roughly how many message bytes wait to be written (for back-pressure)."""
        return self._pending_size

    def data_to_send(self, now: float) -> bytes:
        """Take everything queued for the socket, as one buffer."""
        outgoing = self._outgoing
        if not outgoing:
            return b""
        data = b"".join(outgoing)
        outgoing.clear()  # cleared, not replaced: a client's channels append to this list
        self._pending_size = 0
        self.heartbeat.sent(now)
        return data

    def poll_heartbeat(self, now: float) -> HeartbeatAction:
        """Check the heartbeat clock; queue a heartbeat frame when one is due."""
        action = self.heartbeat.poll(now)
        if action is HeartbeatAction.SEND:
            if not self._outgoing:
                self._outgoing.append(encode_heartbeat())
            self.heartbeat.sent(now)
        return action
