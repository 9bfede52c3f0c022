"""What every client's benchmark shares: parameters, results, statistics and definitions.

Each client module (``_async_amqp``, ``_aiormq``, ``_aio_pika``, ``_pika``) implements
the same five scenario functions with the same start and end points, so that
one number means the same thing for every client:

``publish``
    from the first publish until a passive ``queue.declare`` *on the publishing
    channel* reports that the queue holds all ``count`` messages (the broker
    has them all). No publisher confirms.
``publish_confirm``
    confirm mode, ``window`` publishes in flight; from the first publish until
    the last confirm arrived.
``consume``
    the queue is pre-filled (untimed) with ``count`` messages; from
    ``basic.consume`` until the last message was received (and acked, one ack
    call per message, unless ``no_ack``) and a synchronous round trip on the same
    channel (a passive ``queue.declare``) came back, so the broker has
    processed every ack. What goes on the wire is the client's business:
    async_amqp merges acks queued together in delivery order into one
    ``multiple`` ack; pika, aiormq, aio-pika and the raw socket send one
    frame per ack.
``rpc``
    a consumer on the same connection (its own channel) replies to each
    request on a reply queue; one request at a time; per-request latency
    from the request's publish to the reply's arrival, after ``warmup``
    untimed requests.
``connect``
    open a connection and a channel, close both (waiting for close-ok);
    per-cycle time.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
#: Seconds one measurement may take before it is abandoned as hung.
RUN_TIMEOUT = 120.0
#: Every benchmark queue expires when unused (a crashed run leaves nothing behind).
QUEUE_ARGUMENTS: Mapping[str, int] = {"x-expires": 120_000}

Metrics = dict[str, float]
"""What one run measured: metric name -> value (msg/s or seconds).

Every run also reports ``cpu``: the client process's CPU time (user + system,
:func:`time.process_time`) between the same start and end points, per message,
round trip or cycle. On this shared two-core machine the wall-clock rate of a
fast client is partly the broker's speed; CPU per operation is the client's own
cost, and much steadier.
"""


@dataclass(frozen=True)
class Params:
    """One run's parameters (the runner fills in fresh queue names per run)."""

    host: str = "127.0.0.1"
    port: int = 5672
    login: str = "guest"
    password: str = "guest"
    vhost: str = "/"
    #: messages to publish or consume, round trips, or connect cycles
    count: int = 1000
    body_size: int = 100
    #: publishes in flight (publish_confirm)
    window: int = 1000
    prefetch: int = 1000
    no_ack: bool = False
    #: untimed round trips first (rpc)
    warmup: int = 50
    queue: str = ""
    #: where the rpc consumer's replies go
    reply_queue: str = ""

    @property
    def url(self) -> str:
        vhost = "%2F" if self.vhost == "/" else self.vhost
        return f"amqp://{self.login}:{self.password}@{self.host}:{self.port}/{vhost}"

    @property
    def body(self) -> bytes:
        return b"x" * self.body_size

    def scaled(self, factor: float) -> Params:
        """The same run with ``count`` (and ``warmup``) scaled down, for a warm-up pass."""
        return replace(
            self, count=max(1, int(self.count * factor)), warmup=max(1, int(self.warmup * factor))
        )


ScenarioFunction = Callable[[Params], Metrics]
"""Runs one measurement to completion (its own event loop) and returns its metrics."""


@dataclass(frozen=True)
class Client:
    """A client under test: a name and its implementation of each scenario kind."""

    name: str
    kinds: Mapping[str, ScenarioFunction]
    #: True for the clients being measured (the numerators of the ratios)
    ours: bool = False
    #: True for the raw-socket ceiling (shown, compared with, but not a peer)
    reference: bool = False
    #: the broker this client is measured against (``--broker fake``): its port, its label
    port: int | None = None
    broker: str = ""
    #: the client's name without the broker label
    base_name: str = ""


@dataclass(frozen=True)
class Metric:
    """How a metric is shown: its key in :data:`Metrics`, label, unit and direction."""

    key: str
    label: str
    unit: str
    higher_is_better: bool
    scale: float = 1.0

    def format(self, value: float) -> str:
        shown = value * self.scale
        if shown >= 1000:
            return f"{shown:,.0f}"
        if shown >= 10:
            return f"{shown:.1f}"
        return f"{shown:.2f}"

    def speed_ratio(self, ours: float, peer: float) -> float:
        """How many times faster we are than *peer* (>1: faster), whatever the direction."""
        if self.higher_is_better:
            return ours / peer
        return peer / ours


RATE = Metric("rate", "throughput", "msg/s", higher_is_better=True)
CPU_PER_MESSAGE = Metric("cpu", "client CPU", "µs/msg", higher_is_better=False, scale=1e6)
P50 = Metric("p50", "p50 latency", "µs", higher_is_better=False, scale=1e6)
P99 = Metric("p99", "p99 latency", "µs", higher_is_better=False, scale=1e6)
CPU_PER_ROUND_TRIP = Metric("cpu", "client CPU", "µs/rt", higher_is_better=False, scale=1e6)
CYCLE = Metric("cycle", "open+close", "ms", higher_is_better=False, scale=1e3)
CPU_PER_CYCLE = Metric("cpu", "client CPU", "ms/cycle", higher_is_better=False, scale=1e3)
THROUGHPUT = (RATE, CPU_PER_MESSAGE)


@dataclass(frozen=True)
class Scenario:
    """A named benchmark: which scenario kind, with what parameters, showing what."""

    name: str
    kind: str
    description: str
    full: Params
    quick: Params
    metrics: Sequence[Metric]
    #: the queue is filled with ``count`` messages before the timed part
    prefill: bool = False
    needs_reply_queue: bool = False


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "publish-100B",
        "publish",
        "publish without confirms, 100-byte bodies, until the queue holds them all",
        Params(count=30_000, body_size=100),
        Params(count=8_000, body_size=100),
        THROUGHPUT,
    ),
    Scenario(
        "publish-64KiB",
        "publish",
        "publish without confirms, 64 KiB bodies, until the queue holds them all",
        Params(count=4_000, body_size=65_536),
        Params(count=1_000, body_size=65_536),
        THROUGHPUT,
    ),
    Scenario(
        "confirm-100B",
        "publish_confirm",
        "publish with confirms, 1000 in flight, 100-byte bodies, until all are confirmed",
        Params(count=20_000, body_size=100, window=1000),
        Params(count=5_000, body_size=100, window=1000),
        THROUGHPUT,
    ),
    Scenario(
        "consume-ack",
        "consume",
        "consume a pre-filled queue, prefetch 1000, one ack call per message",
        Params(count=20_000, body_size=100, prefetch=1000),
        Params(count=5_000, body_size=100, prefetch=1000),
        THROUGHPUT,
        prefill=True,
    ),
    Scenario(
        "consume-noack",
        "consume",
        "consume a pre-filled queue, prefetch 1000, no_ack",
        Params(count=20_000, body_size=100, prefetch=1000, no_ack=True),
        Params(count=5_000, body_size=100, prefetch=1000, no_ack=True),
        THROUGHPUT,
        prefill=True,
    ),
    Scenario(
        "rpc",
        "rpc",
        "request/reply round trip through a consumer on the same connection",
        Params(count=1_000, body_size=100, warmup=100),
        Params(count=300, body_size=100, warmup=50),
        (P50, P99, CPU_PER_ROUND_TRIP),
        needs_reply_queue=True,
    ),
    Scenario(
        "connect",
        "connect",
        "open connection + channel, close both",
        # 200 cycles (about 0.6 s): with 20, one burst of a noisy neighbour on this
        # shared VM decided a round (single cycles ranged 1.9 to 6 ms within one run)
        Params(count=200),
        Params(count=30),
        (CYCLE, CPU_PER_CYCLE),
    ),
)


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The *fraction* quantile of *samples* (nearest rank)."""
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


class Stopwatch:
    """Wall-clock and process CPU time from its creation (the start point of a run)."""

    __slots__ = ("cpu", "wall")

    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = time.process_time()

    def cpu_seconds(self) -> float:
        return time.process_time() - self.cpu

    def throughput(self, count: int) -> Metrics:
        """Messages per second and CPU seconds per message, up to now."""
        wall = time.perf_counter() - self.wall
        return {"rate": count / wall, "cpu": self.cpu_seconds() / count}


def latency_metrics(samples: Sequence[float], cpu_seconds: float) -> Metrics:
    """p50 and p99 of per-request latencies, CPU seconds per request."""
    return {
        "p50": percentile(samples, 0.50),
        "p99": percentile(samples, 0.99),
        "cpu": cpu_seconds / len(samples),
    }


def cycle_metrics(samples: Sequence[float], cpu_seconds: float) -> Metrics:
    """The median cycle time, CPU seconds per cycle."""
    return {"cycle": statistics.median(samples), "cpu": cpu_seconds / len(samples)}


@dataclass
class Counter:
    """A countdown shared by worker tasks (no locks needed on one event loop)."""

    remaining: int
    done: int = field(default=0)

    def take(self) -> bool:
        """Claim one unit of work; False when none is left."""
        if self.remaining <= 0:
            return False
        self.remaining -= 1
        return True
