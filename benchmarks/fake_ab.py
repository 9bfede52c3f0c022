"""Two versions of the fake broker side by side (and RabbitMQ), same client, same run.

    python benchmarks/fake_ab.py --base main [--scenario rpc ...] [--rounds 7] [--full]
        [--backend asyncio ...] [--no-rabbitmq]

Two CLI fake brokers run at once: ``base`` (async_amqp and async_amqp_testing as
committed at ``--base``, extracted with ``git archive``) and ``new`` (the working
tree). The client (async_amqp of the working tree) runs each scenario against
each broker and RabbitMQ in turn, the order shifting every round, and the table
gives medians and per-round ratios: new ÷ base and new ÷ RabbitMQ ("how many
times faster", as everywhere in these benchmarks). Each fake broker's own CPU per
operation is read from ``/proc/PID/schedstat`` around each client run (the time its
process spent on a CPU, in ns; queue setup, pre-filling and cleanup excluded):
steadier than wall-clock on this shared machine.
The quick counts of ``run.py`` are used unless ``--full``.
"""

from __future__ import annotations

import argparse
import atexit
import io
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _async_amqp
from benchmarks._common import SCENARIOS, Client, Metric, Metrics, Params, Scenario
from benchmarks._fakebroker import REPO, FakeBrokerProcess
from benchmarks.run import run_once, scenario_queues

BROKER_CPU = "broker_cpu"


def extract(revision: str) -> Path:
    """async_amqp and async_amqp_testing as of *revision*, in a temporary directory."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", revision, "async_amqp", "async_amqp_testing"],
        capture_output=True,
        check=True,
    ).stdout
    target = Path(tempfile.mkdtemp(prefix="fake-broker-base-"))
    atexit.register(shutil.rmtree, target, ignore_errors=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


def cpu_ns(pid: int) -> int:
    """Nanoseconds the process's main thread has run on a CPU."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def operations(scenario: Scenario, count: int) -> int:
    return 1 if scenario.kind == "connect" else count


def _measure(scenario: Scenario, client: Client, params: Params, pid: int, index: int) -> Metrics:
    """:func:`~benchmarks.run.run_once`, with the broker's CPU read around the client's run
    only (not the queue setup, pre-filling and cleanup)."""
    with scenario_queues(scenario, client, params, f"ab{index}") as prepared:
        before = cpu_ns(pid) if pid else 0
        metrics = dict(client.kinds[scenario.kind](prepared))
        if pid:
            spent = (cpu_ns(pid) - before) / 1e9
            metrics[BROKER_CPU] = spent / operations(scenario, prepared.count)
        return metrics


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="git revision of the base broker")
    parser.add_argument("--scenario", action="append", help="prefix match, repeatable")
    parser.add_argument("--backend", action="append", choices=("asyncio", "trio"))
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--full", action="store_true", help="the full counts of run.py")
    parser.add_argument("--count", type=int, help="operations per run (default: the scenario's)")
    parser.add_argument("--no-rabbitmq", action="store_true")
    args = parser.parse_args(argv)
    chosen = [
        s
        for s in SCENARIOS
        if not args.scenario or any(s.name.startswith(p) for p in args.scenario)
    ]
    base_tree = extract(args.base)
    with (
        FakeBrokerProcess(pythonpath=base_tree) as base,
        FakeBrokerProcess() as new,
    ):
        brokers = {"base": (base.port, base.pid), "new": (new.port, new.pid)}
        if not args.no_rabbitmq:
            brokers["rabbitmq"] = (5672, 0)
        print(f"base: {args.base} (pid {base.pid}), new: working tree (pid {new.pid})")
        for scenario in chosen:
            for backend in args.backend or ("asyncio", "trio"):
                params = scenario.full if args.full else scenario.quick
                if args.count:
                    params = replace(params, count=args.count)
                _compare(scenario, backend, brokers, args.rounds, params)
    return 0


def _compare(
    scenario: Scenario,
    backend: str,
    brokers: dict[str, tuple[int, int]],
    rounds: int,
    params: Params,
) -> None:
    client = _async_amqp.make_client(backend)
    runs: dict[str, list[Metrics]] = {name: [] for name in brokers}
    names = list(brokers)
    for name in names:  # warm-up
        run_once(scenario, replace(client, port=brokers[name][0]), params.scaled(0.2), "warmup")
    for index in range(rounds):
        shift = index % len(names)
        for name in [*names[shift:], *names[:shift]]:
            port, pid = brokers[name]
            runs[name].append(_measure(scenario, replace(client, port=port), params, pid, index))
    broker_metric = Metric(BROKER_CPU, "broker CPU", "µs/op", higher_is_better=False, scale=1e6)
    for metric in [*scenario.metrics, broker_metric]:
        cells = []
        for name in names:
            present = [m[metric.key] for m in runs[name] if metric.key in m]
            if present:
                cells.append(f"{name} {metric.format(statistics.median(present)):>8}")
        for other in ("base", "rabbitmq"):
            if other not in runs or metric.key not in runs[other][0]:
                continue
            pairs = zip(runs["new"], runs[other], strict=True)
            ratios = [metric.speed_ratio(n[metric.key], o[metric.key]) for n, o in pairs]
            cells.append(
                f"new÷{other} {statistics.median(ratios):.2f}x"
                f" [{min(ratios):.2f}-{max(ratios):.2f}]"
            )
        print(
            f"{scenario.name:14} {backend:8} {metric.label:12} {metric.unit:7} " + "  ".join(cells),
            flush=True,
        )


if __name__ == "__main__":
    sys.exit(main())
