"""The handshake steps of a broker connection: login, tune, open (mixed into the driver).

RabbitMQ's decisions from connection.start-ok to connection.open-ok: which
mechanism may be used (EXTERNAL on TLS only), whether the login is accepted,
refused with a 403 close (when the client announced
``authentication_failure_close``) or silently, and whether the user may open
the vhost. :class:`HandshakeSteps` is mixed into
:class:`~._driver.ConnectionDriver`, which owns the state and the closing.
"""

from __future__ import annotations

import logging
from typing import Any

from pamqp import commands

from async_amqp._core import server as sv

from ._model import BrokerModel, ConnectionModel
from ._model.errors import AmqpError
from ._ports import Transport
from ._sasl import check_login
from ._settings import ConnectionSettings
from ._tls_accept import TLSPeer

__all__ = ["OPEN_METHOD", "HandshakeSteps"]

logger = logging.getLogger("async_amqp_testing")

#: connection.open's class and method id, named in the close that refuses a vhost.
OPEN_METHOD = (commands.Connection.Open.index >> 16, commands.Connection.Open.index & 0xFFFF)


class HandshakeSteps:
    """Login, tune and open, as RabbitMQ decides them (the driver's handshake events)."""

    settings: ConnectionSettings
    model: BrokerModel
    transport: Transport
    core: sv.ServerConnection
    name: str
    tls_peer: TLSPeer | None
    mechanisms: list[str]
    capabilities: dict[str, Any]
    user: str | None
    connection: ConnectionModel | None

    def _silent_close(self) -> None:
        """Close without a word after the grace period (the driver's)."""
        raise NotImplementedError

    def _after_server_close(self, timeout: float) -> None:
        """Wait at most *timeout* seconds for close-ok (the driver's)."""
        raise NotImplementedError

    def _opened(self) -> None:
        """Tell the host the connection is open (the driver's)."""
        raise NotImplementedError

    def _on_login(self, event: sv.LoginRequested) -> None:
        capabilities = event.client_properties.get("capabilities")
        self.capabilities = dict(capabilities) if isinstance(capabilities, dict) else {}
        mechanism = event.mechanism
        if mechanism not in self.mechanisms:
            # RabbitMQ: command_invalid during the handshake, which is a silent close.
            logger.info("%s: invalid authentication mechanism %r", self.name, mechanism)
            self._silent_close()
            return
        login = check_login(mechanism, event.response, self.tls_peer, self.model)
        if login.user is not None:
            self.user = login.user
            self.core.accept_login()
        elif login.refusal is not None:
            self._refuse_login(mechanism, login.refusal)
        else:
            logger.info("%s: malformed %s login", self.name, mechanism)
            self._silent_close()

    def _refuse_login(self, mechanism: str, reason: str) -> None:
        """Refuse the login as RabbitMQ's auth_fail does: a 403 close, or a silent one."""
        logger.info("%s: %s login refused: %s", self.name, mechanism, reason)
        if self.capabilities.get("authentication_failure_close") is True:
            self.core.refuse_login(mechanism, send_close=True)
            self._after_server_close(self.settings.silent_close_delay)
        else:
            self._silent_close()

    def _on_tune(self, event: sv.TuneAccepted) -> None:
        self.transport.tuned()

    def _on_open(self, event: sv.OpenRequested) -> None:
        assert self.user is not None
        try:
            connection = self.model.open_connection(
                self.user, event.virtual_host, self.capabilities, self.core.client_properties
            )
        except AmqpError as error:
            logger.info("%s: %s", self.name, error.reply_text)
            self.core.close_connection(error.reply_code, error.reply_text, *OPEN_METHOD)
            self._after_server_close(self.settings.close_timeout)
            return
        connection.on_output = self.transport.wake_writer
        self.connection = connection
        self.core.accept_open()
        self._opened()
        logger.info("%s: user %r opened vhost %r", self.name, self.user, event.virtual_host)
