"""``python -m async_amqp_testing``: run the fake broker in the foreground.

For trying a client by hand, or for tests in other languages and processes:
the first line of standard output is the broker's URL (printed once it
listens), logs go to standard error, and SIGINT or SIGTERM stop it cleanly.
``--nodes N`` serves the same state on N ports (a cluster): the URL of every
node follows the first line, one per line. SIGHUP restarts the broker (every
client gets 320 CONNECTION_FORCED; durable state survives, as on RabbitMQ).
With ``--tls-cert``/``--tls-key`` it listens with TLS and prints an ``amqps://``
URL; ``--tls-ca`` checks client certificates (``--tls-verify-client`` requires
one) and offers SASL EXTERNAL, which logs in as the certificate's CN.
"""

from __future__ import annotations

import argparse
import logging
import signal
import ssl
import sys
from collections.abc import Sequence

import anyio

from async_amqp._core.trace import BROKER_FRAMES

from ._broker import FakeBroker

__all__ = ["build_parser", "main"]

logger = logging.getLogger("async_amqp_testing")


def _user(value: str) -> tuple[str, str]:
    name, separator, password = value.partition(":")
    if not separator or not name:
        raise argparse.ArgumentTypeError(f"expected NAME:PASSWORD, got {value!r}")
    return name, password


def _node_count(value: str) -> int:
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"expected a number of nodes (1 or more), got {value!r}")
    return count


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(
        prog="python -m async_amqp_testing",
        description="Run an AMQP 0-9-1 broker that behaves like RabbitMQ 3.10 (for tests). "
        "The first line of standard output is its URL.",
    )
    _add_listen_options(parser)
    _add_tune_options(parser)
    _add_tls_options(parser)
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log every method received and sent, and trace every frame (to standard error)",
    )
    return parser


def _add_listen_options(parser: argparse.ArgumentParser) -> None:
    """Where to listen, who may log in, which vhosts, how many nodes."""
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="port to listen on (default: %(default)s: a free port, named by the URL printed "
        "first, so a local RabbitMQ on 5672 is never in the way)",
    )
    parser.add_argument(
        "--user",
        dest="users",
        type=_user,
        action="append",
        metavar="NAME:PASSWORD",
        help="a user (repeatable; default guest:guest); the first one is in the printed URL",
    )
    parser.add_argument(
        "--vhost",
        dest="vhosts",
        action="append",
        metavar="VHOST",
        help="a virtual host (repeatable; default /)",
    )
    parser.add_argument(
        "--nodes",
        type=_node_count,
        metavar="N",
        help="serve N nodes sharing one state, on ports PORT .. PORT+N-1 (free ports with "
        "the default --port 0); their URLs follow the first line, one per line",
    )


def _add_tune_options(parser: argparse.ArgumentParser) -> None:
    """What connection.tune offers."""
    parser.add_argument(
        "--heartbeat",
        type=int,
        default=60,
        help="heartbeat offered, seconds 0..65535, 0: none (default: %(default)s)",
    )
    parser.add_argument(
        "--frame-max",
        type=int,
        default=131072,
        help="frame_max offered, 0 (no limit) or 4096..4294967295 (default: %(default)s)",
    )
    parser.add_argument(
        "--channel-max",
        type=int,
        default=2047,
        help="channel_max offered, 0..65535, 0: no limit (default: %(default)s)",
    )


def _add_tls_options(parser: argparse.ArgumentParser) -> None:
    """TLS: certificate, key, client verification, handshake timeout."""
    parser.add_argument(
        "--tls-cert",
        metavar="FILE",
        help="listen with TLS: the server certificate chain (PEM; may also hold the key)",
    )
    parser.add_argument("--tls-key", metavar="FILE", help="the server's private key (PEM)")
    parser.add_argument(
        "--tls-ca",
        metavar="FILE",
        help="CA certificates (PEM) to check client certificates with; enables SASL EXTERNAL",
    )
    parser.add_argument(
        "--tls-verify-client",
        action="store_true",
        help="require a client certificate signed by --tls-ca (mutual TLS)",
    )
    parser.add_argument(
        "--tls-handshake-timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="seconds a client has to complete the TLS handshake (default: %(default)s, "
        "as RabbitMQ)",
    )


def _ssl_context(
    args: argparse.Namespace, parser: argparse.ArgumentParser
) -> ssl.SSLContext | None:
    """The server context of the --tls-* options (None: plain TCP); errors exit with usage."""
    if args.tls_cert is None:
        if args.tls_key or args.tls_ca or args.tls_verify_client:
            parser.error("--tls-key, --tls-ca and --tls-verify-client need --tls-cert")
        return None
    if args.tls_verify_client and not args.tls_ca:
        parser.error("--tls-verify-client needs --tls-ca (the CA of the client certificates)")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(args.tls_cert, args.tls_key)
    except (OSError, ssl.SSLError) as error:
        parser.error(f"cannot load --tls-cert {args.tls_cert} / --tls-key {args.tls_key}: {error}")
    if args.tls_ca:
        try:
            context.load_verify_locations(cafile=args.tls_ca)
        except (OSError, ssl.SSLError) as error:
            parser.error(f"cannot load --tls-ca {args.tls_ca}: {error}")
        context.verify_mode = ssl.CERT_REQUIRED if args.tls_verify_client else ssl.CERT_OPTIONAL
    return context


async def _serve(broker: FakeBroker, list_nodes: bool) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP) as signals:
        async with broker.serve():
            lines = [broker.url, *broker.urls] if list_nodes else [broker.url]
            print("\n".join(lines), flush=True)
            async for signum in signals:
                if signum == signal.SIGHUP:
                    logger.info("restarting on SIGHUP")
                    await broker.restart()
                    continue
                logger.info("stopping on %s", signal.Signals(signum).name)
                return


def _bind_error(error: BaseException) -> OSError | None:
    if isinstance(error, OSError):
        return error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            found = _bind_error(inner)
            if found is not None:
                return found
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the broker until SIGINT or SIGTERM (SIGHUP restarts it); return the exit status.

    :param argv: command-line arguments (default: ``sys.argv[1:]``)
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    ssl_context = _ssl_context(args, parser)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    if args.verbose:
        logging.getLogger(BROKER_FRAMES).setLevel(logging.DEBUG)
    try:
        broker = _broker(args, ssl_context)
    except ValueError as error:  # one line, and exit status 2 like any bad option
        print(f"{parser.prog}: error: {_as_option(str(error))}", file=sys.stderr)
        return 2
    try:
        anyio.run(_serve, broker, args.nodes is not None)
    except BaseException as error:
        bind_error = _bind_error(error)
        if bind_error is None:
            raise
        reason = bind_error.strerror or str(bind_error)
        ports = (
            f"{args.port}"
            if not args.nodes or args.nodes == 1 or not args.port
            else (f"{args.port}-{args.port + args.nodes - 1}")
        )
        print(
            f"async_amqp_testing: cannot listen on {args.host}:{ports}: {reason}",
            file=sys.stderr,
        )
        return 1
    return 0


def _as_option(message: str) -> str:
    """A FakeBroker setting's error, naming the command-line option instead."""
    setting = message.split(" ", 1)[0]
    if setting in ("heartbeat", "frame_max", "channel_max", "port", "tls_handshake_timeout"):
        return "--" + setting.replace("_", "-") + message[len(setting) :]
    return message


def _broker(args: argparse.Namespace, ssl_context: ssl.SSLContext | None) -> FakeBroker:
    """The broker the options describe.

    :raises ValueError: for a setting out of range
    """
    return FakeBroker(
        users=dict(args.users) if args.users else None,
        vhosts=args.vhosts or None,
        heartbeat=args.heartbeat,
        frame_max=args.frame_max,
        channel_max=args.channel_max,
        host=args.host,
        port=args.port,
        ssl_context=ssl_context,
        tls_handshake_timeout=args.tls_handshake_timeout,
        nodes=args.nodes or 1,
    )


if __name__ == "__main__":
    sys.exit(main())
