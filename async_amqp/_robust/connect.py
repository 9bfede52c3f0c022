"""``connect_robust``: the parameters of ``connect_amqp``, plus URLs and reconnect timing."""

from __future__ import annotations

import inspect
import ssl as _ssl
from collections.abc import Callable, Sequence
from typing import Any

from .. import exceptions
from .._connect import connect_amqp, parse_url
from .._connection import AmqpProtocol
from .connection import RobustConnection
from .policy import Endpoints


def connect_robust(
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
    connection_timeout: float | None = None,
    blocked_timeout: float | None = None,
    server_hostname: str | None = None,
    urls: Sequence[str] | None = None,
    reconnect_interval: float = 1.0,
    max_reconnect_interval: float = 30.0,
    reconnect_timeout: float | None = None,
) -> RobustConnection:
    """Return a connection that reconnects: use it as ``async with connect_robust(...) as conn``.

    Takes the parameters of :func:`connect_amqp`, plus:

    :param urls: ``amqp://``/``amqps://`` URLs tried in turn (round-robin) for failover;
        keyword parameters given with other than their default value win over the URLs,
        as with :func:`connect_from_url` (*host* and *port* are then not used)
    :param reconnect_interval: seconds before the first reconnect attempt; the delay
        doubles after each failed round (every URL tried once), with jitter
    :param max_reconnect_interval: the longest delay between rounds
    :param reconnect_timeout: seconds without a connection after which to give up and
        raise :class:`ReconnectTimeoutError` (``None``: keep trying); this also bounds
        the first connection
    :raises ConfigurationError: for an invalid parameter or URL
    """
    arguments = dict(locals())
    base = {name: arguments[name] for name in _SIGNATURE.parameters}
    return RobustConnection(
        _endpoints(base, urls),
        reconnect_interval=reconnect_interval,
        max_reconnect_interval=max_reconnect_interval,
        reconnect_timeout=reconnect_timeout,
    )


def _endpoints(base: dict[str, object], urls: Sequence[str] | None) -> Endpoints:
    """The connection options of each URL (or of *base* alone without URLs)."""
    if urls is None:
        return Endpoints([base])
    if isinstance(urls, str):
        raise exceptions.ConfigurationError("urls must be a list of URLs, not one string")
    given = {
        name: value
        for name, value in base.items()
        if name not in ("host", "port") and value != _SIGNATURE.parameters[name].default
    }
    options: list[dict[str, object]] = []
    for url in urls:
        endpoint = dict(base, port=None)
        endpoint.update(parse_url(url))
        endpoint.update(given)  # as with connect_from_url, keyword arguments win
        options.append(endpoint)
    return Endpoints(options)


_SIGNATURE = inspect.signature(connect_amqp)
