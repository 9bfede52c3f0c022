"""When to reconnect, where to, and how long to wait between attempts.

A lost connection, a broker's ``320 CONNECTION_FORCED`` (restart, node shutdown,
an operator's close) and a failed connect attempt (refused, timed out, reset) are
worth another attempt. Errors that would only repeat — a refused login, an unknown
vhost, an untrusted certificate, a hard error the application caused — are not:
retrying them forever would hide a bug or a misconfiguration.
"""

from __future__ import annotations

import random
import ssl
from dataclasses import dataclass

from .. import exceptions

#: Connection errors after which the broker may accept us again.
_RETRYABLE: tuple[type[BaseException], ...] = (
    exceptions.ConnectionLostError,
    exceptions.ConnectionForcedError,
    exceptions.BrokerInternalError,
    TimeoutError,
    OSError,
)
#: Retryable-looking errors that are configuration problems.
_PERMANENT: tuple[type[BaseException], ...] = (
    exceptions.AuthenticationError,
    exceptions.NotAllowedError,
    exceptions.ProtocolMismatchError,
    exceptions.ConfigurationError,
    exceptions.ReconnectTimeoutError,
)


def is_retryable(error: BaseException) -> bool:
    """True when *error* ended a connection (or attempt) in a way another attempt may fix."""
    if isinstance(error, _PERMANENT):
        return False
    if isinstance(error, exceptions.TLSError):
        # The broker hanging up mid-handshake (no cause) is a lost connection; a
        # verification failure or a refused certificate would only happen again.
        cause = error.__cause__
        return cause is None or not isinstance(cause, ssl.SSLError)
    return isinstance(error, _RETRYABLE)


@dataclass
class Backoff:
    """Jittered exponential delays: ``interval``, doubled per round, at most ``maximum``.

    Each delay is drawn from [d/2, d] so that many clients that lost the same broker do
    not come back in step (a reconnect storm).
    """

    interval: float
    maximum: float
    rounds: int = 0

    def next_delay(self) -> float:
        """Return the delay before the next round of attempts."""
        delay = min(self.maximum, self.interval * (2 ** min(self.rounds, 32)))
        self.rounds += 1
        return random.uniform(delay / 2, delay)

    def reset(self) -> None:
        """Start again from ``interval`` (after a successful recovery)."""
        self.rounds = 0


class Endpoints:
    """The URLs' connection options, tried round-robin starting after the last one used."""

    def __init__(self, options: list[dict[str, object]]) -> None:
        if not options:
            raise exceptions.ConfigurationError("connect_robust needs at least one broker address")
        self._options = options
        self._next = 0

    def __len__(self) -> int:
        return len(self._options)

    def round(self) -> list[tuple[int, dict[str, object]]]:
        """Every endpoint once, beginning with the next in turn."""
        count = len(self._options)
        order = [(self._next + step) % count for step in range(count)]
        return [(index, self._options[index]) for index in order]

    def used(self, index: int) -> None:
        """Endpoint *index* connected: the next round starts with the one after it."""
        self._next = (index + 1) % len(self._options)


def describe(options: dict[str, object]) -> str:
    """``host:port/vhost`` of one endpoint's options, without credentials."""
    port = options.get("port") or ("5671" if options.get("ssl") else "5672")
    return f"{options.get('host', 'localhost')}:{port}{_vhost(options)}"


def _vhost(options: dict[str, object]) -> str:
    vhost = str(options.get("virtualhost", "/"))
    return vhost if vhost.startswith("/") else "/" + vhost
