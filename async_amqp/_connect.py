"""Opening connections: parameters, URLs, TCP and TLS.

:func:`connect_amqp` returns the connection object, which is an async
context manager: entering it connects and performs the AMQP handshake,
leaving it closes gracefully.
"""

from __future__ import annotations

import logging
import os
import socket
import ssl as _ssl
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import anyio
import anyio.abc
from anyio.abc import SocketAttribute

from . import exceptions
from ._connection import AmqpProtocol
from ._opening import DEFAULT_CONNECTION_TIMEOUT
from ._redact import redact_url
from ._tls import describe_tls_error
from ._transport import connect_tcp_fast, connect_trio_address, plain_tcp_stream

logger = logging.getLogger("async_amqp")

_warned_unverified = False


def make_ssl_context(ssl: bool | _ssl.SSLContext, verify_ssl: bool) -> _ssl.SSLContext | None:
    """Return the TLS context for the ``ssl``/``verify_ssl`` parameters (None: plain TCP)."""
    global _warned_unverified
    if isinstance(ssl, _ssl.SSLContext):
        return ssl
    if not ssl:
        return None
    context = _ssl.create_default_context()
    if not verify_ssl:
        if not _warned_unverified:
            logger.warning(
                "verify_ssl=False: the broker's TLS certificate and host name are not checked"
            )
            _warned_unverified = True
        context.check_hostname = False
        context.verify_mode = _ssl.CERT_NONE
    return context


def _stream_factory(
    host: str, port: int, ssl_context: _ssl.SSLContext | None, server_hostname: str | None
) -> Callable[[], Awaitable[anyio.abc.ByteStream]]:
    async def open_stream() -> anyio.abc.ByteStream:
        try:
            if ssl_context is None:  # plain TCP on asyncio, or to an address on trio
                fast = await connect_tcp_fast(host, port) or await connect_trio_address(host, port)
                if fast is not None:
                    return fast  # see _transport
            stream: anyio.abc.SocketStream = await anyio.connect_tcp(host, port)
        except OSError as error:
            raise exceptions.BrokerUnreachableError(
                0, f"cannot connect to {host}:{port} (stage: TCP connect): {_reason(error)}"
            ) from error
        raw = stream.extra(SocketAttribute.raw_socket)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if ssl_context is None:
            return plain_tcp_stream(stream)  # on trio: see _transport
        from anyio.streams.tls import TLSStream

        try:
            return await TLSStream.wrap(
                stream,
                hostname=server_hostname or host,
                ssl_context=ssl_context,
                standard_compatible=False,
            )
        except BaseException as error:
            await anyio.aclose_forcefully(stream)  # also when cancelled (the deadline)
            if not isinstance(error, anyio.BrokenResourceError | anyio.EndOfStream | OSError):
                raise
            cause: BaseException | None = error
            if isinstance(error, anyio.BrokenResourceError):
                cause = error.__cause__
            elif isinstance(error, anyio.EndOfStream):
                cause = None  # the broker hung up: nothing more to say than the message
            text = f"{describe_tls_error(error)} ({host}:{port}, stage: TLS handshake)"
            raise exceptions.TLSError(text, cause=cause) from cause

    return open_stream


def _reason(error: OSError) -> str:
    """The most specific reason of a failed TCP connect (anyio wraps each attempt's error)."""
    causes = [error, *getattr(error.__cause__, "exceptions", ()), error.__cause__]
    for cause in reversed(causes):
        if isinstance(cause, OSError) and cause.errno:
            return os.strerror(cause.errno)
    return str(error)


def connect_amqp(
    host: str = "localhost",
    port: int | None = None,
    login: str = "guest",
    password: str = "guest",
    virtualhost: str = "/",
    ssl: bool | _ssl.SSLContext = False,
    verify_ssl: bool = True,
    login_method: str = "PLAIN",
    insist: bool = False,
    protocol_factory: Callable[..., AmqpProtocol] = AmqpProtocol,
    channel_max: int | None = None,
    frame_max: int | None = None,
    heartbeat: int | None = None,
    client_properties: dict[str, Any] | None = None,
    *,
    connection_timeout: float | None = DEFAULT_CONNECTION_TIMEOUT,
    blocked_timeout: float | None = None,
    server_hostname: str | None = None,
) -> AmqpProtocol:
    """Return a connection to use as ``async with connect_amqp(...) as conn``.

    :param host: broker host name or address
    :param port: broker port (5672, or 5671 with TLS, when ``None``)
    :param login: user name
    :param password: password
    :param virtualhost: vhost to open
    :param ssl: ``True`` for TLS with a default, verifying context, or an ``ssl.SSLContext``
    :param verify_ssl: with ``ssl=True``, ``False`` disables certificate and host name checks
    :param login_method: SASL mechanism: ``PLAIN``, ``AMQPLAIN`` or ``EXTERNAL``
    :param insist: the deprecated insist bit of connection.open
    :param protocol_factory: the connection class (a subclass of :class:`AmqpProtocol`)
    :param channel_max: highest channel number wanted (``None``: the broker's)
    :param frame_max: largest frame wanted, at least 4096 (``None``: the broker's)
    :param heartbeat: heartbeat interval in seconds (``None``: the broker's, 0: off)
    :param client_properties: extra client properties (e.g. ``connection_name``)
    :param connection_timeout: seconds allowed for opening the connection: TCP, TLS
        and the AMQP handshake together (default 10, like RabbitMQ's clients; ``None``:
        no limit). When it passes, :class:`HandshakeTimeoutError` names the stage.
    :param blocked_timeout: seconds a publish may wait while the broker blocks publishing
        before :class:`ConnectionBlockedError` (``None``: wait as long as it takes)
    :param server_hostname: TLS server name (SNI and certificate check) when not *host*
    :raises ConfigurationError: for an invalid parameter (e.g. ``frame_max`` below 4096)
    """
    if login_method not in ("PLAIN", "AMQPLAIN", "EXTERNAL"):
        raise exceptions.ConfigurationError(
            f"login_method must be 'PLAIN', 'AMQPLAIN' or 'EXTERNAL', not {login_method!r}"
        )
    ssl_context = make_ssl_context(ssl, verify_ssl)
    if port is None:
        port = 5671 if ssl_context is not None else 5672
    return _new_protocol(
        protocol_factory,
        _stream_factory(host, port, ssl_context, server_hostname),
        {"host": host, "port": port, "virtualhost": virtualhost, "insist": insist},
        {"login": login, "password": password, "login_method": login_method},
        {"channel_max": channel_max, "frame_max": frame_max, "heartbeat": heartbeat},
        {"client_properties": client_properties, "connection_timeout": connection_timeout},
        {"blocked_timeout": blocked_timeout},
    )


def _new_protocol(
    protocol_factory: Callable[..., AmqpProtocol],
    stream_factory: Callable[[], Any],
    *settings: dict[str, Any],
) -> AmqpProtocol:
    """Create the connection object from :func:`connect_amqp`'s settings, grouped.

    :raises ConfigurationError: when the core refuses a setting
    """
    kwargs: dict[str, Any] = {}
    for group in settings:
        kwargs.update(group)
    try:
        return protocol_factory(stream_factory=stream_factory, **kwargs)
    except exceptions.ConfigurationError:
        raise
    except ValueError as error:  # the core's checks of channel_max, frame_max, heartbeat
        raise exceptions.ConfigurationError(str(error)) from None


def _int_param(name: str, value: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise exceptions.ConfigurationError(
            f"URL parameter {name}={value!r} is not an integer"
        ) from None
    if not low <= number <= high:
        raise exceptions.ConfigurationError(
            f"URL parameter {name}={number} is outside {low}..{high}"
        )
    return number


def parse_url(url: str) -> dict[str, Any]:
    """Turn an ``amqp://`` or ``amqps://`` URL into :func:`connect_amqp` keyword arguments.

    User, password and vhost are percent-decoded (``%2F`` is ``/``; an empty
    path is ``/``). Query parameters follow RabbitMQ's URI spec.

    :raises ValueError: naming the scheme, parameter or value that is wrong
    """
    try:
        parts = urlsplit(url)
    except ValueError as error:  # e.g. "Invalid IPv6 URL"
        raise exceptions.ConfigurationError(f"invalid URL {redact_url(url)!r}: {error}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("amqp", "amqps"):
        raise exceptions.ConfigurationError(
            f"invalid URL scheme {parts.scheme!r}: use amqp:// or amqps://"
        )
    kwargs: dict[str, Any] = {"host": unquote(parts.hostname or "") or "localhost"}
    try:
        port = parts.port
    except ValueError:
        raise exceptions.ConfigurationError(
            f"invalid port in URL {redact_url(url)!r}: the port must be a number 0..65535"
        ) from None
    if port is not None:
        kwargs["port"] = port
    if parts.username is not None:
        kwargs["login"] = unquote(parts.username)
    if parts.password is not None:
        kwargs["password"] = unquote(parts.password)
    path = parts.path
    kwargs["virtualhost"] = unquote(path[1:]) if len(path) > 1 else "/"
    settings, tls = _query_settings(parts.query)
    kwargs.update(settings)
    if tls and scheme != "amqps":
        raise exceptions.ConfigurationError(
            f"TLS parameters {', '.join(sorted(tls))} need an amqps:// URL"
        )
    if scheme == "amqps":
        kwargs["ssl"] = _tls_context_from_params(tls)
        if tls.get("server_name_indication") not in (None, "", "disable"):
            kwargs["server_hostname"] = tls["server_name_indication"]
    return kwargs


def _query_settings(query: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Read a URL's query: :func:`connect_amqp` keyword arguments, and the TLS parameters.

    :raises ConfigurationError: for an unknown parameter or a bad value
    """
    kwargs: dict[str, Any] = {}
    tls: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name == "heartbeat":
            kwargs["heartbeat"] = _int_param(name, value, 0, 65535)
        elif name == "connection_timeout":
            kwargs["connection_timeout"] = _int_param(name, value, 0, 2**31) / 1000
        elif name == "channel_max":
            kwargs["channel_max"] = _int_param(name, value, 0, 65535)
        elif name == "frame_max":
            frame_max = _int_param(name, value, 0, 2**32 - 1)
            if frame_max and frame_max < 4096:
                raise exceptions.ConfigurationError(
                    f"URL parameter frame_max={frame_max} is below 4096"
                )
            kwargs["frame_max"] = frame_max
        elif name == "auth_mechanism":
            mechanism = value.upper()
            if mechanism not in ("PLAIN", "AMQPLAIN", "EXTERNAL"):
                raise exceptions.ConfigurationError(
                    f"URL parameter auth_mechanism={value!r} is not one of "
                    "plain, amqplain, external"
                )
            kwargs["login_method"] = mechanism
        elif name in ("cacertfile", "certfile", "keyfile", "verify", "server_name_indication"):
            tls[name] = value
        else:
            raise exceptions.ConfigurationError(f"unknown URL parameter {name!r}")
    return kwargs, tls


def _tls_context_from_params(tls: dict[str, str]) -> bool | _ssl.SSLContext:
    """Build the TLS context of an ``amqps://`` URL's parameters (``True``: the default one)."""
    verify = tls.get("verify", "verify_peer")
    if verify not in ("verify_peer", "verify_none"):
        raise exceptions.ConfigurationError(
            f"URL parameter verify={verify!r} must be verify_peer or verify_none"
        )
    if tls.get("keyfile") and not tls.get("certfile"):
        raise exceptions.ConfigurationError("URL parameter keyfile needs certfile too")
    no_sni = tls.get("server_name_indication") == "disable"
    if not no_sni and set(tls) <= {"server_name_indication"}:
        return True
    cafile = tls.get("cacertfile") or None
    try:
        context = _ssl.create_default_context(cafile=cafile)
    except (OSError, ValueError) as error:
        raise exceptions.ConfigurationError(
            f"URL parameter cacertfile={cafile!r}: cannot load CA certificates: {error}"
        ) from None
    if no_sni:  # like the Erlang client: no host name check (the chain is still verified)
        context.check_hostname = False
    if verify == "verify_none":
        context.check_hostname = False
        context.verify_mode = _ssl.CERT_NONE
    if tls.get("certfile"):
        try:
            context.load_cert_chain(tls["certfile"], tls.get("keyfile") or None)
        except (OSError, ValueError) as error:
            raise exceptions.ConfigurationError(
                f"URL parameters certfile={tls['certfile']!r}, keyfile={tls.get('keyfile')!r}: "
                f"cannot load the client certificate and key: {error}"
            ) from None
    return context


def connect_from_url(url: str, **kwargs: Any) -> AmqpProtocol:
    """Return a connection described by an ``amqp://``/``amqps://`` URL.

    Keyword arguments are passed to :func:`connect_amqp` and win over the URL.

    :raises ValueError: for a bad scheme, parameter or value
    """
    options = parse_url(url)
    options.update(kwargs)
    return connect_amqp(**options)
