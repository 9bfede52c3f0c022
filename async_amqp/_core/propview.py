"""The broker model's view of a message's raw property list: opaque, parsed at most once.

The fake broker keeps each message's property list as the publisher encoded it
(:mod:`async_amqp._core.rawprops` splits and re-joins such lists). Its rules read
a few properties of each published message; a :class:`RawProperties` view gives
them from one parse of the list, made on the first read, so the model never
touches the bytes. The check the broker core runs on every published list
(:func:`accepted_properties`) leaves its parse in the view it returns, and a short
list's view is shared by every message carrying the same bytes.
"""

from __future__ import annotations

from typing import Final

from .fieldtable import FieldValue
from .frames import EMPTY_PROPERTIES
from .rawprops import PropertyList, check_publish_properties

__all__ = ["RawProperties", "accepted_properties", "known_properties", "shared_properties"]


class RawProperties:
    """A message's raw property list, kept opaque and parsed at most once, when first read.

    The broker's rules read a few properties of each published message (``user_id``,
    ``expiration``, ``priority``, the headers a headers exchange matches...). A view
    hands them out from one parse of the list, made on the first read, and keeps the
    decoded headers; a list nobody reads is never parsed. The parse and the header
    entries it hands out are shared: callers must not change them (:meth:`edit` gives
    a copy to rewrite).

    :param raw: the content header's property flags and list
    :param parsed: the list's slices, when the caller has already split them
    """

    __slots__ = ("_headers", "_headers_read", "_parsed", "raw")

    def __init__(self, raw: bytes, parsed: PropertyList | None = None) -> None:
        self.raw = raw
        self._parsed = parsed
        self._headers: list[tuple[bytes, FieldValue]] | None = None
        self._headers_read = False

    @property
    def flags(self) -> int:
        """The list's first flags word: :func:`~.rawprops.property_flag` set for each
        property present; -1 (every bit) for a list too short to have one, so that a
        caller asking whether some property is there goes on to read it (and fails)."""
        raw = self.raw
        return int.from_bytes(raw[:2], "big") if len(raw) >= 2 else -1

    @property
    def empty(self) -> bool:
        """True when no property is set (nothing to read)."""
        return self.raw == EMPTY_PROPERTIES

    def _slices(self) -> PropertyList:
        parsed = self._parsed
        if parsed is None:
            parsed = self._parsed = PropertyList.parse(self.raw)
        return parsed

    def _slot(self, slot: int) -> bytes | None:
        """The raw bytes of property *slot*; ``None`` when absent (an empty list is not parsed).

        :raises ValueError: for a truncated list
        """
        parsed = self._parsed
        if parsed is None:
            if self.raw == EMPTY_PROPERTIES:
                return None
            parsed = self._slices()
        return parsed.slots[slot]

    def shortstr(self, slot: int) -> bytes | None:
        """A shortstr property as bytes (without its length octet); ``None`` when absent.

        :raises ValueError: for a truncated list
        """
        value = self._slot(slot)
        return None if value is None else value[1:]

    def octet(self, slot: int) -> int | None:
        """An octet property (``delivery_mode``, ``priority``); ``None`` when absent.

        :raises ValueError: for a truncated list
        """
        value = self._slot(slot)
        return None if value is None else value[0]

    def header_entries(self) -> list[tuple[bytes, FieldValue]] | None:
        """The headers as ``(raw key, value)`` pairs in wire order, decoded once (shared:
        do not change the list); ``None`` when there are none.

        :raises ValueError: for a truncated list (`FieldTableError` for bad headers)
        """
        if not self._headers_read:
            if self.raw != EMPTY_PROPERTIES:
                self._headers = self._slices().header_entries()
            self._headers_read = True
        return self._headers

    def edit(self) -> PropertyList:
        """The list's slices, copied, to rewrite some properties and encode again.

        :raises ValueError: for a truncated list
        """
        parsed = self._slices()
        return PropertyList(list(parsed.slots), parsed.extra_flags)


# Property lists accepted before (most publishers send a few short ones, again and
# again): the bytes of those accepted once (cheap to keep: no parse held), and a shared
# view of those seen again, checked once and parsed once for all their messages. A list
# seen once (one carrying a message id, say) never holds on to its parse: keeping
# thousands of parsed lists would cost the collector more than parsing saves.
_SHARED_SIZE: Final = 256
_SHARED_MAX: Final = 1024
_seen: set[bytes] = set()
_shared: dict[bytes, RawProperties] = {}


def _share(raw: bytes) -> RawProperties:
    """The shared view of a list accepted before (parsed when first read)."""
    if len(_shared) >= _SHARED_MAX:
        _shared.clear()
    view = _shared[raw] = RawProperties(raw)
    return view


def known_properties(raw: bytes) -> RawProperties | None:
    """The shared view of a property list accepted before (by :func:`accepted_properties`);
    ``None`` for one not seen (or forgotten)."""
    view = _shared.get(raw)
    if view is None and raw in _seen:
        view = _share(raw)
    return view


def accepted_properties(raw: bytes) -> RawProperties | None:
    """A published message's property list checked as :func:`check_publish_properties`
    does, as a view holding the slices the check split; ``None`` where RabbitMQ refuses it.

    A short list accepted before is not checked again: its view is shared by every
    message carrying the same bytes.
    """
    view = known_properties(raw)
    if view is not None:
        return view
    try:
        slices = check_publish_properties(raw)
    except ValueError:
        return None
    raw = bytes(raw)
    if len(raw) <= _SHARED_SIZE:
        if len(_seen) >= _SHARED_MAX:
            _seen.clear()
        _seen.add(raw)
    return RawProperties(raw, slices)


def shared_properties(raw: bytes) -> RawProperties:
    """A view of *raw*: the shared one if the list was accepted before, else a new view
    (unchecked, and not remembered: only checked lists are shared).
    """
    view = _shared.get(raw)
    return view if view is not None else RawProperties(raw)
