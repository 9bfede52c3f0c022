"""Raw content-header property lists, split and re-joined byte for byte.

A broker passes properties through exactly as the publisher encoded them
(every header keeps its type tag; non-UTF-8 strings survive). Where RabbitMQ
changes them (BCC removed, direct reply-to's ``reply_to`` rewritten,
dead-lettering's headers) a :class:`PropertyList` splits the raw list into
per-property slices and only the changed slices are re-encoded;
:func:`property_bytes` reads one property without decoding the rest. Also
here: decoding a raw list as leniently as RabbitMQ reads it (strings need not
be UTF-8, headers of any depth, timestamps past year 9999).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from pamqp.commands import Basic

from .fieldtable import FieldValue, decode_plain, encode_entries, iter_raw_table, plain_timestamp
from .frames import EMPTY_PROPERTIES

__all__ = [
    "PropertyList",
    "PropertySlot",
    "check_publish_properties",
    "decode_properties",
    "decode_property_list",
    "decode_publish_properties",
    "property_bytes",
    "property_flag",
    "property_octet",
    "property_shortstr",
]


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
_flags_word = struct.Struct(">H")
_table_size = struct.Struct(">I")
#: Each slot's encoded width: 0 a shortstr, -1 a table, else that many octets.
_WIDTHS: tuple[int, ...] = (0, 0, -1, 1, 1, 0, 0, 0, 0, 8, 0, 0, 0, 0)


def property_flag(slot: int) -> int:
    """The bit of property *slot* in a property list's first flags word."""
    return 1 << (15 - slot)


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
    if raw == EMPTY_PROPERTIES:
        return None
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
        end = _value_end(raw, offset, _WIDTHS[index])
        if index == slot:
            return raw[offset:end]
        offset = end
    return None  # not reached: the slot's flag is set


def property_octet(raw: bytes, slot: int) -> int | None:
    """An octet property (``delivery_mode``, ``priority``) of a raw property list, without
    decoding the rest; ``None`` when absent.

    :raises ValueError: when the list is truncated before that property
    """
    value = property_bytes(raw, slot)
    return None if value is None else value[0]


def property_shortstr(raw: bytes, slot: int) -> bytes | None:
    """A shortstr property of a raw property list as bytes (without its length octet),
    without decoding the rest; ``None`` when absent.

    :raises ValueError: when the list is truncated before that property
    """
    value = property_bytes(raw, slot)
    return None if value is None else value[1:]


def _value_end(raw: bytes, offset: int, width: int) -> int:
    """Where the value of a slot of this width (:data:`_WIDTHS`) at *offset* ends
    (:meth:`PropertyList.split` inlines the same rule in its loop, a hot path)."""
    if not width:
        end = offset + 1 + raw[offset]
    elif width < 0:
        end = offset + 4 + _table_size.unpack_from(raw, offset)[0]
    else:
        end = offset + width
    if end > len(raw):
        raise ValueError("truncated property list")
    return end


#: Per flags word (its 14 property bits): the slot and width of each property present.
_layouts: dict[int, tuple[tuple[int, int], ...]] = {}


def _layout(word: int) -> tuple[tuple[int, int], ...]:
    layout = _layouts.get(word)
    if layout is None:
        layout = tuple(
            (index, width) for index, width in enumerate(_WIDTHS) if word & property_flag(index)
        )
        _layouts[word] = layout
    return layout


class PropertyList:
    """The 14 basic properties as raw encoded slices (``None`` = absent)."""

    __slots__ = ("extra_flags", "slots")

    def __init__(self, slots: list[bytes | None], extra_flags: bytes = b"") -> None:
        self.slots = slots
        #: continuation flag words, kept verbatim (they carry no known property)
        self.extra_flags = extra_flags

    @classmethod
    def parse(cls, raw: bytes) -> PropertyList:
        """Split a raw property list into per-property slices.

        :raises ValueError: when the encoding is truncated.
        """
        return cls.split(raw)[0]

    @classmethod
    def split(cls, raw: bytes) -> tuple[PropertyList, int]:
        """:meth:`parse`, and the offset where the list's last value ends.

        :raises ValueError: when the encoding is truncated.
        """
        (word,) = _flags_word.unpack_from(raw, 0)
        offset = 2
        extra = b""
        if word & 1:
            # Continuation words carry no known property; keep them verbatim.
            start = offset
            while True:
                (more,) = _flags_word.unpack_from(raw, offset)
                offset += 2
                if not more & 1:
                    break
            extra = raw[start:offset]
        slots: list[bytes | None] = [None] * _COUNT
        size = len(raw)
        for index, width in _layout(word & 0xFFFC):
            if not width:
                end = offset + 1 + raw[offset]
            elif width < 0:
                end = offset + 4 + _table_size.unpack_from(raw, offset)[0]
            else:
                end = offset + width
            if end > size:
                raise ValueError("truncated property list")
            slots[index] = raw[offset:end]
            offset = end
        return cls(slots, extra), offset

    def encode(self) -> bytes:
        """Flags plus the raw slices, in wire order."""
        word = 0
        for index, value in enumerate(self.slots):
            if value is not None:
                word |= 1 << (15 - index)
        if self.extra_flags:
            word |= 1
        values = b"".join(v for v in self.slots if v is not None)
        return struct.pack(">H", word) + self.extra_flags + values

    def shortstr(self, index: int) -> bytes | None:
        """The raw bytes of a shortstr property, without its length octet."""
        value = self.slots[index]
        return None if value is None else value[1:]

    def octet(self, index: int) -> int | None:
        """The value of an octet property (``delivery_mode``, ``priority``)."""
        value = self.slots[index]
        return None if value is None else value[0]

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


def check_publish_properties(raw: bytes) -> PropertyList:
    """Check a published message's property list as RabbitMQ reads it; return its slices.

    The layout must be exact (no continuation flags, nothing truncated, nothing left
    over) and the headers a well-formed table (of any depth); nothing else is decoded
    (strings need not be UTF-8, any timestamp is fine).

    :param raw: the content header's property flags and list
    :raises ValueError: where RabbitMQ closes the connection with 541 INTERNAL_ERROR
    """
    if len(raw) < 2 or raw[1] & 1:
        raise ValueError("property flags are truncated or continued")
    try:
        slots, end = PropertyList.split(raw)
    except (ValueError, IndexError, struct.error) as error:
        raise ValueError(f"property list does not decode: {error}") from error
    if raw[1] & 2 or end != len(raw):
        # What the slices would not encode back to: a reserved flag, or bytes after them.
        raise ValueError("bytes after the property list")
    headers = slots.slots[PropertySlot.HEADERS]
    if headers is not None:
        decode_plain(headers, nul_void=False)
    return slots


def decode_publish_properties(raw: bytes) -> Basic.Properties:
    """Decode a published message's property list, as strictly and as leniently as RabbitMQ.

    The layout must be exact (no continuation flags, nothing truncated, nothing left
    over) and the headers a well-formed table (of any depth), but strings need not be
    UTF-8 and a timestamp need not fit a ``datetime``: RabbitMQ keeps them as they are.

    :param raw: the content header's property flags and list
    :raises ValueError: where RabbitMQ closes the connection with 541 INTERNAL_ERROR
    """
    return decode_property_list(check_publish_properties(raw))
