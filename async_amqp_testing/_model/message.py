"""Messages and their content-header properties, kept byte for byte.

A delivery must carry the properties exactly as the publisher encoded them
(every header keeps its type tag; non-UTF-8 longstrs survive). Where RabbitMQ
changes the properties (BCC removed, direct reply-to's ``reply_to`` rewritten,
dead-lettering's headers) the raw property list is split into per-property
slices and only the changed slices are re-encoded. The byte-level codec of
property lists is the core's (:mod:`async_amqp._core.rawprops`, re-exported
here); this module keeps the message record and the broker's header rules.
"""

from __future__ import annotations

import sys

from pamqp.commands import Basic

from async_amqp._core.propview import RawProperties, shared_properties
from async_amqp._core.rawprops import (
    PropertyList,
    PropertySlot,
    decode_properties,
    decode_property_list,
    property_bytes,
    property_octet,
    property_shortstr,
)
from async_amqp._core.server_events import Body
from async_amqp._core.server_publish import held_body

from .errors import AmqpError, precondition_failed
from .fieldtable import FieldValue

__all__ = [
    "MAX_EXPIRY_MS",
    "Message",
    "PropertyList",
    "PropertySlot",
    "RawProperties",
    "decode_properties",
    "decode_property_list",
    "find_header",
    "header_routes",
    "parse_expiration",
    "property_bytes",
    "property_octet",
    "property_shortstr",
    "shared_properties",
    "without_header",
]

# RabbitMQ refuses TTLs above ten years (observed bound for x-message-ttl,
# x-expires and the expiration property).
MAX_EXPIRY_MS = 315_360_000_000


# Property lists up to this size are shared between messages that carry the same bytes
# (most publishers send the same few short lists: none, a content type, persistent).
_SHARED_RAW_MAX = 48
_SHARED_RAW_ENTRIES = 1024
_shared_raw: dict[bytes, bytes] = {}


def _shared(raw: bytes) -> bytes:
    if len(raw) > _SHARED_RAW_MAX:
        return raw
    shared = _shared_raw.get(raw)
    if shared is None:
        if len(_shared_raw) >= _SHARED_RAW_ENTRIES:
            _shared_raw.clear()
        shared = _shared_raw[raw] = bytes(raw)
    return shared


class Message:
    """A published message: where it was published, its raw property list and its body.

    Compact by design, as a queue may hold millions: one slotted object holding the body
    as ``bytes`` (a large body received in one frame: a read-only view of the received
    bytes, not a copy; see :data:`~async_amqp._core.server_events.Body`), the property
    list exactly as published (short lists shared between messages), and the exchange
    and routing key as interned strings (shared between messages). The decoded
    :attr:`properties` are not kept: they are decoded from ``raw_properties`` on each
    access (inspection, tests); the broker's own rules read the few properties they need
    through the core's view of the list (:class:`RawProperties`, parsed at most once per
    publish and handed along with the message through routing to the queues) or its
    one-off accessors (:func:`property_octet`).

    :param exchange: the exchange it was published to
    :param routing_key: the routing key it was published with
    :param properties: the decoded properties, if the caller has them; not kept
        (``raw_properties`` is what counts)
    :param raw_properties: the content header's property flags and list, as published
    :param body: the body
    """

    __slots__ = ("body", "exchange", "raw_properties", "routing_key")

    def __init__(
        self,
        exchange: str,
        routing_key: str,
        properties: Basic.Properties | None,
        raw_properties: bytes,
        body: Body,
    ) -> None:
        del properties  # decoded again from raw_properties when asked for
        self.exchange = sys.intern(exchange)
        self.routing_key = sys.intern(routing_key)
        self.raw_properties = _shared(bytes(raw_properties))
        self.body: Body = held_body(body)

    @classmethod
    def build(
        cls,
        exchange: str,
        routing_key: str,
        body: bytes,
        properties: Basic.Properties | None = None,
    ) -> Message:
        """Build a message from decoded properties (encoded with pamqp), e.g. for tests."""
        props = properties if properties is not None else Basic.Properties()
        return cls(exchange, routing_key, None, props.marshal(), body)

    @property
    def properties(self) -> Basic.Properties:
        """The properties, decoded from :attr:`raw_properties` (a new object each time)."""
        return decode_properties(self.raw_properties)

    def with_property_list(self, props: PropertyList, exchange: str, routing_key: str) -> Message:
        """Same body, new property list and new exchange/routing key."""
        return Message(exchange, routing_key, None, props.encode(), self.body)

    def routed_as(self, exchange: str, routing_key: str) -> Message:
        """Same properties and body, published to another exchange/routing key."""
        return Message(exchange, routing_key, None, self.raw_properties, self.body)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return (
            self.exchange == other.exchange
            and self.routing_key == other.routing_key
            and self.raw_properties == other.raw_properties
            and self.body == other.body
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        return (
            f"Message(exchange={self.exchange!r}, routing_key={self.routing_key!r}, "
            f"raw_properties={self.raw_properties!r}, body={bytes(self.body)!r})"
        )


def find_header(entries: list[tuple[bytes, FieldValue]] | None, key: bytes) -> FieldValue | None:
    """First value for ``key`` (RabbitMQ looks headers up with ``lists:keyfind``)."""
    for name, value in entries or ():
        if name == key:
            return value
    return None


def header_routes(entries: list[tuple[bytes, FieldValue]] | None) -> list[str]:
    """The extra routing keys of the CC and BCC headers.

    :raises AmqpError: 406 when CC/BCC is not an array, as RabbitMQ words it.
    """
    routes: list[str] = []
    for key in (b"CC", b"BCC"):
        value = find_header(entries, key)
        if value is None:
            continue
        if value.tag != "A":
            raise precondition_failed(
                f'invalid message: {{unacceptable_type_in_header,"{key.decode()}",'
                f"{value.type_name}}}"
            )
        routes.extend(
            bytes(item.value).decode("utf-8", "surrogateescape")
            for item in value.value
            if item.tag == "S"
        )
    return routes


def without_header(
    entries: list[tuple[bytes, FieldValue]], key: bytes
) -> list[tuple[bytes, FieldValue]]:
    """Entries minus the first one named ``key`` (Erlang's ``lists:keydelete``)."""
    for index, (name, _) in enumerate(entries):
        if name == key:
            return entries[:index] + entries[index + 1 :]
    return entries


def parse_expiration(value: bytes) -> int:
    """Parse the ``expiration`` property as RabbitMQ does (milliseconds).

    :raises AmqpError: 406 ``invalid expiration 'S': REASON`` for anything else.
    """
    text = value.decode("utf-8", "replace")
    sign_len = 1 if text[:1] in ("+", "-") else 0
    digits_end = sign_len
    while digits_end < len(text) and text[digits_end].isascii() and text[digits_end].isdigit():
        digits_end += 1
    if digits_end == sign_len:
        raise _bad_expiration(text, "no_integer")
    number = int(text[:digits_end])
    rest = text[digits_end:]
    if rest:
        raise _bad_expiration(text, f'{{leftover_string,"{rest}"}}')
    if number < 0:
        raise _bad_expiration(text, f"{{value_negative,{number}}}")
    if number > MAX_EXPIRY_MS:
        raise _bad_expiration(text, f"{{value_too_large,{number}}}")
    return number


def _bad_expiration(text: str, reason: str) -> AmqpError:
    return precondition_failed(f"invalid expiration '{text}': {reason}")
