"""Erlang's printing of terms, as it shows in some of RabbitMQ's reply texts.

RabbitMQ formats frame errors with Erlang's ``~p``: a binary of printable
Latin-1 bytes is quoted as a string, any other binary is a list of numbers,
and a term that does not fit in the 80-column line is broken over several
lines ("fill" for the numbers of a binary, one element a line for a tuple).
``~w`` (used for "cannot decode") never quotes and never breaks. Reproducing
this byte for byte lets the fake broker's texts equal RabbitMQ's.

Texts are ``str``; a Latin-1 byte above 127 that Erlang writes raw is kept as
a surrogate escape (``chr(0xDC00 + byte)``), so encoding the text with
``errors="surrogateescape"`` gives the bytes RabbitMQ sends.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

#: Erlang's io_lib_pretty line length: a term fits when it ends before this column.
LINE_LENGTH: Final = 80

_ESCAPES: Final = {
    ord("\\"): "\\\\",
    ord('"'): '\\"',
    ord("\n"): "\\n",
    ord("\r"): "\\r",
    ord("\t"): "\\t",
    0x0B: "\\v",
    0x08: "\\b",
    0x0C: "\\f",
    0x1B: "\\e",
}


def _printable(data: bytes) -> bool:
    return all(32 <= byte <= 126 or 160 <= byte <= 255 or byte in _ESCAPES for byte in data)


def binary_w(data: bytes) -> str:
    """``~w`` of a binary: ``<<1,2,3>>``, never a string, never broken."""
    return "<<" + ",".join(str(byte) for byte in data) + ">>"


def binary_p(data: bytes, column: int = 0) -> str:
    """``~p`` of a binary printed from *column*: a string when printable, else numbers.

    :param data: the binary
    :param column: the column the term starts at
    """
    if not data:
        return "<<>>"
    if _printable(data):
        chars = "".join(
            _ESCAPES.get(byte) or (chr(byte) if byte < 128 else chr(0xDC00 + byte)) for byte in data
        )
        return f'<<"{chars}">>'
    text = binary_w(data)
    if column + len(text) < LINE_LENGTH:
        return text
    indent = column + 2
    pieces = ["<<"]
    position = indent
    last = len(data) - 1
    for index, byte in enumerate(data):
        piece = f"{byte}{',' if index < last else '>>'}"
        if position + len(piece) >= LINE_LENGTH and position > indent:
            pieces.append("\n" + " " * indent)
            position = indent
        pieces.append(piece)
        position += len(piece)
    return "".join(pieces)


def tuple_p(elements: Sequence[str], column: int = 0) -> str:
    """``~p`` of a tuple of already printed elements, from *column*.

    :param elements: the printed elements
    :param column: the column the tuple starts at
    """
    text = "{" + ",".join(elements) + "}"
    if column + len(text) < LINE_LENGTH:
        return text
    return "{" + (",\n" + " " * (column + 1)).join(elements) + "}"


def end_column(text: str, column: int = 0) -> int:
    """The column after *text* printed from *column* (text may span lines).

    :param text: the printed text
    :param column: where it started
    """
    newline = text.rfind("\n")
    return column + len(text) if newline < 0 else len(text) - newline - 1


def unexpected_frame_text(frame_type: int, payload: bytes) -> str:
    """RabbitMQ's detail for a frame the connection's state does not allow.

    :param frame_type: the frame type octet
    :param payload: the frame payload (only the first 16 octets are quoted)
    """
    head = f"type {frame_type}, " + (
        "all octets = " if len(payload) <= 16 else "first 16 octets = "
    )
    return head + binary_p(payload[:16], len(head))


def frame_error_text(frame_type: int, payload: bytes, reason: str | Sequence[str]) -> str:
    """RabbitMQ's frame-error detail: ``type T, all octets = <<...>>: REASON``.

    :param frame_type: the frame type octet
    :param payload: the frame payload (only the first 16 octets are quoted)
    :param reason: an atom, or a tuple's printed elements
    """
    text = unexpected_frame_text(frame_type, payload) + ": "
    if isinstance(reason, str):
        return text + reason
    return text + tuple_p(reason, end_column(text))
