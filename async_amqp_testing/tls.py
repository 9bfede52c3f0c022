"""Throwaway TLS certificates for testing against the fake broker over TLS.

:class:`TLSCertificates` makes a certificate authority with trustme, a server
certificate for ``localhost`` and ``127.0.0.1`` and, for mutual TLS, a client
certificate whose CN is a broker user (SASL EXTERNAL logs in as that user). It
gives ready ``ssl.SSLContext`` objects for both sides and writes PEM files for
clients configured by path (pika, aio-pika, ``amqps://`` URL parameters).

trustme is a test dependency (in the ``test`` extra): it is imported when
certificates are made, never when this module or the pytest plugin is imported.
"""

from __future__ import annotations

import datetime
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

__all__ = ["TLSCertificates", "TLSFiles"]

#: The subject alternative name of the client certificates made here (a ``.invalid``
#: name: reserved, it never resolves).
CLIENT_IDENTITY = "client.async-amqp.invalid"

#: Accepted values of ``verify_client``.
_VERIFY_MODES = {
    "none": ssl.CERT_NONE,
    "optional": ssl.CERT_OPTIONAL,
    "required": ssl.CERT_REQUIRED,
}


def _import_trustme() -> Any:
    try:
        import trustme
    except ImportError:
        raise ImportError(
            "TLS test certificates (fake_broker_tls, TLSCertificates) need the trustme "
            "package: pip install trustme (it is in async_amqp's 'test' extra)"
        ) from None
    return trustme


@dataclass(frozen=True)
class TLSFiles:
    """PEM files of a :class:`TLSCertificates`, for clients configured by file name.

    :param ca_certificate: the CA certificate (``cacertfile``, pika's ``cafile``)
    :param server_certificate: the server certificate chain (``--tls-cert`` of the CLI)
    :param server_key: the server's private key (``--tls-key`` of the CLI)
    :param client_certificate: the client certificate chain, with mutual TLS
    :param client_key: the client's private key, with mutual TLS
    """

    ca_certificate: Path
    server_certificate: Path
    server_key: Path
    client_certificate: Path | None = None
    client_key: Path | None = None

    def url_query(self) -> str:
        """Return RabbitMQ's ``amqps://`` query parameters for these files.

        ``cacertfile`` and, with a client certificate, ``certfile`` and ``keyfile``.
        """
        parameters = [("cacertfile", self.ca_certificate)]
        if self.client_certificate is not None and self.client_key is not None:
            parameters += [("certfile", self.client_certificate), ("keyfile", self.client_key)]
        return "&".join(f"{name}={quote(str(path), safe='/')}" for name, path in parameters)


class TLSCertificates:
    """A new CA, a server certificate signed by it and, optionally, a client certificate.

    The trustme objects are attributes, for anything the contexts do not cover:
    ``ca`` (``trustme.CA``: ``ca.configure_trust(context)`` trusts it), ``server`` and
    ``client`` (``trustme.LeafCert``, ``client`` is ``None`` without *client_user*);
    ``files`` is the :class:`TLSFiles` once :meth:`write_files` has run.

    :param hosts: names and addresses the server certificate is valid for
    :param client_user: make a client certificate with this subject CN (a broker user,
        for SASL EXTERNAL); ``None``: no client certificate
    :param server_not_after: expiry of the server certificate (a past date makes an
        expired one); ``None``: trustme's default, far in the future
    :raises ImportError: when trustme is not installed
    """

    def __init__(
        self,
        hosts: Sequence[str] = ("localhost", "127.0.0.1"),
        *,
        client_user: str | None = None,
        server_not_after: datetime.datetime | None = None,
    ) -> None:
        trustme = _import_trustme()
        if not hosts:
            raise ValueError("the server certificate needs at least one host name or address")
        self.hosts = tuple(hosts)
        self.client_user = client_user
        self.ca = trustme.CA()
        not_before = None
        if server_not_after is not None:
            not_before = server_not_after - datetime.timedelta(days=30)
        self.server = self.ca.issue_cert(
            *self.hosts,
            common_name=self.hosts[0],
            not_before=not_before,
            not_after=server_not_after,
        )
        self.client = (
            None
            if client_user is None
            # The user is the CN (what EXTERNAL reads). The certificate also names a
            # reserved DNS name: cryptography 51 refuses one with no alternative name.
            else self.ca.issue_cert(CLIENT_IDENTITY, common_name=client_user)
        )
        self.files: TLSFiles | None = None

    def __repr__(self) -> str:
        client = f" client_user={self.client_user!r}" if self.client_user is not None else ""
        return f"<TLSCertificates hosts={list(self.hosts)}{client}>"

    def server_context(self, verify_client: str | None = None) -> ssl.SSLContext:
        """Return a server-side context with the server certificate.

        :param verify_client: ``"required"`` (clients must present a certificate signed by
            the CA, like RabbitMQ's ``verify_peer`` with ``fail_if_no_peer_cert``),
            ``"optional"`` (checked when sent) or ``"none"``; ``None``: ``"required"`` when
            there is a client certificate, else ``"none"``
        :raises ValueError: for another *verify_client*
        """
        if verify_client is None:
            verify_client = "none" if self.client is None else "required"
        if verify_client not in _VERIFY_MODES:
            raise ValueError(
                f"verify_client must be 'required', 'optional' or 'none', not {verify_client!r}"
            )
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server.configure_cert(context)
        if verify_client != "none":
            self.ca.configure_trust(context)
            context.verify_mode = _VERIFY_MODES[verify_client]
        return context

    def client_context(self, *, with_certificate: bool = True) -> ssl.SSLContext:
        """Return a client-side context that trusts the CA (and verifies host names).

        :param with_certificate: present the client certificate, when there is one
        """
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        if with_certificate and self.client is not None:
            self.client.configure_cert(context)
        return context

    def write_files(self, directory: str | Path) -> TLSFiles:
        """Write the certificates and keys as PEM files into *directory*; return their paths.

        :param directory: an existing directory
        """
        folder = Path(directory)
        ca_certificate = folder / "ca_certificate.pem"
        self.ca.cert_pem.write_to_path(str(ca_certificate))
        server_certificate = folder / "server_certificate.pem"
        server_certificate.write_bytes(b"".join(pem.bytes() for pem in self.server.cert_chain_pems))
        server_key = folder / "server_key.pem"
        self.server.private_key_pem.write_to_path(str(server_key))
        client_certificate = client_key = None
        if self.client is not None:
            client_certificate = folder / "client_certificate.pem"
            client_certificate.write_bytes(
                b"".join(pem.bytes() for pem in self.client.cert_chain_pems)
            )
            client_key = folder / "client_key.pem"
            self.client.private_key_pem.write_to_path(str(client_key))
        self.files = TLSFiles(
            ca_certificate, server_certificate, server_key, client_certificate, client_key
        )
        return self.files
