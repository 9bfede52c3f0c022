"""Every script in examples/ runs, against the fake broker and RabbitMQ, on asyncio and trio.

Each example's ``main(url, ...)`` is awaited in-process against the
``amqp_broker`` targets, with unique queue and exchange names; the test checks
what it returned and every line it printed. Each script is also run as a
program, with no URL, so that it starts its embedded fake broker.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.support import BrokerTarget

from .support import EMBEDDED_BROKER_LINE, EXAMPLES, assert_lines, lit, load_example

Names = Callable[[BrokerTarget], dict[str, Any]]


@dataclass
class Case:
    """How to run one example and what it must print and return."""

    #: the unique names a run against a shared broker needs (keyword arguments of main)
    names: Names
    #: the printed lines (regular expressions, any order), given main's keyword arguments
    lines: Callable[[dict[str, Any]], list[str]]
    #: checks of main's return value, given main's keyword arguments
    check: Callable[[Any, dict[str, Any]], None]
    #: further checks of the printed lines
    check_output: Callable[[list[str]], None] = field(default=lambda lines: None)


def no_names(target: BrokerTarget) -> dict[str, Any]:
    return {}


def hello_world_lines(kwargs: dict[str, Any]) -> list[str]:
    return [
        lit(f"sent 'Hello, world!' to queue {kwargs['queue_name']!r}"),
        lit("received 'Hello, world!' (delivery tag 1)"),
    ]


def check_hello_world(result: Any, kwargs: dict[str, Any]) -> None:
    assert result == b"Hello, world!"


def work_queue_lines(kwargs: dict[str, Any]) -> list[str]:
    tasks = load_example("work_queue").TASKS
    return [
        *(r"worker [12] does " + lit(repr(task)) for task in tasks),
        lit(f"queued {len(tasks)} tasks"),
        lit(f"all {len(tasks)} tasks done"),
    ]


def check_work_queue(result: Any, kwargs: dict[str, Any]) -> None:
    tasks = load_example("work_queue").TASKS
    assert sorted(task for _worker, task in result) == sorted(tasks)  # each task exactly once
    assert {worker for worker, _task in result} <= {"worker 1", "worker 2"}


def publish_subscribe_lines(kwargs: dict[str, Any]) -> list[str]:
    log_lines = load_example("publish_subscribe").LOG_LINES
    return [lit(f"{name} got {line!r}") for name in ("console", "archive") for line in log_lines]


def check_publish_subscribe(result: Any, kwargs: dict[str, Any]) -> None:
    log_lines = load_example("publish_subscribe").LOG_LINES
    assert result == {"console": log_lines, "archive": log_lines}


ROUTED = {
    "errors only": ["error: payment failed"],
    "everything": ["info: user logged in", "warning: slow query", "error: payment failed"],
}


def routing_lines(kwargs: dict[str, Any]) -> list[str]:
    return [lit(f"{name}: {lines}") for name, lines in ROUTED.items()]


def check_routing(result: Any, kwargs: dict[str, Any]) -> None:
    assert result == ROUTED


MATCHED = {
    "kern.*": ["kern.critical", "kern.info"],
    "*.critical": ["kern.critical", "app.critical"],
    "app.#": ["app.critical", "app.db.slow"],
}


def topics_lines(kwargs: dict[str, Any]) -> list[str]:
    return [lit(f"{pattern!r:14} matched {keys}") for pattern, keys in MATCHED.items()]


def check_topics(result: Any, kwargs: dict[str, Any]) -> None:
    assert result == MATCHED


FIBONACCI = {10: 55, 20: 6765, 30: 832040, 40: 102334155, 50: 12586269025}


def rpc_lines(kwargs: dict[str, Any]) -> list[str]:
    return [
        *(lit(f"server: fibonacci({n})") for n in FIBONACCI),
        *(lit(f"client: fibonacci({n}) = {value}") for n, value in FIBONACCI.items()),
    ]


def check_rpc(result: Any, kwargs: dict[str, Any]) -> None:
    assert result == FIBONACCI


def check_rpc_output(lines: list[str]) -> None:
    # every answer arrives before the client prints them, in order
    assert lines[-5:] == [f"client: fibonacci({n}) = {v}" for n, v in FIBONACCI.items()]


def confirms_lines(kwargs: dict[str, Any]) -> list[str]:
    return [
        lit("1000 concurrent publishes confirmed"),
        lit("the queue holds 1000 messages"),
        # 1000 messages, then "fits" (1001), then the one that does not fit
        lit("nacked by the broker: publish 1002 failed: the broker nacked the message"),
    ]


def check_confirms(result: Any, kwargs: dict[str, Any]) -> None:
    assert result == {"confirmed": 1000, "in queue": 1000, "nacked": 1}


def confirm_window_lines(kwargs: dict[str, Any]) -> list[str]:
    return [
        lit("5000 publishes confirmed, at most 500 at a time"),
        # 5000 messages, then "routed" (5001), then the unroutable one
        lit("publish 5002 came back: NO_ROUTE b'lost'"),
        lit("the queue holds 5001 messages"),
    ]


def check_confirm_window(result: Any, kwargs: dict[str, Any]) -> None:
    assert result == {"in queue": 5001, "returned": 5002}


def mandatory_returns_names(target: BrokerTarget) -> dict[str, Any]:
    return {"unroutable_key": target.queue_name("nowhere")}  # never declared


def mandatory_returns_lines(kwargs: dict[str, Any]) -> list[str]:
    where = f"(exchange '', routing key {kwargs['unroutable_key']!r})"
    return [
        lit(f"returned 'lost': 312 NO_ROUTE {where}"),
        lit("publish raised: 312 NO_ROUTE"),
        lit(f"returned 'lost too': 312 NO_ROUTE {where}"),
    ]


def check_mandatory_returns(result: Any, kwargs: dict[str, Any]) -> None:
    assert result == {"returned": ["lost", "lost too"], "raised": ["lost too"]}


def callback_consumer_lines(kwargs: dict[str, Any]) -> list[str]:
    orders = load_example("callback_consumer").ORDERS
    return [
        r"consumer amq\.ctag-[\w-]+ started",
        *(lit(f"handling {order!r} (text/plain)") for order in orders),
    ]


def check_callback_consumer(result: Any, kwargs: dict[str, Any]) -> None:
    assert result == load_example("callback_consumer").ORDERS  # one at a time, in order


def channel_errors_names(target: BrokerTarget) -> dict[str, Any]:
    return {"missing_queue": target.queue_name("missing"), "queue_name": target.queue_name()}


def channel_errors_lines(kwargs: dict[str, Any]) -> list[str]:
    missing, queue = kwargs["missing_queue"], kwargs["queue_name"]
    return [
        lit(f"channel 1 closed: 404 NOT_FOUND - no queue '{missing}' in vhost '/'"),
        lit("channel open: False, connection open: True"),
        lit(
            f"refused: 406 PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue "
            f"'{queue}' in vhost '/': received the value '10' of type 'byte' but current is none"
        ),
        lit(
            "connection closed: CommandInvalidError 503 COMMAND_INVALID - "
            "unknown exchange type 'no-such-type'"
        ),
    ]


def check_channel_errors(result: Any, kwargs: dict[str, Any]) -> None:
    assert result == [404, 406, 503]


def quorum_work_queue_names(target: BrokerTarget) -> dict[str, Any]:
    return {
        "queue_name": target.queue_name("orders"),
        "dead_letter_queue": target.queue_name("orders-dead"),
    }


def quorum_work_queue_lines(kwargs: dict[str, Any]) -> list[str]:
    poison = "'order 2 (poison)'"
    return [
        lit("done 'order 1'"),
        *(lit(f"attempt {n} of {poison} failed (limit 2)") for n in (1, 2, 3)),
        lit("done 'order 3'"),
        lit(f"dead-lettered {poison} (delivery_limit)"),
    ]


def check_quorum_work_queue(result: Any, kwargs: dict[str, Any]) -> None:
    assert result == {"done": ["order 1", "order 3"], "dead": ["order 2 (poison)"]}


def check_quorum_work_queue_output(lines: list[str]) -> None:
    # the poison order is retried in place (a requeue goes to the front with a limit)
    attempts = [line for line in lines if line.startswith(("attempt", "done 'order 1'"))]
    assert attempts[0] == "done 'order 1'"
    assert [line[:9] for line in attempts[1:]] == ["attempt 1", "attempt 2", "attempt 3"]


def stream_replay_lines(kwargs: dict[str, Any]) -> list[str]:
    events = load_example("stream_replay").EVENTS
    return [
        *(lit(f"first: offset {n}: {event}") for n, event in enumerate(events)),
        *(lit(f"from 3: offset {n}: {events[n]}") for n in (3, 4)),
        lit("next: offset 5: logged in"),
    ]


def check_stream_replay(result: Any, kwargs: dict[str, Any]) -> None:
    assert result == {"first": [0, 1, 2, 3, 4], "from 3": [3, 4], "next": [5]}


def robust_service_lines(kwargs: dict[str, Any]) -> list[str]:
    jobs = int(kwargs.get("jobs", 10))
    return [
        *(lit(f"handled job {number}") for number in range(1, jobs + 1)),
        lit(f"published {jobs} jobs"),
        lit(f"all {jobs} jobs handled after 0 reconnect(s)"),
    ]


def check_robust_service(result: Any, kwargs: dict[str, Any]) -> None:
    assert result == {f"job {number}" for number in range(1, 11)}


CASES: dict[str, Case] = {
    "hello_world": Case(
        lambda target: {"queue_name": target.queue_name("hello")},
        hello_world_lines,
        check_hello_world,
    ),
    "work_queue": Case(
        lambda target: {"queue_name": target.queue_name("tasks")},
        work_queue_lines,
        check_work_queue,
        lambda lines: (
            None if lines[-1] == "all 5 tasks done" else pytest.fail(f"last line: {lines[-1]}")
        ),
    ),
    "publish_subscribe": Case(
        lambda target: {"exchange_name": target.exchange_name("logs")},
        publish_subscribe_lines,
        check_publish_subscribe,
    ),
    "routing": Case(
        lambda target: {"exchange_name": target.exchange_name("direct")},
        routing_lines,
        check_routing,
    ),
    "topics": Case(
        lambda target: {"exchange_name": target.exchange_name("topic")},
        topics_lines,
        check_topics,
    ),
    "rpc": Case(
        lambda target: {"queue_name": target.queue_name("rpc")},
        rpc_lines,
        check_rpc,
        check_rpc_output,
    ),
    "confirms": Case(no_names, confirms_lines, check_confirms),
    "confirm_window": Case(
        lambda target: {"unroutable_key": target.queue_name("nowhere")},
        confirm_window_lines,
        check_confirm_window,
    ),
    "mandatory_returns": Case(
        mandatory_returns_names, mandatory_returns_lines, check_mandatory_returns
    ),
    "callback_consumer": Case(no_names, callback_consumer_lines, check_callback_consumer),
    "channel_errors": Case(channel_errors_names, channel_errors_lines, check_channel_errors),
    "robust_service": Case(
        lambda target: {"queue_name": target.queue_name("robust-jobs")},
        robust_service_lines,
        check_robust_service,
    ),
    "quorum_work_queue": Case(
        quorum_work_queue_names,
        quorum_work_queue_lines,
        check_quorum_work_queue,
        check_quorum_work_queue_output,
    ),
    "stream_replay": Case(
        lambda target: {"stream_name": target.queue_name("events")},
        stream_replay_lines,
        check_stream_replay,
    ),
}


def test_every_example_has_a_case() -> None:
    scripts = {path.stem for path in EXAMPLES.glob("*.py") if not path.stem.startswith("_")}
    assert scripts - {"demo"} == set(CASES)  # demo.py is run by test_demo_script


@pytest.mark.parametrize("name", sorted(CASES))
async def test_example(
    name: str, amqp_broker: BrokerTarget, capsys: pytest.CaptureFixture[str]
) -> None:
    case = CASES[name]
    kwargs = case.names(amqp_broker)
    result = await load_example(name).main(amqp_broker.url, **kwargs)
    output = capsys.readouterr().out
    case.check(result, kwargs)
    assert_lines(output, case.lines(kwargs))
    case.check_output(output.splitlines())


def default_kwargs(name: str) -> dict[str, Any]:
    """The keyword arguments main() gets when the script runs on its own."""
    signature = inspect.signature(load_example(name).main)
    return {
        parameter.name: parameter.default
        for parameter in signature.parameters.values()
        if parameter.default is not inspect.Parameter.empty
    }


def run_script(*args: str) -> str:
    environment = {key: value for key, value in os.environ.items() if key != "AMQP_URL"}
    completed = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    return completed.stdout


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_script_with_embedded_broker(name: str, backend: str) -> None:
    output = run_script(str(EXAMPLES / f"{name}.py"), "--backend", backend)
    first, *rest = output.splitlines()
    assert EMBEDDED_BROKER_LINE.fullmatch(first)
    case = CASES[name]
    kwargs = default_kwargs(name)
    assert_lines("\n".join(rest), case.lines(kwargs))
    case.check_output(rest)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_demo_script(backend: str) -> None:
    output = run_script(str(EXAMPLES / "demo.py"), backend)
    assert_lines(
        output,
        [
            r"fake broker listening on amqp://guest:guest@127\.0\.0\.1:\d+/",
            lit("published 3 messages, each confirmed by the broker"),
            lit("unroutable message came back: 312 NO_ROUTE"),
            *(
                lit(
                    f"received 'something happened at {level} level' via app.{level} "
                    f"(headers {{'level': '{level}'}})"
                )
                for level in ("info", "warning", "error")
            ),
            lit("done"),
        ],
    )
