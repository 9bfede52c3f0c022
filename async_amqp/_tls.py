"""What went wrong with TLS, in words a user can act on.

The TLS handshake fails in the client (the broker's certificate is untrusted,
for another host or expired; the port does not speak TLS) or, with TLS 1.3,
only after it: the broker checks the client's certificate last, and its refusal
arrives as an alert on the first read. Both end as one
:class:`~async_amqp.exceptions.TLSError` whose message names the cause; this
module turns OpenSSL's codes and anyio's wrappers into that message.
"""

from __future__ import annotations

import ssl

import anyio

from . import exceptions

__all__ = ["describe_tls_error", "tls_error_from"]

# OpenSSL's X509_V_ERR_* codes (stable across versions) for the checks users hit.
_EXPIRED = 10
_NOT_YET_VALID = 9
_UNTRUSTED = frozenset({2, 18, 19, 20, 21})
_NAME_MISMATCH = frozenset({62, 63, 64})

#: OpenSSL reasons when the peer answered with something that is not TLS.
_NOT_TLS = frozenset(
    {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG", "UNKNOWN_PROTOCOL"}
)
#: TLS alerts the broker sends when it refuses the client's certificate.
_CLIENT_CERTIFICATE_ALERTS = {
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "the broker requires a client certificate",
    "SSLV3_ALERT_BAD_CERTIFICATE": "the broker refused the client certificate (bad certificate)",
    "TLSV1_ALERT_UNKNOWN_CA": (
        "the broker refused the client certificate: its CA is not one the broker trusts"
    ),
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN": "the broker refused the client certificate",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": "the broker refused the client certificate: it has expired",
    "SSLV3_ALERT_CERTIFICATE_REVOKED": "the broker refused the client certificate: it is revoked",
}
_NO_COMMON_PARAMETERS = frozenset(
    {
        "TLSV1_ALERT_PROTOCOL_VERSION",
        "UNSUPPORTED_PROTOCOL",
        "NO_PROTOCOLS_AVAILABLE",
        "SSLV3_ALERT_HANDSHAKE_FAILURE",
        "NO_SHARED_CIPHER",
    }
)


def _describe_verification(error: ssl.SSLCertVerificationError) -> str:
    message = error.verify_message or str(error)
    code = error.verify_code
    lowered = message.lower()
    if code in _NAME_MISMATCH or "mismatch" in lowered:
        return f"hostname mismatch: {message}"
    if code == _EXPIRED or "expired" in lowered:
        return f"certificate expired: {message}"
    if code == _NOT_YET_VALID or "not yet valid" in lowered:
        return f"certificate not yet valid: {message}"
    if code in _UNTRUSTED or "self-signed" in lowered or "issuer" in lowered:
        return f"untrusted certificate authority: {message}"
    return f"certificate verification failed: {message}"


def describe_tls_error(error: BaseException) -> str:
    """Name the cause of a failed TLS handshake in words a user can act on.

    :param error: what the handshake raised (an ``ssl`` error, an anyio stream error or
        an ``OSError``)
    """
    if isinstance(error, anyio.BrokenResourceError) and error.__cause__ is not None:
        error = error.__cause__
    if isinstance(error, ssl.SSLCertVerificationError):
        return _describe_verification(error)
    if isinstance(error, ssl.SSLEOFError | anyio.EndOfStream):
        return "the broker closed the connection during the TLS handshake"
    if isinstance(error, ssl.SSLError):
        reason = error.reason or ""
        if reason in _NOT_TLS:
            return (
                f"the broker did not answer with TLS ({reason}): is this a plain AMQP port? "
                "(RabbitMQ listens for TLS on 5671)"
            )
        if reason in _CLIENT_CERTIFICATE_ALERTS:
            return f"{_CLIENT_CERTIFICATE_ALERTS[reason]} (TLS alert {reason})"
        if reason in _NO_COMMON_PARAMETERS:
            return f"no TLS version or cipher in common with the broker ({reason})"
        if "UNEXPECTED_EOF" in reason:
            return "the broker closed the connection during the TLS handshake"
        return reason or str(error)
    if isinstance(error, OSError):
        return f"connection lost during the TLS handshake: {error.strerror or error}"
    return str(error) or type(error).__name__


def tls_error_from(error: BaseException) -> exceptions.TLSError | None:
    """Return a :class:`TLSError` when *error* is a TLS failure (else ``None``).

    :param error: what a read or write on the connection's stream raised
    """
    cause: BaseException | None = error
    if isinstance(error, anyio.BrokenResourceError):
        cause = error.__cause__
    if not isinstance(cause, ssl.SSLError):
        return None
    return exceptions.TLSError(describe_tls_error(cause), cause=cause)
