"""async_amqp against the fake broker *in its own process and event loop* vs RabbitMQ.

    python benchmarks/inprocess.py [--rounds 5] [--scenario rpc ...] [--backend trio ...]

What a test suite using the ``fake_broker`` fixture sees: the broker served by
``FakeBroker().serve()`` in the client's event loop (one process, one core),
against the same client on RabbitMQ. Per round, each backend runs each scenario
once against each broker (alternating which goes first); the ratio is per
round, "fake ÷ RabbitMQ" as in ``run.py --broker fake`` (above 1: the fake is
faster). The quick counts of ``run.py`` are used.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import uuid
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import anyio

if __package__ in (None, ""):  # run as a script: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from async_amqp_testing import FakeBroker
from benchmarks._admin import _declare, _delete  # the runner's own setup
from benchmarks._async_amqp import KINDS
from benchmarks._common import SCENARIOS, Metrics, Params, Scenario

BACKENDS = ("asyncio", "trio")


async def _measure(scenario: Scenario, params: Params, fake: bool) -> Metrics:
    unique = f"bench.inprocess.{scenario.name}.{uuid.uuid4().hex[:8]}"
    params = replace(params, queue=unique, reply_queue=unique + ".reply")
    queues = [unique, params.reply_queue] if scenario.needs_reply_queue else [unique]
    prefill = params.count if scenario.prefill else 0
    if not fake:
        await _declare(params, queues, prefill)
        try:
            gc.collect()
            return await KINDS[scenario.kind](params)
        finally:
            await _delete(params, queues)
    async with FakeBroker().serve() as broker:
        params = replace(params, port=broker.port)
        await _declare(params, queues, prefill)
        gc.collect()
        return await KINDS[scenario.kind](params)


def _run(scenario: Scenario, backend: str, fake: bool) -> Metrics:
    return anyio.run(_measure, scenario, scenario.quick, fake, backend=backend)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--scenario", action="append", help="prefix match, repeatable")
    parser.add_argument("--backend", action="append", choices=BACKENDS)
    args = parser.parse_args(argv)
    chosen = [
        s
        for s in SCENARIOS
        if not args.scenario or any(s.name.startswith(p) for p in args.scenario)
    ]
    for scenario in chosen:
        for backend in args.backend or BACKENDS:
            runs: dict[bool, list[Metrics]] = {True: [], False: []}
            for index in range(args.rounds):
                order = (True, False) if index % 2 else (False, True)
                for fake in order:
                    runs[fake].append(_run(scenario, backend, fake))
            for metric in scenario.metrics:
                fake_values = [m[metric.key] for m in runs[True]]
                rabbit_values = [m[metric.key] for m in runs[False]]
                pairs = zip(fake_values, rabbit_values, strict=True)
                ratios = [metric.speed_ratio(f, r) for f, r in pairs]
                print(
                    f"{scenario.name:14} {metric.label:12} {backend:8}"
                    f" RabbitMQ {metric.format(statistics.median(rabbit_values)):>9}"
                    f" fake {metric.format(statistics.median(fake_values)):>9} {metric.unit:9}"
                    f" fake ÷ RabbitMQ {statistics.median(ratios):.2f}x"
                    f" [{min(ratios):.2f}-{max(ratios):.2f}]",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
