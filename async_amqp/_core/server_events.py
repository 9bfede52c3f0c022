"""What the broker-role core reports to the broker after reading bytes.

Each event is a small slotted record the broker dispatches on by type, like the
client role's :mod:`.events`. Some ask the broker for a decision that needs its
state (a login, a vhost), which it answers through
:class:`~.server.ServerConnection`; the others report what already happened.
"""

from __future__ import annotations

from typing import Any

from pamqp.base import Frame

from .events import Record


class ServerEvent(Record):
    """Base class of server-role events."""

    __slots__ = ()


class ProtocolHeaderRefused(ServerEvent):
    """The client sent another protocol header; ours was queued, then close the socket."""

    __slots__ = ("header",)

    def __init__(self, header: bytes) -> None:
        self.header = header


class LoginRequested(ServerEvent):
    """connection.start-ok arrived; answer with accept_login or refuse_login."""

    __slots__ = ("client_properties", "locale", "mechanism", "response")

    def __init__(
        self, mechanism: str, response: bytes, client_properties: dict[str, Any], locale: str
    ) -> None:
        self.mechanism = mechanism
        self.response = response
        self.client_properties = client_properties
        self.locale = locale

    def __repr__(self) -> str:
        # The SASL response holds the password: never show it (in logs, in reprs).
        return (
            f"LoginRequested(mechanism={self.mechanism!r}, response=<{len(self.response)} bytes "
            f"hidden>, client_properties={self.client_properties!r}, locale={self.locale!r})"
        )


class TuneAccepted(ServerEvent):
    """The client's tune-ok was within limits; the values now apply."""

    __slots__ = ("channel_max", "frame_max", "heartbeat")

    def __init__(self, channel_max: int, frame_max: int, heartbeat: int) -> None:
        self.channel_max = channel_max
        self.frame_max = frame_max
        self.heartbeat = heartbeat


class OpenRequested(ServerEvent):
    """connection.open arrived; answer with accept_open or close_connection."""

    __slots__ = ("virtual_host",)

    def __init__(self, virtual_host: str) -> None:
        self.virtual_host = virtual_host


class ChannelOpened(ServerEvent):
    """A channel was opened (open-ok is already queued)."""

    __slots__ = ("channel_id",)

    def __init__(self, channel_id: int) -> None:
        self.channel_id = channel_id


class MethodReceived(ServerEvent):
    """A method (other than channel open/close) arrived on an open channel.

    ``payload`` is the method frame's payload as received, for arguments whose
    exact encoding matters (field tables keep their type tags there).
    """

    __slots__ = ("channel_id", "method", "payload")

    def __init__(self, channel_id: int, method: Frame, payload: bytes = b"") -> None:
        self.channel_id = channel_id
        self.method = method
        self.payload = payload


class ContentReceived(ServerEvent):
    """A complete publish arrived: method, raw properties, body."""

    __slots__ = ("body", "channel_id", "method", "properties_payload")

    def __init__(
        self,
        channel_id: int,
        method: Frame,
        properties_payload: bytes,
        body: bytes,
    ) -> None:
        self.channel_id = channel_id
        self.method = method
        self.properties_payload = properties_payload
        self.body = body


class ChannelClosedByClient(ServerEvent):
    """The client closed a channel (close-ok is already queued)."""

    __slots__ = ("channel_id", "reply_code", "reply_text")

    def __init__(self, channel_id: int, reply_code: int, reply_text: str) -> None:
        self.channel_id = channel_id
        self.reply_code = reply_code
        self.reply_text = reply_text


class ChannelCloseConfirmed(ServerEvent):
    """The client confirmed a channel close the broker started; the number is free."""

    __slots__ = ("channel_id",)

    def __init__(self, channel_id: int) -> None:
        self.channel_id = channel_id


class ConnectionClosedByClient(ServerEvent):
    """The client closed the connection (close-ok is already queued)."""

    __slots__ = ("reply_code", "reply_text")

    def __init__(self, reply_code: int, reply_text: str) -> None:
        self.reply_code = reply_code
        self.reply_text = reply_text


class ConnectionCloseConfirmed(ServerEvent):
    """The client confirmed the broker's connection.close: close the socket."""

    __slots__ = ()
