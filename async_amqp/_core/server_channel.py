"""One open channel of the broker side of a connection, without I/O.

:class:`ServerChannel` is what RabbitMQ's channel process checks before the
broker sees a method: content is assembled into whole publishes, channel.close
is answered, a second channel.open and connection methods are refused with
RabbitMQ's codes and texts, and a channel the broker is closing ignores all but
close-ok. What is left reaches the broker as a :class:`~.server_events.MethodReceived`.
The channel appends its frames to the connection's outgoing list and leaves the
connection's channel table when it ends; :class:`~.server.ServerConnection`
keeps channel numbers and what arrives on channels that are not open.
"""

from __future__ import annotations

from pamqp import commands
from pamqp.base import Frame

from .codes import ReplyCode, class_id_of, method_id_of
from .content import ContentAssembler
from .errors import ProtocolError
from .server_events import (
    ChannelCloseConfirmed,
    ChannelClosedByClient,
    ContentReceived,
    MethodReceived,
    ServerEvent,
)
from .wire import encode_method

#: Methods followed by content. Only publish is valid from a client, but RabbitMQ reads the
#: content of a client-sent deliver/get-ok/return before refusing it (503).
CONTENT_METHODS = (
    commands.Basic.Publish,
    commands.Basic.Deliver,
    commands.Basic.GetOk,
    commands.Basic.Return,
)


class ServerChannel:
    """Broker-side state of one open channel.

    :param channel_id: the channel's number
    :param outgoing: the connection's list of encoded frames waiting for the socket
    :param channels: the connection's channel table, which the channel leaves when it ends
    """

    __slots__ = ("_channels", "_outgoing", "channel_id", "closing", "content")

    def __init__(
        self,
        channel_id: int,
        outgoing: list[bytes | memoryview],
        channels: dict[int, ServerChannel],
    ) -> None:
        self.channel_id = channel_id
        self.closing = False
        self.content = ContentAssembler()
        self._outgoing = outgoing
        self._channels = channels

    def close(self, reply_code: int, reply_text: str, class_id: int, method_id: int) -> None:
        """Send the broker's channel.close; frames are discarded until close-ok."""
        self.closing = True
        self.content = ContentAssembler()
        self._outgoing.append(
            encode_method(
                self.channel_id,
                commands.Channel.Close(reply_code, reply_text[:255], class_id, method_id),
            )
        )

    def on_closing_method(self, method: Frame) -> ServerEvent | None:
        """While the broker's close is pending, only close-ok (or a crossing close) counts."""
        if type(method) is commands.Channel.CloseOk:
            del self._channels[self.channel_id]
            return ChannelCloseConfirmed(self.channel_id)
        if type(method) is commands.Channel.Close:
            self._outgoing.append(encode_method(self.channel_id, commands.Channel.CloseOk()))
        return None

    def complete_content(self) -> ServerEvent:
        """Turn the publish the assembler just completed into its event."""
        method, properties_payload, body = self.content.finish()
        return ContentReceived(self.channel_id, method, properties_payload, body)

    def on_method(self, method: Frame, payload: bytes) -> ServerEvent | None:
        """Handle a method frame received on this open channel.

        :raises ProtocolError: for a method a channel does not accept
        """
        method_class = type(method)
        if method_class in CONTENT_METHODS:
            self.content.start(method)
            return None
        if isinstance(method, commands.Channel.Close):
            del self._channels[self.channel_id]
            self._outgoing.append(encode_method(self.channel_id, commands.Channel.CloseOk()))
            return ChannelClosedByClient(
                self.channel_id, method.reply_code or 0, method.reply_text or ""
            )
        if method_class is commands.Channel.Open:
            raise ProtocolError(
                ReplyCode.CHANNEL_ERROR,
                "second 'channel.open' seen",
                class_id=class_id_of(method),
                method_id=method_id_of(method),
            )
        if method_class is commands.Channel.CloseOk or (
            class_id_of(method) == commands.Connection.frame_id
        ):
            # RabbitMQ's channel has no handler for these (connection methods included).
            raise ProtocolError(
                ReplyCode.COMMAND_INVALID,
                "unimplemented method",
                class_id=class_id_of(method),
                method_id=method_id_of(method),
            )
        return MethodReceived(self.channel_id, method, payload)
