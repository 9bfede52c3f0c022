"""pika's SelectConnection (callbacks on pika's own I/O loop), its fastest interface.

Each scenario is a small state machine: the connection opens its channels,
:meth:`_Session.start` begins the work and :meth:`_Session.finish` closes the
connection, which stops the loop.
"""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import Any

import pika
import pika.channel
import pika.connection
import pika.frame
import pika.spec
from pika.adapters.select_connection import IOLoop

from ._common import (
    RUN_TIMEOUT,
    Client,
    Metrics,
    Params,
    Stopwatch,
    cycle_metrics,
    latency_metrics,
)

#: Publishes queued per turn of the I/O loop in the publish scenario (the loop
#: writes between turns): at most this many, and about this many bytes. Measured
#: here (msg/s): 100 B bodies 1 -> 35k, 10 -> 64k, 1000 -> 67k, all at once -> 56k;
#: 64 KiB bodies 1 -> 16k, 10 -> 19k, 100 -> 14k, 1000 -> 9k.
PUBLISH_BATCH = 1000
PUBLISH_BATCH_BYTES = 512 * 1024


def _parameters(p: Params) -> pika.ConnectionParameters:
    return pika.ConnectionParameters(
        host=p.host,
        port=p.port,
        virtual_host=p.vhost,
        credentials=pika.PlainCredentials(p.login, p.password),
    )


class _Session:
    """One SelectConnection with ``channels_wanted`` channels on a private I/O loop."""

    channels_wanted = 1

    def __init__(self, p: Params) -> None:
        self.p = p
        self.ioloop = IOLoop()
        self.connection: pika.SelectConnection | None = None
        self.channels: list[pika.channel.Channel] = []
        self.metrics: Metrics | None = None
        self.error: BaseException | None = None
        self.closing = False

    def run(self) -> Metrics:
        timer = self.ioloop.call_later(
            RUN_TIMEOUT, lambda: self.fail(TimeoutError("pika run timed out"))
        )
        self.connection = pika.SelectConnection(
            _parameters(self.p),
            on_open_callback=self._on_open,
            on_open_error_callback=self._on_open_error,
            on_close_callback=self._on_closed,
            custom_ioloop=self.ioloop,
        )
        try:
            self.ioloop.start()
        finally:
            self.ioloop.remove_timeout(timer)
            self.ioloop.close()
        if self.error is not None:
            raise self.error
        assert self.metrics is not None
        return self.metrics

    def start(self) -> None:
        raise NotImplementedError

    def finish(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self._close()

    def fail(self, error: BaseException) -> None:
        if self.error is None:
            self.error = error
        self._close()

    def _close(self) -> None:
        self.closing = True
        connection = self.connection
        if connection is not None and connection.is_open:
            connection.close()
        else:
            self.ioloop.stop()

    def _on_open(self, connection: pika.connection.Connection) -> None:
        for _ in range(self.channels_wanted):
            connection.channel(on_open_callback=self._on_channel_open)

    def _on_channel_open(self, channel: pika.channel.Channel) -> None:
        channel.add_on_close_callback(self._on_channel_closed)
        self.channels.append(channel)
        if len(self.channels) == self.channels_wanted:
            self.start()

    def _on_channel_closed(self, channel: pika.channel.Channel, reason: BaseException) -> None:
        if not self.closing:
            self.fail(reason)

    def _on_open_error(self, connection: pika.connection.Connection, error: BaseException) -> None:
        self.error = error
        self.ioloop.stop()

    def _on_closed(self, connection: pika.connection.Connection, reason: BaseException) -> None:
        if not self.closing and self.error is None:
            self.error = reason
        self.ioloop.stop()


class _Publish(_Session):
    def start(self) -> None:
        self.remaining = self.p.count
        self.body = self.p.body
        self.watch = Stopwatch()
        self._publish_batch()

    def _publish_batch(self) -> None:
        channel = self.channels[0]
        publish = channel.basic_publish
        queue, body = self.p.queue, self.body
        batch = min(PUBLISH_BATCH, max(1, PUBLISH_BATCH_BYTES // len(body)), self.remaining)
        for _ in range(batch):
            publish("", queue, body)
        self.remaining -= batch
        if self.remaining:
            self.ioloop.call_later(0, self._publish_batch)
        else:
            self._poll()

    def _poll(self) -> None:
        self.channels[0].queue_declare(self.p.queue, passive=True, callback=self._on_declare_ok)

    def _on_declare_ok(self, frame: pika.frame.Method[Any]) -> None:
        if frame.method.message_count >= self.p.count:
            self.finish(self.watch.throughput(self.p.count))
        else:
            self._poll()


class _PublishConfirm(_Session):
    def start(self) -> None:
        self.body = self.p.body
        self.published = 0
        self.lowest_unsettled = 1
        self.unconfirmed: set[int] = set()
        self.channels[0].confirm_delivery(self._on_confirm, callback=self._on_select_ok)

    def _on_select_ok(self, frame: pika.frame.Method[Any]) -> None:
        self.watch = Stopwatch()
        self._fill_window()

    def _fill_window(self) -> None:
        publish = self.channels[0].basic_publish
        queue, body, count, window = self.p.queue, self.body, self.p.count, self.p.window
        unconfirmed = self.unconfirmed
        while len(unconfirmed) < window and self.published < count:
            publish("", queue, body)
            self.published += 1
            unconfirmed.add(self.published)

    def _on_confirm(self, frame: pika.frame.Method[Any]) -> None:
        method = frame.method
        if isinstance(method, pika.spec.Basic.Nack):
            self.fail(RuntimeError(f"publish {method.delivery_tag} nacked"))
            return
        tag = method.delivery_tag
        if method.multiple:
            for settled in range(self.lowest_unsettled, tag + 1):
                self.unconfirmed.discard(settled)
            self.lowest_unsettled = max(self.lowest_unsettled, tag + 1)
        else:
            self.unconfirmed.discard(tag)
        if self.published == self.p.count and not self.unconfirmed:
            self.finish(self.watch.throughput(self.p.count))
        else:
            self._fill_window()


class _Consume(_Session):
    def start(self) -> None:
        self.received = 0
        self.channels[0].basic_qos(prefetch_count=self.p.prefetch, callback=self._on_qos_ok)

    def _on_qos_ok(self, frame: pika.frame.Method[Any]) -> None:
        self.watch = Stopwatch()
        self.channels[0].basic_consume(self.p.queue, self._on_message, auto_ack=self.p.no_ack)

    def _on_message(
        self,
        channel: pika.channel.Channel,
        method: pika.spec.Basic.Deliver,
        properties: pika.spec.BasicProperties,
        body: bytes,
    ) -> None:
        if not self.p.no_ack:
            channel.basic_ack(method.delivery_tag)
        self.received += 1
        if self.received == self.p.count:
            channel.queue_declare(self.p.queue, passive=True, callback=self._on_done)

    def _on_done(self, frame: pika.frame.Method[Any]) -> None:
        self.finish(self.watch.throughput(self.p.count))


class _Rpc(_Session):
    channels_wanted = 2

    def start(self) -> None:
        self.body = self.p.body
        self.latencies: list[float] = []
        self.sent = 0
        self.consuming = 0
        server, client = self.channels
        server.basic_consume(
            self.p.queue, self._on_request, auto_ack=True, callback=self._on_consume_ok
        )
        client.basic_consume(
            self.p.reply_queue, self._on_reply, auto_ack=True, callback=self._on_consume_ok
        )

    def _on_consume_ok(self, frame: pika.frame.Method[Any]) -> None:
        self.consuming += 1
        if self.consuming == 2:
            self._send_request()

    def _send_request(self) -> None:
        if self.sent == self.p.warmup:
            self.watch = Stopwatch()
        self.correlation_id = str(self.sent)
        self.sent += 1
        self.started = perf_counter()
        self.channels[1].basic_publish(
            "",
            self.p.queue,
            self.body,
            pika.BasicProperties(reply_to=self.p.reply_queue, correlation_id=self.correlation_id),
        )

    def _on_request(
        self,
        channel: pika.channel.Channel,
        method: pika.spec.Basic.Deliver,
        properties: pika.spec.BasicProperties,
        body: bytes,
    ) -> None:
        assert properties.reply_to is not None
        channel.basic_publish(
            "",
            properties.reply_to,
            body,
            pika.BasicProperties(correlation_id=properties.correlation_id),
        )

    def _on_reply(
        self,
        channel: pika.channel.Channel,
        method: pika.spec.Basic.Deliver,
        properties: pika.spec.BasicProperties,
        body: bytes,
    ) -> None:
        elapsed = perf_counter() - self.started
        assert properties.correlation_id == self.correlation_id
        if self.sent > self.p.warmup:
            self.latencies.append(elapsed)
        if self.sent < self.p.warmup + self.p.count:
            self._send_request()
        else:
            self.finish(latency_metrics(self.latencies, self.watch.cpu_seconds()))


class _ConnectCycles:
    """Connection + channel open and close, ``count`` times, one after the other."""

    def __init__(self, p: Params) -> None:
        self.p = p
        self.ioloop = IOLoop()
        self.cycles: list[float] = []
        self.error: BaseException | None = None
        self.started = 0.0

    def run(self) -> Metrics:
        timer = self.ioloop.call_later(RUN_TIMEOUT, lambda: self._stop(TimeoutError("timed out")))
        watch = Stopwatch()
        self._next_cycle()
        try:
            self.ioloop.start()
        finally:
            self.ioloop.remove_timeout(timer)
            self.ioloop.close()
        if self.error is not None:
            raise self.error
        return cycle_metrics(self.cycles, watch.cpu_seconds())

    def _stop(self, error: BaseException | None = None) -> None:
        self.error = self.error or error
        self.ioloop.stop()

    def _next_cycle(self) -> None:
        if len(self.cycles) == self.p.count:
            self._stop()
            return
        self.started = perf_counter()
        pika.SelectConnection(
            _parameters(self.p),
            on_open_callback=self._on_open,
            on_open_error_callback=lambda _connection, error: self._stop(error),
            on_close_callback=self._on_closed,
            custom_ioloop=self.ioloop,
        )

    def _on_open(self, connection: pika.connection.Connection) -> None:
        connection.channel(on_open_callback=self._on_channel_open)

    def _on_channel_open(self, channel: pika.channel.Channel) -> None:
        channel.add_on_close_callback(self._on_channel_closed)
        channel.close()

    def _on_channel_closed(self, channel: pika.channel.Channel, reason: BaseException) -> None:
        channel.connection.close()

    def _on_closed(self, connection: pika.connection.Connection, reason: BaseException) -> None:
        self.cycles.append(perf_counter() - self.started)
        self._next_cycle()


def _runner(session: Callable[[Params], _Session | _ConnectCycles]) -> Callable[[Params], Metrics]:
    return lambda p: session(p).run()


def make_client() -> Client:
    return Client(
        "pika",
        {
            "publish": _runner(_Publish),
            "publish_confirm": _runner(_PublishConfirm),
            "consume": _runner(_Consume),
            "rpc": _runner(_Rpc),
            "connect": _runner(_ConnectCycles),
        },
    )
