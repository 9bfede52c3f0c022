"""One channel of a client connection, without I/O.

:class:`ClientChannel` owns what is per channel: its state, the FIFO of its
synchronous requests, its content assembler, its publisher-confirm tracker,
and the handling of every method the broker sends on it (replies, content,
confirms, server-side cancel, flow and close). It appends what it must answer
to the connection's outgoing list; the connection keeps channel numbering,
the request API and the receive loop, whose whole-delivery fast path reads a
channel's state directly.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable
from typing import Any, ClassVar

from pamqp import commands
from pamqp.base import Frame

from .acks import AckTracker, note_settling
from .codes import ReplyCode, class_id_of, method_id_of
from .confirms import ConfirmTracker
from .content import ContentAssembler, decode_message_properties
from .errors import ProtocolError
from .events import (
    ChannelClosed,
    ChannelFlow,
    ConsumerCancelled,
    Event,
    MessageDelivered,
    MessageReturned,
    PublishesSettled,
    ReplyArrived,
)
from .replies import REPLY_CLASSES, PendingReply, ReplyQueue, UnexpectedReplyError
from .wire import (
    FRAME_BODY,
    FRAME_HEADER,
    FRAME_METHOD,
    RawFrame,
    decode_method,
    encode_method,
)

_CONFIRM_SELECT = commands.Confirm.Select.index.to_bytes(4, "big")


class ChannelState(enum.Enum):
    """Where a channel is in its life (client view)."""

    OPENING = "opening"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


class ChannelUnavailable(Exception):
    """A request was made on a channel that is not open."""

    def __init__(self, channel_id: int, state: ChannelState | None) -> None:
        self.channel_id = channel_id
        self.state = state
        super().__init__(f"channel {channel_id} is {state.value if state else 'not open'}")


class ClientChannel:
    """Client-side state of one channel, and its share of the received frames.

    :param channel_id: the channel's number
    :param outgoing: the connection's list of encoded frames waiting for the socket
    :param channels: the connection's channel table, which the channel leaves when it ends
    """

    __slots__ = (
        "_channels",
        "_outgoing",
        "acks",
        "channel_id",
        "confirms",
        "content",
        "get_slot",
        "replies",
        "state",
    )

    def __init__(
        self,
        channel_id: int,
        outgoing: list[bytes | memoryview],
        channels: dict[int, ClientChannel],
    ) -> None:
        self.channel_id = channel_id
        self.state = ChannelState.OPENING
        self.replies = ReplyQueue()
        self.content = ContentAssembler()
        self.confirms: ConfirmTracker | None = None
        #: which deliveries are settled (consecutive acks merge, see :mod:`.acks`)
        self.acks = AckTracker()
        #: the basic.get whose get-ok content is being assembled
        self.get_slot: PendingReply | None = None
        self._outgoing = outgoing
        self._channels = channels

    # -- requests -------------------------------------------------------------

    def request(self, method: Frame, waiter: Any) -> PendingReply:
        """Queue a synchronous request; channel.close goes out at once."""
        method_class = type(method)
        frame = encode_method(self.channel_id, method)
        if method_class is commands.Channel.Close:
            self.state = ChannelState.CLOSING
            self._outgoing.append(frame)
            return self.replies.expect_sent(method_class, waiter)
        slot = self.replies.expect(method_class, waiter, frame)
        note_settling(self.acks, method)  # basic.recover, tx.select
        self.send_next_request()
        return slot

    def send_next_request(self) -> None:
        """Put the head of the request queue on the wire, unless it is there already."""
        frame = self.replies.take_sendable()
        if frame is None:
            return
        self._outgoing.append(frame)
        if frame[7:11] == _CONFIRM_SELECT and self.confirms is None:
            self.confirms = ConfirmTracker()  # the broker numbers publishes from here on

    # -- input ----------------------------------------------------------------

    def on_closing_frame(self, frame_type: int, payload: bytes) -> Event | None:
        """After our channel.close only close/close-ok matter; the broker requeues the rest."""
        if frame_type != FRAME_METHOD:
            return None
        method = decode_method(payload)
        if type(method) in (commands.Channel.Close, commands.Channel.CloseOk):
            return self.on_method(method)
        return None

    def on_method(self, method: Frame) -> Event | None:
        """Handle a method frame received on this channel.

        :raises ProtocolError: for a method the broker may not send here
        """
        method_class = type(method)
        handler = self._METHOD_HANDLERS.get(method_class)
        if handler is not None:
            return handler(self, method)
        if method_class in REPLY_CLASSES:
            return self._on_reply(method)
        raise ProtocolError(
            ReplyCode.COMMAND_INVALID,
            f"unexpected {method.name} on channel {self.channel_id}",
            class_id=class_id_of(method),
            method_id=method_id_of(method),
        )

    def _on_reply(self, method: Frame) -> Event | None:
        method_class = type(method)
        if method_class is commands.Channel.CloseOk:
            return self._end(200, "closed by client", 0, 0, by_server=False)
        try:
            slot = self.replies.match(method)
        except UnexpectedReplyError as error:
            raise ProtocolError(
                ReplyCode.COMMAND_INVALID,
                str(error),
                class_id=class_id_of(method),
                method_id=method_id_of(method),
            ) from None
        self.send_next_request()
        if method_class is commands.Channel.OpenOk:
            self.state = ChannelState.OPEN
        elif method_class is commands.Basic.GetOk:
            self.content.start(method)
            self.get_slot = slot
            return None
        return ReplyArrived(self.channel_id, slot, method)

    def _on_content_method(self, method: Frame) -> None:
        self.content.start(method)
        return None

    def complete_content(self) -> Event:
        """Turn the message the assembler just completed into its event."""
        method, properties_payload, body = self.content.finish()
        properties = decode_message_properties(properties_payload, method)
        if isinstance(method, commands.Basic.Deliver):
            return MessageDelivered(self.channel_id, method, properties, body)
        if isinstance(method, commands.Basic.Return):
            token = None
            if self.confirms is not None:
                token = self.confirms.match_return(
                    method.exchange or "", method.routing_key or "", body
                )
            return MessageReturned(self.channel_id, method, properties, body, token)
        slot = self.get_slot
        assert slot is not None
        self.get_slot = None
        return ReplyArrived(self.channel_id, slot, method, properties, body)

    def _on_confirm(self, method: commands.Basic.Ack) -> Event | None:
        if self.confirms is None:
            raise ProtocolError(
                ReplyCode.COMMAND_INVALID,
                f"{method.name} on channel {self.channel_id}, which is not in confirm mode",
            )
        settled = self.confirms.settle(method.delivery_tag, method.multiple)
        if not settled:
            return None
        return PublishesSettled(self.channel_id, type(method) is commands.Basic.Ack, settled)

    def _on_server_cancel(self, method: commands.Basic.Cancel) -> Event:
        if not method.nowait:
            self._outgoing.append(
                encode_method(self.channel_id, commands.Basic.CancelOk(method.consumer_tag))
            )
        return ConsumerCancelled(self.channel_id, method.consumer_tag or "")

    def _on_server_flow(self, method: commands.Channel.Flow) -> Event:
        self._outgoing.append(
            encode_method(self.channel_id, commands.Channel.FlowOk(method.active))
        )
        return ChannelFlow(self.channel_id, bool(method.active))

    def _on_server_close(self, method: commands.Channel.Close) -> Event:
        self._outgoing.append(encode_method(self.channel_id, commands.Channel.CloseOk()))
        return self._end(
            method.reply_code or 0,
            method.reply_text or "",
            method.class_id or 0,
            method.method_id or 0,
            by_server=True,
        )

    def lost(self) -> ChannelClosed:
        """The connection is gone: return what the channel left pending."""
        self.state = ChannelState.CLOSED
        return self._closed_event(0, "", 0, 0, by_server=True)

    def _end(
        self, reply_code: int, reply_text: str, class_id: int, method_id: int, *, by_server: bool
    ) -> ChannelClosed:
        self.state = ChannelState.CLOSED
        del self._channels[self.channel_id]
        return self._closed_event(reply_code, reply_text, class_id, method_id, by_server=by_server)

    def _closed_event(
        self, reply_code: int, reply_text: str, class_id: int, method_id: int, *, by_server: bool
    ) -> ChannelClosed:
        """Everything the channel leaves pending: queued requests, a get-ok being
        assembled, unconfirmed publishes."""
        pending = self.replies.drain()
        if self.get_slot is not None:
            pending.append(self.get_slot)
            self.get_slot = None
        return ChannelClosed(
            self.channel_id,
            reply_code,
            reply_text,
            class_id,
            method_id,
            by_server=by_server,
            pending=pending,
            unconfirmed=self.confirms.drain() if self.confirms else [],
        )

    #: Methods the broker sends on its own initiative (replies are matched instead).
    _METHOD_HANDLERS: ClassVar[dict[type[Frame], Callable[[ClientChannel, Any], Event | None]]] = {
        commands.Basic.Deliver: _on_content_method,
        commands.Basic.Return: _on_content_method,
        commands.Basic.Ack: _on_confirm,
        commands.Basic.Nack: _on_confirm,
        commands.Basic.Cancel: _on_server_cancel,
        commands.Channel.Flow: _on_server_flow,
        commands.Channel.Close: _on_server_close,
    }


_CONTENT_HEAD = struct.Struct(">HHQ")


def whole_delivery(
    channels: dict[int, ClientChannel], frames: list[RawFrame], index: int
) -> MessageDelivered | None:
    """Hot path: a deliver, its header and its only body frame, all already received.

    Returns None when the three frames are not exactly that (the general path reads them).
    """
    _, channel_id, payload = frames[index]
    header_type, header_channel, header = frames[index + 1]
    body_type, body_channel, body = frames[index + 2]
    if (
        header_type != FRAME_HEADER
        or body_type != FRAME_BODY
        or header_channel != channel_id
        or body_channel != channel_id
        or len(header) < 14
    ):
        return None
    channel = channels.get(channel_id)
    if (
        channel is None
        or channel.state is not ChannelState.OPEN
        or channel.content.expecting_content
    ):
        return None
    class_id, _weight, body_size = _CONTENT_HEAD.unpack_from(header)
    if class_id != commands.Basic.frame_id or body_size != len(body):
        return None
    method = decode_method(payload)
    assert isinstance(method, commands.Basic.Deliver)
    return MessageDelivered(
        channel_id, method, decode_message_properties(header[12:], method), body
    )
