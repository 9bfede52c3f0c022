"""What a message looks like to users: properties, envelopes and payloads.

:class:`Properties` holds the 14 basic properties under the names the API
document uses (``message_type`` is AMQP's ``type``). Conversion to and from
pamqp happens here and nowhere else.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from ._core.properties import FIELDS, decode_values, encode_values
from ._core.wire import EMPTY_PROPERTIES

PROPERTY_NAMES: tuple[str, ...] = tuple(name for name, _bit, _kind in FIELDS)

Payload = bytes | bytearray | memoryview | str


class Properties:
    """The basic properties of a message; every member defaults to ``None``.

    ``timestamp`` is an aware UTC :class:`~datetime.datetime`, or the ``int`` that was
    sent when no ``datetime`` can hold it (e.g. microseconds since the epoch); an
    ``int`` is also accepted for publishing and sent as it is.
    """

    __slots__ = PROPERTY_NAMES

    content_type: str | None
    content_encoding: str | None
    headers: dict[str, Any] | None
    delivery_mode: int | None
    priority: int | None
    correlation_id: str | None
    reply_to: str | None
    expiration: str | None
    message_id: str | None
    timestamp: datetime.datetime | int | None
    message_type: str | None
    user_id: str | None
    app_id: str | None
    cluster_id: str | None

    def __init__(
        self,
        content_type: str | None = None,
        content_encoding: str | None = None,
        headers: dict[str, Any] | None = None,
        delivery_mode: int | None = None,
        priority: int | None = None,
        correlation_id: str | None = None,
        reply_to: str | None = None,
        expiration: str | None = None,
        message_id: str | None = None,
        timestamp: datetime.datetime | int | None = None,
        message_type: str | None = None,
        user_id: str | None = None,
        app_id: str | None = None,
        cluster_id: str | None = None,
    ) -> None:
        self.content_type = content_type
        self.content_encoding = content_encoding
        self.headers = headers
        self.delivery_mode = delivery_mode
        self.priority = priority
        self.correlation_id = correlation_id
        self.reply_to = reply_to
        self.expiration = expiration
        self.message_id = message_id
        self.timestamp = timestamp
        self.message_type = message_type
        self.user_id = user_id
        self.app_id = app_id
        self.cluster_id = cluster_id

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Properties):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in PROPERTY_NAMES)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{name}={getattr(self, name)!r}"
            for name in PROPERTY_NAMES
            if getattr(self, name) is not None
        )
        return f"Properties({fields})"

    def as_dict(self) -> dict[str, Any]:
        """Return the properties that are set, as a dict."""
        return {
            name: getattr(self, name) for name in PROPERTY_NAMES if getattr(self, name) is not None
        }

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Properties:
        """Build properties from a dict keyed by property name.

        :raises ValueError: for a key that is not a property name
        """
        unknown = set(values) - set(PROPERTY_NAMES)
        if unknown:
            hint = " (AMQP's 'type' property is called 'message_type')" if "type" in unknown else ""
            raise ValueError(
                f"unknown message properties: {', '.join(sorted(unknown))}{hint}; "
                f"valid names are {', '.join(PROPERTY_NAMES)}"
            )
        return cls(**values)

    @classmethod
    def decode(cls, payload: bytes) -> Properties:
        """Decode a content header's property list.

        :raises ValueError: when the property list is malformed
        """
        return cls(*decode_values(payload))

    def encode(self) -> bytes:
        """Encode as a content header's flags and property list.

        :raises ValueError: for a value out of range (e.g. a short string over 255 bytes)
        :raises TypeError: for a value of the wrong type
        """
        return encode_values(
            (
                self.content_type,
                self.content_encoding,
                self.headers,
                self.delivery_mode,
                self.priority,
                self.correlation_id,
                self.reply_to,
                self.expiration,
                self.message_id,
                self.timestamp,
                self.message_type,
                self.user_id,
                self.app_id,
                self.cluster_id,
            )
        )


def encode_properties(properties: Properties | Mapping[str, Any] | None) -> bytes:
    """Encode what a caller passed as ``properties`` (None, a dict or :class:`Properties`).

    :raises ValueError: for an unknown property name
    :raises TypeError: for a value of the wrong type
    """
    if properties is None:
        return EMPTY_PROPERTIES
    if isinstance(properties, Properties):
        return properties.encode()
    if isinstance(properties, Mapping):
        if not properties:
            return EMPTY_PROPERTIES
        return Properties.from_mapping(properties).encode()
    raise TypeError(
        f"properties must be a dict or async_amqp.Properties, not {type(properties).__name__}"
    )


def encode_payload(payload: Payload) -> bytes:
    """Return the message body as bytes (a str is encoded as UTF-8).

    :raises TypeError: for anything that is not bytes-like or str
    """
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode("utf-8")
    if isinstance(payload, bytearray | memoryview):
        return bytes(payload)
    raise TypeError(
        f"payload must be bytes, bytearray, memoryview or str, not {type(payload).__name__}"
    )


class Envelope:
    """Where a delivered message came from, and the tag to acknowledge it with."""

    __slots__ = ("consumer_tag", "delivery_tag", "exchange_name", "is_redeliver", "routing_key")

    def __init__(
        self,
        consumer_tag: str,
        delivery_tag: int,
        exchange_name: str,
        routing_key: str,
        is_redeliver: bool,
    ) -> None:
        self.consumer_tag = consumer_tag
        self.delivery_tag = delivery_tag
        self.exchange_name = exchange_name
        self.routing_key = routing_key
        self.is_redeliver = is_redeliver

    def __repr__(self) -> str:
        return (
            f"Envelope(consumer_tag={self.consumer_tag!r}, delivery_tag={self.delivery_tag}, "
            f"exchange_name={self.exchange_name!r}, routing_key={self.routing_key!r}, "
            f"is_redeliver={self.is_redeliver})"
        )


class ReturnEnvelope:
    """Why and from where the broker returned a mandatory message."""

    __slots__ = ("exchange_name", "reply_code", "reply_text", "routing_key")

    def __init__(
        self, reply_code: int, reply_text: str, exchange_name: str, routing_key: str
    ) -> None:
        self.reply_code = reply_code
        self.reply_text = reply_text
        self.exchange_name = exchange_name
        self.routing_key = routing_key

    def __repr__(self) -> str:
        return (
            f"ReturnEnvelope(reply_code={self.reply_code}, reply_text={self.reply_text!r}, "
            f"exchange_name={self.exchange_name!r}, routing_key={self.routing_key!r})"
        )
