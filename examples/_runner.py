"""How the example scripts find a broker to talk to.

Every example defines ``async def main(url: str)`` and ends with
``run_example(main)``. The broker is, in this order: the URL given as the
first command-line argument, the ``AMQP_URL`` environment variable, or an
embedded :class:`async_amqp_testing.FakeBroker` started for the run (so the
examples work with no RabbitMQ installed). ``--backend trio`` runs the
example on trio instead of asyncio.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

Main = Callable[[str], Awaitable[Any]]


async def with_broker(main: Main, url: str | None) -> None:
    """Run ``main(url)``, starting an embedded fake broker when *url* is None."""
    if url:
        await main(url)
        return
    from async_amqp_testing import FakeBroker

    async with FakeBroker().serve() as broker:
        print(f"(no broker URL given: using an embedded fake broker at {broker.url})")
        await main(broker.url)


def run_example(main: Main, description: str | None = None) -> None:
    """Parse the command line and run ``main`` against the chosen broker."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "url",
        nargs="?",
        default=os.environ.get("AMQP_URL"),
        help="amqp:// URL of the broker (default: $AMQP_URL, else an embedded fake broker)",
    )
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    args = parser.parse_args()
    anyio.run(with_broker, main, args.url, backend=args.backend)
