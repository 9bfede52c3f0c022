"""Messages and their content-header properties, kept byte for byte.

A delivery must carry the properties exactly as the publisher encoded them
(every header keeps its type tag; non-UTF-8 longstrs survive). Where RabbitMQ
changes the properties (BCC removed, direct reply-to's ``reply_to`` rewritten,
dead-lettering's headers) the raw property list is split into per-property
slices and only the changed slices are re-encoded.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Iterable

from pamqp.commands import Basic

from .errors import AmqpError, precondition_failed
from .fieldtable import FieldValue, decode_plain, encode_entries, iter_raw_table, plain_timestamp

__all__ = [
    "MAX_EXPIRY_MS",
    "Message",
    "PropertyList",
    "PropertySlot",
    "decode_properties",
    "decode_property_list",
    "find_header",
    "header_routes",
    "parse_expiration",
    "property_bytes",
    "without_header",
]

# RabbitMQ refuses TTLs above ten years (observed bound for x-message-ttl,
# x-expires and the expiration property).
MAX_EXPIRY_MS = 315_360_000_000


class PropertySlot:
    """Index of each basic property in the property list, in wire order."""

    CONTENT_TYPE = 0
    CONTENT_ENCODING = 1
    HEADERS = 2
    DELIVERY_MODE = 3
    PRIORITY = 4
    CORRELATION_ID = 5
    REPLY_TO = 6
    EXPIRATION = 7
    MESSAGE_ID = 8
    TIMESTAMP = 9
    TYPE = 10
    USER_ID = 11
    APP_ID = 12
    CLUSTER_ID = 13


_COUNT = 14
# Encoded width of each slot: "s" shortstr, "t" table, 1/8 fixed octets.
_KINDS: tuple[str | int, ...] = ("s", "s", "t", 1, 1, "s", "s", "s", "s", 8, "s", "s", "s", "s")


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
    as ``bytes``, the property list exactly as published (short lists shared between
    messages), and the exchange and routing key as interned strings (shared between
    messages). The decoded :attr:`properties` are not kept: they are decoded from
    ``raw_properties`` on each access (inspection, tests); the broker's own rules read
    the few properties they need from the raw bytes (:func:`property_bytes`).

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
        body: bytes,
    ) -> None:
        del properties  # decoded again from raw_properties when asked for
        self.exchange = sys.intern(exchange)
        self.routing_key = sys.intern(routing_key)
        self.raw_properties = _shared(bytes(raw_properties))
        self.body = bytes(body)

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
            f"raw_properties={self.raw_properties!r}, body={self.body!r})"
        )


def decode_properties(raw: bytes) -> Basic.Properties:
    """Decode a raw property list (flags + values) as the broker reads it.

    :raises ValueError: when the list or its headers table is malformed
    """
    return decode_property_list(PropertyList.parse(raw))


_PROPERTY_NAMES = Basic.Properties.__slots__


def decode_property_list(slots: PropertyList) -> Basic.Properties:
    """Decoded properties from raw slices, without pamqp's limits.

    Strings that are not UTF-8 (RabbitMQ keeps them as bytes) are decoded with
    ``surrogateescape``; headers of any depth are read without recursion (a malformed
    table raises `FieldTableError`); a timestamp no ``datetime`` can hold stays the
    integer sent, as the client gives it.
    """
    properties = Basic.Properties()
    for name, value in zip(_PROPERTY_NAMES, slots.slots, strict=True):
        if value is None:
            continue
        decoded: object
        if name == "headers":
            decoded = decode_plain(value, nul_void=False)[1]
        elif name in ("delivery_mode", "priority"):
            decoded = value[0]
        elif name == "timestamp":
            decoded = plain_timestamp(int.from_bytes(value, "big"))
        else:
            decoded = value[1:].decode("utf-8", "surrogateescape")
        setattr(properties, name, decoded)
    return properties


def property_bytes(raw: bytes, slot: int) -> bytes | None:
    """The encoded value of one property in a raw property list, without decoding the rest
    (a shortstr keeps its length octet); ``None`` when absent.

    :param raw: a property list as published (flags, then values)
    :param slot: a :class:`PropertySlot` index
    :raises ValueError: when the list is truncated before that property
    """
    (word,) = struct.unpack_from(">H", raw, 0)
    if not word & (1 << (15 - slot)):
        return None
    offset = 2
    if word & 1:
        while True:
            (more,) = struct.unpack_from(">H", raw, offset)
            offset += 2
            if not more & 1:
                break
    for index in range(slot + 1):
        if not word & (1 << (15 - index)):
            continue
        end = _value_end(raw, offset, _KINDS[index])
        if index == slot:
            return raw[offset:end]
        offset = end
    return None  # not reached: the slot's flag is set


def _value_end(raw: bytes, offset: int, kind: str | int) -> int:
    if kind == "s":
        end = offset + 1 + raw[offset]
    elif kind == "t":
        (length,) = struct.unpack_from(">I", raw, offset)
        end = offset + 4 + length
    else:
        assert isinstance(kind, int)
        end = offset + kind
    if end > len(raw):
        raise ValueError("truncated property list")
    return end


class PropertyList:
    """The 14 basic properties as raw encoded slices (``None`` = absent)."""

    __slots__ = ("_extra_flags", "slots")

    def __init__(self, slots: list[bytes | None], extra_flags: bytes = b"") -> None:
        self.slots = slots
        self._extra_flags = extra_flags

    @classmethod
    def parse(cls, raw: bytes) -> PropertyList:
        """Split a raw property list into per-property slices.

        :raises ValueError: when the encoding is truncated.
        """
        (word,) = struct.unpack_from(">H", raw, 0)
        offset = 2
        extra = b""
        if word & 1:
            # Continuation words carry no known property; keep them verbatim.
            start = offset
            while True:
                (more,) = struct.unpack_from(">H", raw, offset)
                offset += 2
                if not more & 1:
                    break
            extra = raw[start:offset]
        slots: list[bytes | None] = [None] * _COUNT
        for index, kind in enumerate(_KINDS):
            if not word & (1 << (15 - index)):
                continue
            end = _value_end(raw, offset, kind)
            slots[index] = raw[offset:end]
            offset = end
        return cls(slots, extra)

    def encode(self) -> bytes:
        """Flags plus the raw slices, in wire order."""
        word = 0
        for index, value in enumerate(self.slots):
            if value is not None:
                word |= 1 << (15 - index)
        if self._extra_flags:
            word |= 1
        values = b"".join(v for v in self.slots if v is not None)
        return struct.pack(">H", word) + self._extra_flags + values

    def shortstr(self, index: int) -> bytes | None:
        """The raw bytes of a shortstr property, without its length octet."""
        value = self.slots[index]
        return None if value is None else value[1:]

    def set_shortstr(self, index: int, value: bytes | None) -> None:
        """Replace (or remove, with ``None``) a shortstr property."""
        self.slots[index] = None if value is None else bytes([len(value)]) + value

    def header_entries(self) -> list[tuple[bytes, FieldValue]] | None:
        """The headers table as ``(raw key, value)`` pairs in wire order; ``None`` if absent.

        :raises FieldTableError: for a malformed table.
        """
        value = self.slots[PropertySlot.HEADERS]
        if value is None:
            return None
        return list(iter_raw_table(value[4:]))

    def set_header_entries(self, entries: Iterable[tuple[bytes, FieldValue]]) -> None:
        """Replace the headers table (keeping each value's raw encoding)."""
        self.slots[PropertySlot.HEADERS] = encode_entries(entries)


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
