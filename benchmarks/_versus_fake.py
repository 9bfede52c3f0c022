"""``run.py --broker fake``: every client against RabbitMQ and the fake broker, same run.

Each client is run twice per round, once against each broker (``pika@rabbitmq``,
``pika@fake``), interleaved with the others like any two clients, and the table
gives, per scenario, metric and client, the per-round ratio "fake ÷ RabbitMQ":
how many times faster the fake broker made that client (above 1: the fake
broker is faster).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Protocol

from ._common import Client, Metric, Metrics, Scenario


class Results(Protocol):
    """What the runner keeps per scenario (see ``run.ScenarioResults``)."""

    scenario: Scenario
    rounds: dict[str, list[Metrics | None]]


def both_brokers(clients: Sequence[Client], fake_port: int) -> list[Client]:
    """Each client twice: against RabbitMQ (the runner's port) and against the fake broker."""
    paired: list[Client] = []
    for client in clients:
        paired.append(
            replace(
                client, name=f"{client.name}@rabbitmq", broker="rabbitmq", base_name=client.name
            )
        )
        paired.append(
            replace(
                client,
                name=f"{client.name}@fake",
                broker="fake",
                base_name=client.name,
                port=fake_port,
            )
        )
    return paired


def _values(
    rounds: Mapping[str, list[Metrics | None]], name: str, metric: Metric
) -> list[float | None]:
    return [None if m is None else m[metric.key] for m in rounds.get(name, [])]


def fake_table(all_results: Sequence[Results], clients: Sequence[Client]) -> str:
    """The "fake ÷ RabbitMQ" table (medians per broker, per-round ratio median [min-max])."""
    bases = list(dict.fromkeys(client.base_name for client in clients if client.base_name))
    header = ["scenario", "metric", "client", "RabbitMQ", "fake", "unit", "fake ÷ RabbitMQ [range]"]
    rows: list[list[str]] = []
    for results in all_results:
        for metric in results.scenario.metrics:
            for base in bases:
                rabbit = _values(results.rounds, f"{base}@rabbitmq", metric)
                fake = _values(results.rounds, f"{base}@fake", metric)
                ratios = [
                    metric.speed_ratio(f, r)
                    for r, f in zip(rabbit, fake, strict=False)
                    if r is not None and f is not None
                ]
                rows.append(
                    [
                        results.scenario.name,
                        metric.label,
                        base,
                        _median(rabbit, metric),
                        _median(fake, metric),
                        metric.unit,
                        _ratio(ratios),
                    ]
                )
        rows.append([])
    widths = [max(len(header[i]), *(len(r[i]) for r in rows if r)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.rjust(widths[i]) if i in (3, 4, 6) else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ).rstrip()

    out = [line(header), line(["-" * width for width in widths])]
    out.extend(line(row) if row else "" for row in rows)
    return "\n".join(out).rstrip()


def _median(values: Sequence[float | None], metric: Metric) -> str:
    present = [v for v in values if v is not None]
    return metric.format(statistics.median(present)) if present else "failed"


def _ratio(ratios: Sequence[float]) -> str:
    if not ratios:
        return "-"
    text = f"{statistics.median(ratios):.2f}x"
    if len(ratios) > 1:
        text += f" [{min(ratios):.2f}-{max(ratios):.2f}]"
    return text
