"""Reading SASL login responses (PLAIN, AMQPLAIN) as strictly as RabbitMQ.

EXTERNAL (a TLS client certificate) is in :mod:`._tls_accept`.
"""

from __future__ import annotations

from ._model.fieldtable import FieldTableError, decode_table

__all__ = ["parse_credentials"]


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
