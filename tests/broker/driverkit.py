"""Building a broker connection driver without sockets or a FakeBroker, for unit tests.

A :class:`~async_amqp_testing._driver.ConnectionDriver` needs settings, the
model, a host and a transport; here the host and transport record what the
driver asks of them, and :func:`exchange` feeds bytes and returns the methods
the driver sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pamqp.base import Frame

from async_amqp._core.wire import FRAME_METHOD, FrameReader, decode_method
from async_amqp_testing._driver import ConnectionDriver
from async_amqp_testing._model import BrokerModel
from async_amqp_testing._rawframes import decode_close
from async_amqp_testing._server_identity import server_properties
from async_amqp_testing._settings import ConnectionSettings


@dataclass
class RecordingTransport:
    """A driver's transport that records what the driver asks for."""

    aborted: bool = False
    delayed_closes: list[float] = field(default_factory=list)
    tuned_count: int = 0
    resumed_count: int = 0
    wakes: int = 0

    def wake_writer(self) -> None:
        """Count the wake-ups (output is read after each step)."""
        self.wakes += 1

    def output_ready(self) -> None:
        """Nothing to do: output is read after each step."""

    def close_after(self, timeout: float) -> None:
        """Record a delayed close."""
        self.delayed_closes.append(timeout)

    def abort(self) -> None:
        """Record a dropped socket."""
        self.aborted = True

    def tuned(self) -> None:
        """Count the tune-oks."""
        self.tuned_count += 1

    def resume_reading(self) -> None:
        """Count the read resumptions."""
        self.resumed_count += 1


@dataclass
class RecordingHost:
    """A driver's host: a settable alarm, and the drivers whose connection opened."""

    blocked_reason: str | None = None
    opened: list[ConnectionDriver] = field(default_factory=list)

    def connection_opened(self, driver: ConnectionDriver) -> None:
        """Record the opened connection."""
        self.opened.append(driver)


def settings(**overrides: object) -> ConnectionSettings:
    """Connection settings as a default FakeBroker's, with *overrides*."""
    values: dict[str, object] = {"server_properties": server_properties("driver-test")}
    values.update(overrides)
    return ConnectionSettings(**values)  # type: ignore[arg-type]


@dataclass
class DriverRig:
    """A driver with its recording host and transport, fed bytes by :meth:`exchange`."""

    model: BrokerModel = field(default_factory=lambda: BrokerModel(users={"guest": "guest"}))
    settings: ConnectionSettings = field(default_factory=settings)
    host: RecordingHost = field(default_factory=RecordingHost)
    transport: RecordingTransport = field(default_factory=RecordingTransport)
    driver: ConnectionDriver = field(init=False)
    reader: FrameReader = field(default_factory=FrameReader)

    def __post_init__(self) -> None:
        self.driver = ConnectionDriver(
            self.settings, self.model, self.host, self.transport, "driver-test"
        )

    def exchange(self, data: bytes, now: float = 0.0) -> list[Frame]:
        """Feed *data*; return the methods the driver sent in answer."""
        self.driver.receive_data(data, now)
        return self.output(now)

    def output(self, now: float = 0.0) -> list[Frame]:
        """The methods the driver has buffered (the model's events encoded first)."""
        self.driver.drain_outbox()
        data = self.driver.core.data_to_send(now)
        if data.startswith(b"AMQP"):
            return []
        return [
            decode_close(payload) or decode_method(payload)
            for frame_type, _, payload in self.reader.feed(data)
            if frame_type == FRAME_METHOD
        ]
