"""Who is logging in: SASL responses read as strictly as RabbitMQ, checked against the model.

PLAIN and AMQPLAIN carry a user and password; EXTERNAL logs in as the TLS
client certificate's name (read in :mod:`._tls_accept`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ._model import BrokerModel
from ._model.fieldtable import FieldTableError, decode_table
from ._tls_accept import TLSPeer, external_login

__all__ = ["Login", "check_login", "parse_credentials"]


@dataclass(frozen=True, slots=True)
class Login:
    """A login decision: accepted (*user*), refused (*refusal*), or neither (malformed).

    A refusal is RabbitMQ's auth_fail (a 403 close or a silent one, as the client's
    capabilities ask); a malformed response is a silent close.
    """

    user: str | None = None
    refusal: str | None = None


def check_login(
    mechanism: str, response: bytes, tls_peer: TLSPeer | None, model: BrokerModel
) -> Login:
    """Decide a connection.start-ok's login (the mechanism is one the broker offered).

    :param mechanism: PLAIN, AMQPLAIN or EXTERNAL (EXTERNAL only with *tls_peer*)
    :param response: the SASL response bytes
    :param tls_peer: what the TLS handshake established, for EXTERNAL
    :param model: the broker model holding the users
    """
    if mechanism == "EXTERNAL":
        assert tls_peer is not None
        user, refusal = external_login(tls_peer, model.users)
        return Login(user=user) if user is not None else Login(refusal=refusal)
    credentials = parse_credentials(mechanism, response)
    if credentials is None:
        return Login()
    user, password = credentials
    if not model.authenticate(user, password):
        return Login(refusal=f"user '{user}' - invalid credentials")
    return Login(user=user)


def parse_credentials(mechanism: str, response: bytes) -> tuple[str, str] | None:
    """Return ``(user, password)`` from a SASL response, or None when RabbitMQ would refuse it.

    PLAIN must be exactly ``\\0user\\0password`` (an authorisation id, a missing or an extra
    field are refused); AMQPLAIN is a field table, without its length prefix, holding
    ``LOGIN`` and ``PASSWORD`` longstrs. Mechanism names are case-sensitive.

    :param mechanism: the mechanism named in connection.start-ok
    :param response: the response bytes
    """
    if mechanism == "PLAIN":
        parts = response.split(b"\0")
        if len(parts) != 3 or parts[0]:
            return None
        user, password = parts[1], parts[2]
    elif mechanism == "AMQPLAIN":
        try:
            table = decode_table(response)
        except FieldTableError:
            return None
        login, secret = table.get("LOGIN"), table.get("PASSWORD")
        if login is None or secret is None or login.tag != "S" or secret.tag != "S":
            return None
        user, password = bytes(login.value), bytes(secret.value)
    else:
        return None
    return user.decode("utf-8", "surrogateescape"), password.decode("utf-8", "surrogateescape")
