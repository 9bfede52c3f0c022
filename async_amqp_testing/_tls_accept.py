"""The broker's side of TLS: the bounded server handshake and SASL EXTERNAL.

A TLS listener must survive clients that fail the handshake, speak plain AMQP
to it, send garbage, hang up half way or say nothing at all: each handshake
runs under a timeout in the connection's own task, and a failure is logged
and dropped. When the handshake fails, the client is told why with the TLS
alert (anyio's stream discards it; :class:`_AlertingTLSStream` sends it), so a
client whose certificate is refused reports that instead of a reset.

SASL EXTERNAL is modelled on RabbitMQ's rabbitmq_auth_mechanism_ssl plugin
(``rabbit_auth_mechanism_ssl.erl`` and ``rabbit_ssl.erl``, 3.9/3.10) with
``ssl_cert_login_from = common_name``: the user is the client certificate's
subject CN (several CNs are joined with ``,``); the user must exist and its
password is not checked; the refusal reasons are the plugin's texts.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import anyio.abc
from anyio.streams.tls import TLSAttribute, TLSStream

__all__ = ["TLSHandshakeError", "TLSPeer", "accept_tls", "external_login"]

logger = logging.getLogger("async_amqp_testing")

_T = TypeVar("_T")

#: rabbit_auth_mechanism_ssl's refusal when the connection has no client certificate.
NO_PEER_CERTIFICATE = "connection peer presented no TLS (x.509) certificate"
#: rabbit_auth_mechanism_ssl's refusal when the certificate has no CN.
NO_NAME_FOUND = "no name found"


class TLSHandshakeError(Exception):
    """A client's TLS handshake failed; the message says how."""


@dataclass(frozen=True)
class TLSPeer:
    """What the TLS handshake established about the client.

    :param certificate: the verified client certificate as ``SSLSocket.getpeercert()``
        returns it, or ``None`` when the client sent none (or none was asked for)
    :param version: the negotiated TLS version, e.g. ``TLSv1.3``
    """

    certificate: dict[str, Any] | None
    version: str | None = None

    @property
    def common_names(self) -> list[str]:
        """The subject's CN values, in certificate order."""
        if not self.certificate:
            return []
        return [
            value
            for relative_name in self.certificate.get("subject", ())
            for key, value in relative_name
            if key == "commonName"
        ]


def external_login(peer: TLSPeer, users: dict[str, str]) -> tuple[str | None, str]:
    """Return ``(user, "")`` for SASL EXTERNAL, or ``(None, reason)`` as RabbitMQ refuses it.

    :param peer: the connection's TLS peer
    :param users: the broker's users
    """
    if not peer.certificate:
        return None, NO_PEER_CERTIFICATE
    names = peer.common_names
    if not names:
        return None, NO_NAME_FOUND
    user = ",".join(names)
    if user not in users:
        return None, f"user '{user}' - invalid credentials"
    return user, ""


#: What a send or receive on a stream the client may have dropped can raise.
_GONE = (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream)


class _AlertingTLSStream(TLSStream):
    """anyio's TLS stream, except that a failed handshake still sends its TLS alert."""

    async def _call_sslobject_method(  # type: ignore[override]
        self, func: Callable[..., _T], *args: Any
    ) -> _T:
        try:
            return await super()._call_sslobject_method(func, *args)
        except ssl.SSLError:
            pending = getattr(self, "_write_bio", None)
            if pending is not None and pending.pending:
                with anyio.move_on_after(1), suppress(*_GONE):
                    await self.transport_stream.send(pending.read())
            raise


def _describe(error: BaseException) -> str:
    if isinstance(error, anyio.BrokenResourceError) and error.__cause__ is not None:
        error = error.__cause__
    if isinstance(error, anyio.EndOfStream | ssl.SSLEOFError):
        return "the client hung up during the TLS handshake"
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"client certificate refused: {error.verify_message or error}"
    if isinstance(error, ssl.SSLError):
        reason = error.reason or str(error)
        if reason == "PEER_DID_NOT_RETURN_A_CERTIFICATE":
            return f"the client sent no certificate, and one is required ({reason})"
        if reason in ("WRONG_VERSION_NUMBER", "HTTP_REQUEST", "UNKNOWN_PROTOCOL"):
            return f"not a TLS client ({reason}): plain text sent to the TLS port"
        return reason
    if isinstance(error, OSError):
        return f"the client hung up during the TLS handshake ({error.strerror or error!r})"
    return repr(error)


async def accept_tls(
    stream: anyio.abc.SocketStream, context: ssl.SSLContext, handshake_seconds: float, peer: str
) -> tuple[TLSStream, TLSPeer]:
    """Run the server side of the TLS handshake on an accepted stream, in limited time.

    A failure is logged at once; then the client is sent the TLS alert (when there is
    one) and the stream is left for the caller to close.

    :param stream: the accepted TCP stream
    :param context: the server-side SSL context
    :param handshake_seconds: seconds the client has to complete the handshake
    :param peer: the client's address, for the log
    :raises TLSHandshakeError: naming why the handshake failed or that it timed out
    """
    failure: str | None = None
    with anyio.move_on_after(handshake_seconds):
        try:
            tls_stream = await _AlertingTLSStream.wrap(
                stream, server_side=True, ssl_context=context, standard_compatible=False
            )
        except (OSError, anyio.BrokenResourceError, anyio.EndOfStream) as error:
            failure = _describe(error)
        else:
            certificate = tls_stream.extra(TLSAttribute.peer_certificate, None)
            version = tls_stream.extra(TLSAttribute.tls_version, None)
            return tls_stream, TLSPeer(certificate or None, version)
    if failure is None:
        failure = f"TLS handshake not finished in {handshake_seconds}s"
        logger.info("TLS connection from %s dropped: %s", peer, failure)
        raise TLSHandshakeError(failure)
    logger.info("TLS connection from %s dropped: %s", peer, failure)
    with anyio.move_on_after(handshake_seconds):
        await _drain(stream)  # let the alert reach the client before the socket closes
    raise TLSHandshakeError(failure)


async def _drain(stream: anyio.abc.SocketStream) -> None:
    """Half-close and read until the client closes, so that closing sends no reset.

    A client that has already written its next bytes (the AMQP header) would see a
    TCP reset instead of the alert if the socket closed with them unread.
    """
    with suppress(*_GONE):
        await stream.send_eof()
        while True:
            await stream.receive()
