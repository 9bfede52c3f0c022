"""What the client says and agrees on while a connection opens.

The handshake's decisions that need no connection state live here as plain
functions: which requested settings are possible at all, the properties and
capabilities the client announces, the SASL response for each mechanism, and
how tuning values are agreed with the broker's offer. The connection's state
machine (:mod:`.client`) calls them from connection.start and connection.tune.
"""

from __future__ import annotations

import platform
from typing import Any

from pamqp import encode

from .codes import ReplyCode
from .errors import NotAmqpPeer, ProtocolError, ProtocolHeaderMismatch
from .wire import FRAME_METHOD, FRAME_MIN_SIZE

#: What RabbitMQ clients announce; the broker enables the matching extensions.
CLIENT_CAPABILITIES: dict[str, Any] = {
    "publisher_confirms": True,
    "exchange_exchange_bindings": True,
    "basic.nack": True,
    "consumer_cancel_notify": True,
    "connection.blocked": True,
    "authentication_failure_close": True,
    "per_consumer_qos": True,
}

DEFAULT_FRAME_MAX = 131072
SUPPORTED_MECHANISMS = ("PLAIN", "AMQPLAIN", "EXTERNAL")


def check_settings(
    login_method: str, channel_max: int | None, frame_max: int | None, heartbeat: int | None
) -> None:
    """Refuse, before connecting, settings that no handshake could agree on.

    :raises ValueError: for an unsupported mechanism or a tuning value out of range
    """
    if login_method not in SUPPORTED_MECHANISMS:
        raise ValueError(
            f"login_method {login_method!r} is not supported; "
            f"use one of {', '.join(SUPPORTED_MECHANISMS)}"
        )
    if frame_max is not None and frame_max and frame_max < FRAME_MIN_SIZE:
        raise ValueError(f"frame_max must be at least {FRAME_MIN_SIZE}, not {frame_max}")
    if channel_max is not None and not 0 <= channel_max <= 65535:
        raise ValueError(f"channel_max must be between 0 and 65535, not {channel_max}")
    if heartbeat is not None and not 0 <= heartbeat <= 65535:
        raise ValueError(f"heartbeat must be between 0 and 65535 seconds, not {heartbeat}")


class Greeting:
    """Holds the peer's first bytes until they can start a connection.start frame.

    AMQP's first frame is a method frame on channel 0, so a single octet tells an AMQP
    broker from an HTTP, NATS or SMTP server; a protocol header (the broker refusing
    our version) is recognised however it is split across reads.
    """

    __slots__ = ("held", "passed")

    def __init__(self) -> None:
        self.held = bytearray()
        self.passed = False

    def feed(self, data: bytes) -> bytes:
        """Take received bytes; return those to cut into frames (none while undecided).

        :raises ProtocolHeaderMismatch: for a protocol header
        :raises NotAmqpPeer: for anything but a method frame on channel 0
        """
        held = self.held
        held += data
        head = bytes(held[:8])
        if b"AMQP".startswith(head[:4]):
            if len(head) < 8:
                return b""
            raise ProtocolHeaderMismatch(head)
        if head[0] != FRAME_METHOD or head[1:3] != b"\x00\x00"[: len(head) - 1]:
            raise NotAmqpPeer(bytes(held[:64]))
        if len(head) < 3:
            return b""
        self.passed = True
        return bytes(held)


def check_frame_max(frame_max: int) -> None:
    """Refuse a negotiated frame_max below AMQP's minimum (RabbitMQ's check and text).

    :raises ProtocolError: 530 NOT_ALLOWED, naming connection.tune
    """
    if frame_max < FRAME_MIN_SIZE:
        raise ProtocolError(
            ReplyCode.NOT_ALLOWED,
            f"negotiated frame_max = {frame_max} is lower than the minimum allowed value "
            f"({FRAME_MIN_SIZE})",
            class_id=10,
            method_id=30,
        )


def build_client_properties(product_version: str, extra: dict[str, Any] | None) -> dict[str, Any]:
    """Return the client properties to announce: ours, with *extra* merged over them.

    :param product_version: the ``version`` property
    :param extra: the caller's properties; its ``capabilities`` are merged into ours
    """
    properties: dict[str, Any] = {
        "product": "async_amqp",
        "version": product_version,
        "platform": f"Python {platform.python_version()}",
        "information": "async_amqp: an AMQP 0-9-1 client for anyio (asyncio and trio)",
    }
    user_properties = dict(extra or {})
    capabilities = dict(CLIENT_CAPABILITIES)
    capabilities.update(user_properties.pop("capabilities", None) or {})
    properties.update(user_properties)
    properties["capabilities"] = capabilities
    return properties


def sasl_response(mechanism: str, login: str, password: str) -> bytes:
    """Encode the SASL response for *mechanism*.

    :raises ValueError: for a mechanism the client does not implement
    """
    if mechanism == "PLAIN":
        return b"\0" + login.encode() + b"\0" + password.encode()
    if mechanism == "AMQPLAIN":
        return encode.field_table({"LOGIN": login, "PASSWORD": password})[4:]
    if mechanism == "EXTERNAL":
        return b""
    raise ValueError(
        f"login_method {mechanism!r} is not supported; use one of {', '.join(SUPPORTED_MECHANISMS)}"
    )


def negotiate(requested: int | None, offered: int, unlimited: int) -> int:
    """Agree on a tuning value the way RabbitMQ clients do.

    ``None`` takes the server's offer; 0 from either side means "no limit"
    (replaced by *unlimited*, because RabbitMQ refuses 0 in tune-ok);
    otherwise the smaller value wins.
    """
    if not requested:
        return offered or unlimited
    if not offered:
        return requested
    return min(requested, offered)


def negotiate_heartbeat(requested: int | None, offered: int) -> int:
    """Agree on the heartbeat interval: ``None`` takes the offer, 0 disables."""
    if requested is None:
        return offered
    if requested == 0 or offered == 0:
        return requested
    return min(requested, offered)
