"""An opt-in frame trace: one log line per AMQP frame, bodies abbreviated, secrets hidden.

Both the client (logger ``async_amqp.frames``) and the fake broker (logger
``async_amqp_testing.frames``) feed the bytes they send and receive to a
:class:`FrameTrace`. The trace is off unless its logger is enabled for DEBUG
*explicitly* (``logging.getLogger("async_amqp.frames").setLevel(logging.DEBUG)``)
when the connection starts: enabling the parent logger for DEBUG does not turn it
on, and a connection without a trace pays nothing for it.
"""

from __future__ import annotations

import logging

from pamqp import base, body, frame, header, heartbeat

__all__ = ["FrameTrace", "frame_logger"]

#: The frame logs of the client and of the broker.
CLIENT_FRAMES = "async_amqp.frames"
BROKER_FRAMES = "async_amqp_testing.frames"
#: Arguments that carry credentials: shown as their length only.
_SECRET_FIELDS = {"response", "challenge"}
_BODY_SHOWN = 32
_FIELD_SHOWN = 80


def frame_logger(name: str) -> logging.Logger:
    """The frame logger *name*, off (INFO) unless the application sets it to DEBUG.

    :param name: :data:`CLIENT_FRAMES` or :data:`BROKER_FRAMES`
    """
    logger = logging.getLogger(name)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)  # not inherited from the parent: opt-in only
    return logger


def _short(value: object, limit: int = _FIELD_SHOWN) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_frame(value: object) -> str:
    """One frame, for the trace: method with arguments, header, abbreviated body, heartbeat.

    :param value: a frame decoded by pamqp
    """
    if isinstance(value, body.ContentBody):
        data = bytes(value.value)
        return f"body {len(data)} bytes {_short(data[:_BODY_SHOWN])}" + (
            "…" if len(data) > _BODY_SHOWN else ""
        )
    if isinstance(value, header.ContentHeader):
        properties = {
            name: getattr(value.properties, name)
            for name in value.properties.__slots__
            if getattr(value.properties, name, None) is not None
        }
        return f"header body_size={value.body_size} properties={_short(properties, 200)}"
    if isinstance(value, heartbeat.Heartbeat):
        return "heartbeat"
    if isinstance(value, header.ProtocolHeader):
        return f"protocol header AMQP {value.major_version}-{value.minor_version}-{value.revision}"
    if isinstance(value, base.Frame):
        fields = ", ".join(
            f"{name}=<{len(getattr(value, name) or '')} bytes hidden>"
            if name in _SECRET_FIELDS
            else f"{name}={_short(getattr(value, name))}"
            for name in value.__slots__
        )
        return f"{value.name}({fields})"
    return type(value).__name__


class FrameTrace:
    """Splits one direction of a connection's bytes into frames and logs each.

    :param logger: the frame logger
    :param label: names the connection in each line (e.g. ``127.0.0.1:5672``)
    :param arrow: ``->`` for sent bytes, ``<-`` for received ones
    """

    def __init__(self, logger: logging.Logger, label: str, arrow: str) -> None:
        self.logger = logger
        self.label = label
        self.arrow = arrow
        self._buffer = bytearray()

    @classmethod
    def pair(cls, name: str, label: str) -> tuple[FrameTrace, FrameTrace] | None:
        """A (sent, received) pair of traces when the frame logger is on, else None.

        :param name: the frame logger's name
        :param label: names the connection in each line
        """
        logger = frame_logger(name)
        if not logger.isEnabledFor(logging.DEBUG):
            return None
        return cls(logger, label, "->"), cls(logger, label, "<-")

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Log every frame that *data* completes.

        :param data: the next bytes of this direction
        """
        buffer = self._buffer
        buffer += data
        while buffer:
            size = 8 if buffer[:4] == b"AMQP" else self._frame_size()
            if size is None or len(buffer) < size:
                return
            chunk = bytes(buffer[:size])
            del buffer[:size]
            try:
                _, channel, value = frame.unmarshal(chunk)
                text = f"ch{channel} {describe_frame(value)}"
            except Exception as error:  # a broken frame: say so, keep tracing
                text = f"undecodable frame of {size} bytes ({error})"
            self.logger.debug("%s %s %s", self.label, self.arrow, text)

    def _frame_size(self) -> int | None:
        if len(self._buffer) < 7:
            return None
        return 7 + int.from_bytes(self._buffer[3:7], "big") + 1
