"""RabbitMQ's own CPU per message while each client runs a scenario.

    python benchmarks/rabbitmq_cpu.py [--rounds 2] [publish-100B confirm-100B consume-ack ...]

On a two-core machine the client and RabbitMQ share the CPU, and a single queue is one
Erlang process: past some rate the broker, not the client, sets the pace. This reads
the RabbitMQ node's CPU time (``beam.smp`` in ``/proc``, so Linux and a local node only)
around each client's run and prints, per client: the rate, the client's CPU per message,
the broker's CPU per message and how many cores the broker kept busy. A client that
costs the broker less per message (fewer frames for the same work, e.g. merged acks)
shows it here, where the throughput ratios alone cannot.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _async_amqp, _pika, _raw
from benchmarks._common import SCENARIOS, Client
from benchmarks.run import scenario_queues

#: The clients compared: ours on both backends, the fastest peer, the raw-socket ceiling.
CLIENTS: tuple[Client, ...] = (
    _async_amqp.make_client("asyncio"),
    _async_amqp.make_client("trio"),
    _pika.make_client(),
    _raw.make_client(),
)


def broker_pid() -> int:
    """The pid of the local RabbitMQ node (its ``beam.smp``)."""
    found = subprocess.run(["pgrep", "-f", "beam.smp"], capture_output=True, text=True)
    pids = found.stdout.split()
    if not pids:
        raise SystemExit("no beam.smp process: this needs a RabbitMQ node on this machine")
    return int(pids[0])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of *pid* so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "scenario", nargs="*", default=["publish-100B", "confirm-100B", "consume-ack"]
    )
    args = parser.parse_args(argv)
    pid = broker_pid()
    for name in args.scenario:
        scenario = next(s for s in SCENARIOS if s.name == name)
        for _ in range(args.rounds):
            for client in CLIENTS:
                with scenario_queues(scenario, client, scenario.full, "cpu") as p:
                    broker_before, wall_before = cpu_seconds(pid), time.perf_counter()
                    metrics = client.kinds[scenario.kind](p)
                    broker = cpu_seconds(pid) - broker_before
                    wall = time.perf_counter() - wall_before
                print(
                    f"{name:13} {client.name:19} {metrics['rate']:9,.0f} msg/s  "
                    f"client {metrics['cpu'] * 1e6:5.2f} µs/msg  "
                    f"RabbitMQ {broker / p.count * 1e6:5.1f} µs/msg  "
                    f"RabbitMQ busy {broker / wall:4.2f} cores",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
