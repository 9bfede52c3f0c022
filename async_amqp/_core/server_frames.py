"""The broker core's output: a hand-packed basic.deliver frame for its hot path and
:class:`ServerOutput`, the methods that queue frames (publisher acks use the
client's fast :func:`~.wire.encode_ack`: the same frame).

:func:`encode_deliver` returns the same bytes as the generic encoder
(:func:`~.wire.encode_method` on the pamqp method), without building a pamqp
object or walking its argument list; the tests compare the two.
"""

from __future__ import annotations

import struct
from typing import Final

from pamqp import commands
from pamqp.base import Frame

from .output import FrameOutput
from .server_events import Body
from .wire import (
    FRAME_BODY,
    FRAME_END,
    FRAME_END_BYTE,
    FRAME_HEADER,
    FRAME_METHOD,
    FRAME_OVERHEAD,
    encode_ack,
    encode_content,
    encode_method,
)

__all__ = ["ServerOutput", "encode_deliver"]

_frame_head: Final = struct.Struct(">BHI")
_DELIVER_INDEX: Final = struct.pack(">I", commands.Basic.Deliver.index)
_tag_and_flags: Final = struct.Struct(">QB")
#: a method frame's head with the method's index and its first short string's length
_deliver_head: Final = struct.Struct(">BHIIB")
#: a content header frame's type and channel; then its size, class, weight and body size
_header_lead: Final = struct.Struct(">BH")
_header_rest: Final = struct.Struct(">IHHQ")
#: the end octet of a content header frame and the head of the body frame after it
_body_lead: Final = struct.Struct(">BBHI")
#: How many encoded deliver heads (channel, consumer tag, exchange, routing key) are kept.
_DELIVER_CACHE_MAX: Final = 1024
#: Bodies up to this size are copied into one piece with their frames' heads.
_COPIED_BODY: Final = 4096


def encode_deliver(
    channel_id: int,
    consumer_tag: bytes,
    delivery_tag: int,
    redelivered: bool,
    exchange: bytes,
    routing_key: bytes,
) -> bytes:
    """A basic.deliver method frame (short strings already encoded, each ≤ 255 bytes)."""
    payload = b"".join(
        (
            _DELIVER_INDEX,
            bytes((len(consumer_tag),)),
            consumer_tag,
            _tag_and_flags.pack(delivery_tag, redelivered),
            bytes((len(exchange),)),
            exchange,
            bytes((len(routing_key),)),
            routing_key,
        )
    )
    return _frame_head.pack(FRAME_METHOD, channel_id, len(payload)) + payload + FRAME_END_BYTE


class ServerOutput(FrameOutput):
    """Queueing the broker's frames (a base of :class:`~.server.ServerConnection`)."""

    #: the negotiated frame_max (set by the connection)
    frame_max: int

    def __init__(self) -> None:
        super().__init__()
        #: the parts of basic.deliver frames that depend on their channel, consumer tag,
        #: exchange and routing key only
        self._deliver_cache: dict[tuple[int, str, str, str], tuple[bytes, bytes]] = {}

    def send_method(self, channel_id: int, method: Frame) -> None:
        """Queue a method frame (a reply, or an asynchronous method like basic.ack)."""
        self._outgoing.append(encode_method(channel_id, method))

    def send_content(
        self, channel_id: int, method: Frame, properties_payload: bytes, body: Body
    ) -> None:
        """Queue a content method (deliver, get-ok, return) with header and body frames."""
        self._outgoing.append(encode_method(channel_id, method))
        self._outgoing.extend(encode_content(channel_id, properties_payload, body, self.frame_max))

    def send_deliver(
        self,
        channel_id: int,
        consumer_tag: str,
        delivery_tag: int,
        redelivered: bool,
        exchange: str,
        routing_key: str,
        properties_payload: bytes,
        body: Body,
    ) -> None:
        """Queue a basic.deliver with its header and body frames (the delivery hot path).

        A body that fits one frame makes one piece with the method and header frames
        (small bodies are copied into it; larger ones are referenced, not copied). What
        only depends on the channel, consumer tag, exchange and routing key is encoded
        once and kept (:meth:`_deliver_parts`).
        """
        body_size = len(body)
        outgoing = self._outgoing
        if not body_size or (self.frame_max and body_size > self.frame_max - FRAME_OVERHEAD):
            outgoing.append(
                encode_deliver(
                    channel_id,
                    consumer_tag.encode(),
                    delivery_tag,
                    redelivered,
                    exchange.encode(),
                    routing_key.encode(),
                )
            )
            outgoing.extend(encode_content(channel_id, properties_payload, body, self.frame_max))
            return
        parts = self._deliver_cache.get((channel_id, consumer_tag, exchange, routing_key))
        if parts is None:
            parts = self._deliver_parts(channel_id, consumer_tag, exchange, routing_key)
        head = (
            parts[0],
            _tag_and_flags.pack(delivery_tag, redelivered),
            parts[1],
            _header_rest.pack(12 + len(properties_payload), 60, 0, body_size),
            properties_payload,
            _body_lead.pack(FRAME_END, FRAME_BODY, channel_id, body_size),
        )
        if body_size <= _COPIED_BODY:
            outgoing.append(b"".join((*head, body, FRAME_END_BYTE)))
        else:
            outgoing.append(b"".join(head))
            outgoing.append(body)
            outgoing.append(FRAME_END_BYTE)

    def _deliver_parts(
        self, channel_id: int, consumer_tag: str, exchange: str, routing_key: str
    ) -> tuple[bytes, bytes]:
        """A basic.deliver's bytes before its delivery tag (the method frame's head and the
        consumer tag) and after its redelivered flag (exchange, routing key, the frame's end
        octet and the content header frame's type and channel), kept for the next one."""
        tag = consumer_tag.encode()
        exchange_bytes = exchange.encode()
        key = routing_key.encode()
        size = 16 + len(tag) + len(exchange_bytes) + len(key)
        parts = (
            _deliver_head.pack(
                FRAME_METHOD, channel_id, size, commands.Basic.Deliver.index, len(tag)
            )
            + tag,
            b"".join(
                (
                    bytes((len(exchange_bytes),)),
                    exchange_bytes,
                    bytes((len(key),)),
                    key,
                    FRAME_END_BYTE,
                    _header_lead.pack(FRAME_HEADER, channel_id),
                )
            ),
        )
        cache = self._deliver_cache
        if len(cache) >= _DELIVER_CACHE_MAX:
            cache.clear()
        cache[channel_id, consumer_tag, exchange, routing_key] = parts
        return parts

    #: the last publisher ack queued: its frame, channel and delivery tag
    _last_ack: tuple[bytes, int, int] | None = None

    def send_publisher_ack(self, channel_id: int, delivery_tag: int, multiple: bool) -> None:
        """Queue a basic.ack confirming publishes (the confirm hot path).

        Like RabbitMQ, confirms are coalesced: when the frame last queued (and not yet
        written) confirms the channel's previous publish, it is replaced by one
        ``multiple`` ack up to this one (every earlier publish is confirmed already).
        """
        outgoing = self._outgoing
        last = self._last_ack
        if (
            last is not None
            and outgoing
            and outgoing[-1] is last[0]
            and last[1] == channel_id
            and last[2] == delivery_tag - 1
        ):
            frame = encode_ack(channel_id, delivery_tag, True)
            outgoing[-1] = frame
        else:
            frame = encode_ack(channel_id, delivery_tag, multiple)
            outgoing.append(frame)
        self._last_ack = (frame, channel_id, delivery_tag)

    def send_raw(self, data: bytes) -> None:
        """Queue bytes as they are (fault injection)."""
        self._outgoing.append(data)
