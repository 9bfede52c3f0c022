"""Benchmark async_amqp against aiormq, aio-pika and pika on the same RabbitMQ, same run.

    python benchmarks/run.py [--quick] [--scenario NAME ...] [--rounds N] [--json FILE]

Clients are interleaved (A, B, C, ... then again, each round starting one
client later), every round yields one number per client, and the ratios
are computed per round before taking their median, so a noisy neighbour
slows both sides of a ratio alike. A ratio is always "times faster than
the peer": above 1 async_amqp is faster (more messages per second, or
less latency).
"""

from __future__ import annotations

import argparse
import atexit
import gc
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import traceback
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import (
    SCENARIOS,
    Client,
    Metric,
    Metrics,
    Params,
    Scenario,
)

WARMUP_FACTOR = 0.1
REPO = Path(__file__).resolve().parent.parent


def use_async_amqp_revision(revision: str | None) -> str:
    """Make ``import async_amqp`` load *revision* (None: the working tree); describe it.

    Call before anything imports async_amqp. A revision is extracted with
    ``git archive`` into a temporary directory, so edits in progress in the
    working tree do not change what is measured.
    """

    def git(*command: str) -> str:
        return subprocess.run(
            ["git", "-C", str(REPO), *command], capture_output=True, text=True, check=True
        ).stdout.strip()

    if revision is None:
        head = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--", "async_amqp")
        return f"working tree at {head}" + (" with uncommitted changes" if dirty else "")
    sha = git("rev-parse", "--short", revision)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", sha, "async_amqp"], capture_output=True, check=True
    ).stdout
    target = Path(tempfile.mkdtemp(prefix=f"async_amqp-{sha}-"))
    atexit.register(shutil.rmtree, target, ignore_errors=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    sys.path.insert(0, str(target))
    return f"git {sha} ({git('log', '-1', '--format=%s', sha)[:60]})"


def all_clients() -> list[Client]:
    from benchmarks import _aio_pika, _aiormq, _async_amqp, _pika, _raw

    return [
        _async_amqp.make_client("asyncio"),
        _async_amqp.make_client("trio"),
        _aiormq.make_client(),
        _aio_pika.make_client(),
        _pika.make_client(),
        _raw.make_client(),
    ]


@dataclass
class ScenarioResults:
    """Per-round metrics of every client in one scenario (None: that run failed)."""

    scenario: Scenario
    params: Params
    rounds: dict[str, list[Metrics | None]] = field(default_factory=dict)


@contextmanager
def scenario_queues(
    scenario: Scenario, client: Client, params: Params, tag: str
) -> Iterator[Params]:
    """Fresh queues for one measurement (pre-filled if the scenario wants it): the
    parameters naming them, for the client; the queues are deleted afterwards."""
    from benchmarks import _admin

    unique = f"bench.{scenario.name}.{client.name.replace('/', '-')}.{tag}.{uuid.uuid4().hex[:8]}"
    params = replace(params, queue=unique)
    if client.port is not None:  # --broker fake: this client's broker
        params = replace(params, port=client.port)
    queues = [unique]
    if scenario.needs_reply_queue:
        params = replace(params, reply_queue=unique + ".reply")
        queues.append(params.reply_queue)
    _admin.declare_queues(params, queues, prefill=params.count if scenario.prefill else 0)
    try:
        gc.collect()
        yield params
    finally:
        _admin.delete_queues(params, queues)


def run_once(scenario: Scenario, client: Client, params: Params, tag: str) -> Metrics:
    """Set up fresh queues, run one measurement, clean up."""
    with scenario_queues(scenario, client, params, tag) as prepared:
        return client.kinds[scenario.kind](prepared)


def run_scenario(
    scenario: Scenario, clients: Sequence[Client], params: Params, rounds: int
) -> ScenarioResults:
    results = ScenarioResults(scenario, params, {client.name: [] for client in clients})
    log(f"\n== {scenario.name}: {scenario.description} (count={params.count})")
    for client in clients:  # warm-up: imports, caches, the broker's first queue
        try:
            run_once(scenario, client, params.scaled(WARMUP_FACTOR), "warmup")
        except Exception as error:
            log(f"  warm-up of {client.name} failed: {error!r}")
    for round_number in range(rounds):
        shift = round_number % len(clients)
        for client in [*clients[shift:], *clients[:shift]]:
            try:
                metrics: Metrics | None = run_once(scenario, client, params, f"r{round_number}")
            except Exception:
                log(f"  round {round_number + 1} {client.name} FAILED:\n{traceback.format_exc()}")
                metrics = None
            results.rounds[client.name].append(metrics)
            shown = "failed" if metrics is None else describe(scenario, metrics)
            log(f"  round {round_number + 1}/{rounds} {client.name:<20} {shown}")
    return results


def describe(scenario: Scenario, metrics: Metrics) -> str:
    return ", ".join(
        f"{metric.format(metrics[metric.key])} {metric.unit}" for metric in scenario.metrics
    )


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- statistics and the table ------------------------------------------------------------


def values(results: ScenarioResults, client: str, metric: Metric) -> list[float | None]:
    return [None if m is None else m[metric.key] for m in results.rounds[client]]


def median_value(results: ScenarioResults, client: str, metric: Metric) -> float | None:
    present = [v for v in values(results, client, metric) if v is not None]
    return statistics.median(present) if present else None


def round_ratios(
    results: ScenarioResults, ours: str, peers: Sequence[str], metric: Metric
) -> list[float]:
    """Per round: how many times faster *ours* is than the best of *peers* in that round."""
    ratios: list[float] = []
    our_values = values(results, ours, metric)
    peer_values = [values(results, peer, metric) for peer in peers]
    for index, ours_value in enumerate(our_values):
        theirs = [value for column in peer_values if (value := column[index]) is not None]
        if ours_value is None or not theirs:
            continue
        best = max(theirs) if metric.higher_is_better else min(theirs)
        ratios.append(metric.speed_ratio(ours_value, best))
    return ratios


def format_ratio(ratios: Sequence[float], spread: bool = False) -> str:
    if not ratios:
        return "-"
    text = f"{statistics.median(ratios):.2f}x"
    if spread and len(ratios) > 1:
        text += f" [{min(ratios):.2f}-{max(ratios):.2f}]"
    return text


def best_peer(results: ScenarioResults, peers: Sequence[str], metric: Metric) -> str | None:
    medians = {
        peer: value for peer in peers if (value := median_value(results, peer, metric)) is not None
    }
    if not medians:
        return None
    pick = max if metric.higher_is_better else min
    return pick(medians, key=lambda peer: medians[peer])


def table(all_results: Sequence[ScenarioResults], clients: Sequence[Client]) -> str:
    ours = [client.name for client in clients if client.ours]
    peers = [client.name for client in clients if not client.ours and not client.reference]
    references = [client.name for client in clients if client.reference]
    header = [
        "scenario",
        "metric",
        "client",
        "median",
        "unit",
        "vs best peer [range]",
        *(f"vs {name}" for name in [*peers, *references]),
    ]
    rows: list[list[str]] = []
    for results in all_results:
        for metric in results.scenario.metrics:
            best = best_peer(results, peers, metric)
            for client in [*ours, *peers, *references]:
                value = median_value(results, client, metric)
                row = [
                    results.scenario.name,
                    metric.label,
                    client,
                    "failed" if value is None else metric.format(value),
                    metric.unit,
                ]
                if client in ours:
                    best_text = format_ratio(round_ratios(results, client, peers, metric), True)
                    row.append(f"{best_text} ({best})" if best else best_text)
                    row.extend(
                        format_ratio(round_ratios(results, client, [other], metric))
                        for other in [*peers, *references]
                    )
                else:
                    row.extend([""] * (1 + len(peers) + len(references)))
                rows.append(row)
            rows.append([])
    widths = [max(len(header[i]), *(len(r[i]) for r in rows if r)) for i in range(len(header))]
    right = {3, *range(5, len(header))}

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ).rstrip()

    out = [line(header), line(["-" * width for width in widths])]
    out.extend(line(row) if row else "" for row in rows)
    return "\n".join(out).rstrip()


def environment(params: Params, measured: str) -> str:
    import async_amqp
    from benchmarks import _admin

    versions = ", ".join(
        f"{name} {metadata.version(name)}"
        for name in ("async_amqp", "anyio", "trio", "pamqp", "aiormq", "aio-pika", "pika")
    )
    try:
        broker = _admin.broker_description(params)
    except Exception as error:
        broker = f"unreachable ({error!r})"
    cpu = "?"
    with open("/proc/cpuinfo") as cpuinfo:
        for text in cpuinfo:
            if text.startswith("model name"):
                cpu = text.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} x {cpu}, load {load}\n"
        f"{versions}\nasync_amqp: {measured}, from {Path(async_amqp.__file__).parent}\n"
        f"broker: {broker} at {params.host}:{params.port}"
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    names = [scenario.name for scenario in SCENARIOS]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts and 3 rounds")
    parser.add_argument(
        "--scenario",
        action="append",
        metavar="NAME",
        help=f"run only these (repeatable, prefix match): {', '.join(names)}",
    )
    parser.add_argument(
        "--client", action="append", metavar="NAME", help="run only these clients (prefix match)"
    )
    parser.add_argument("--rounds", type=int, help="rounds per scenario (default 5, quick 3)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5672)
    parser.add_argument(
        "--rev",
        metavar="GIT_REV",
        help="measure async_amqp as of this git revision (default: the working tree)",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write raw results here")
    parser.add_argument(
        "--broker",
        choices=("rabbitmq", "fake"),
        default="rabbitmq",
        help="fake: run every client against RabbitMQ and the fake broker (a CLI subprocess), "
        "interleaved, and report fake ÷ RabbitMQ",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.broker == "fake":
        from benchmarks._fakebroker import FakeBrokerProcess

        with FakeBrokerProcess() as fake:
            return run(args, fake.port)
    return run(args, None)


def run(args: argparse.Namespace, fake_port: int | None) -> int:
    """Run the selected scenarios (against both brokers when *fake_port* is given)."""
    measured = use_async_amqp_revision(args.rev)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("benchmarks only send traffic to the local broker")
    scenarios = [
        scenario
        for scenario in SCENARIOS
        if not args.scenario or any(scenario.name.startswith(name) for name in args.scenario)
    ]
    if not scenarios:
        raise SystemExit(f"no scenario matches {args.scenario}")
    clients = [
        client
        for client in all_clients()
        if not args.client or any(client.name.startswith(name) for name in args.client)
    ]
    if fake_port is not None:
        from benchmarks._versus_fake import both_brokers

        clients = both_brokers(clients, fake_port)
    rounds = args.rounds or (3 if args.quick else 5)
    base = Params(host=args.host, port=args.port)
    env = environment(base, measured)
    if fake_port is not None:
        env += f"\nfake broker: python -m async_amqp_testing at 127.0.0.1:{fake_port}"
    print(env, flush=True)
    started = time.monotonic()
    all_results = []
    for scenario in scenarios:
        params = scenario.quick if args.quick else scenario.full
        params = replace(params, host=base.host, port=base.port)
        all_results.append(run_scenario(scenario, clients, params, rounds))
    print(
        f"\n{rounds} rounds, medians; ratios = how many times faster async_amqp is "
        f"(per-round ratio, median [min-max]); {time.monotonic() - started:.0f} s\n"
    )
    if fake_port is not None:
        from benchmarks._versus_fake import fake_table

        print("fake ÷ RabbitMQ: how many times faster each client is against the fake broker\n")
        print(fake_table(all_results, clients))
    else:
        print(table(all_results, clients))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "environment": env,
                    "rounds": rounds,
                    "quick": args.quick,
                    "results": {
                        results.scenario.name: {
                            "count": results.params.count,
                            "rounds": results.rounds,
                        }
                        for results in all_results
                    },
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
