"""A broker connection's settings, and checking a FakeBroker's settings up front.

A broker that offers a tuning no client can accept (``channel_max`` 70000, a
negative heartbeat, ``frame_max`` 10) would start, then fail every client with an
error pointing elsewhere; these checks refuse such settings before it listens.
Both :class:`~async_amqp_testing.FakeBroker` and the command line use them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from async_amqp import ConfigurationError

__all__ = ["ConnectionSettings", "check_broker_settings"]

#: RabbitMQ's smallest frame_max (AMQP's frame-min-size).
FRAME_MIN = 4096


def _in_range(name: str, value: int, low: int, high: int, unit: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigurationError(f"{name} must be an integer {low}..{high}{unit}, not {value!r}")


def _seconds(name: str, value: float, *, positive: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ConfigurationError(f"{name} must be a number of seconds, not {value!r}")
    if value < 0 or (positive and value == 0):
        bound = "more than 0" if positive else "0 or more"
        raise ConfigurationError(f"{name} must be {bound} seconds, not {value!r}")


def check_broker_settings(
    *,
    heartbeat: int,
    frame_max: int,
    channel_max: int,
    port: int,
    timeouts: dict[str, float],
) -> None:
    """Refuse settings no client could work with.

    :param heartbeat: seconds offered in connection.tune (0..65535; 0: none)
    :param frame_max: bytes offered in connection.tune (0: no limit, else 4096..2**32-1)
    :param channel_max: channels offered in connection.tune (0..65535; 0: no limit)
    :param port: the port to listen on (0..65535; 0: any free port)
    :param timeouts: name → seconds, each 0 or more (``tls_handshake_timeout`` more than 0)
    :raises ConfigurationError: (a ``ValueError``) naming the setting and its range
    """
    _in_range("heartbeat", heartbeat, 0, 65535, " seconds")
    _in_range("channel_max", channel_max, 0, 65535)
    _in_range("port", port, 0, 65535)
    _in_range("frame_max", frame_max, 0, 2**32 - 1)
    if 0 < frame_max < FRAME_MIN:
        raise ConfigurationError(
            f"frame_max must be 0 (no limit) or at least {FRAME_MIN}, not {frame_max}"
        )
    for name, seconds in timeouts.items():
        _seconds(name, seconds, positive=name == "tls_handshake_timeout")


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """What one broker connection is configured with (taken from the broker at accept).

    :param server_properties: the connection.start ``server_properties`` table
    :param auth_mechanisms: the SASL mechanisms offered, in order (EXTERNAL only on TLS)
    :param channel_max: channel_max offered in connection.tune
    :param frame_max: frame_max offered in connection.tune
    :param heartbeat: heartbeat offered in connection.tune (seconds, 0: none)
    :param silent_close_delay: seconds before a refused or broken handshake's socket closes
    :param handshake_timeout: seconds from accept to connection.open
    :param close_timeout: seconds to wait for close-ok or the client's TCP close
    """

    server_properties: dict[str, Any]
    auth_mechanisms: tuple[str, ...] = ("PLAIN", "AMQPLAIN")
    channel_max: int = 2047
    frame_max: int = 131072
    heartbeat: int = 60
    silent_close_delay: float = 3.0
    handshake_timeout: float = 10.0
    close_timeout: float = 30.0
