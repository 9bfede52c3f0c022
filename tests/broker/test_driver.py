"""The broker's connection driver on its own: no sockets, no FakeBroker.

A :class:`~async_amqp_testing._driver.ConnectionDriver` is built from
settings, the model, a host and a transport (see ``driverkit``); these tests
check what it asks of each: the host's alarm and connection-opened event, the
transport's tune, delayed-close, abort and resume hooks, with the timeouts its
settings give.
"""

from __future__ import annotations

import struct

from pamqp import commands
from pamqp.common import FieldTable

from async_amqp._core.wire import PROTOCOL_HEADER, encode_method
from async_amqp_testing._ports import End
from async_amqp_testing.raw import encode_frame, plain_response

from .driverkit import DriverRig, settings


def start_ok(password: str = "guest", capabilities: FieldTable | None = None) -> bytes:
    """A PLAIN connection.start-ok for guest."""
    return encode_method(
        0,
        commands.Connection.StartOk(
            client_properties={"capabilities": dict(capabilities or {})},
            mechanism="PLAIN",
            response=plain_response("guest", password).decode(),
            locale="en_US",
        ),
    )


TUNE_OK = encode_method(0, commands.Connection.TuneOk(channel_max=16, frame_max=131072))
OPEN = encode_method(0, commands.Connection.Open(virtual_host="/"))


def opened(rig: DriverRig, capabilities: FieldTable | None = None) -> None:
    """Run the handshake to an open connection with channel 1 open."""
    rig.exchange(PROTOCOL_HEADER + start_ok(capabilities=capabilities) + TUNE_OK + OPEN)
    rig.exchange(encode_method(1, commands.Channel.Open()))


def test_the_handshake_uses_the_settings_and_tells_the_host() -> None:
    rig = DriverRig(settings=settings(channel_max=7, frame_max=8192, heartbeat=5))
    sent = rig.exchange(PROTOCOL_HEADER)
    assert isinstance(sent[0], commands.Connection.Start)
    assert sent[0].server_properties["cluster_name"] == "driver-test"
    assert sent[0].mechanisms == "PLAIN AMQPLAIN"  # EXTERNAL: TLS only
    tune = rig.exchange(start_ok())[0]
    assert isinstance(tune, commands.Connection.Tune)
    assert (tune.channel_max, tune.frame_max, tune.heartbeat) == (7, 8192, 5)
    assert rig.host.opened == []
    rig.exchange(encode_method(0, commands.Connection.TuneOk(channel_max=7, frame_max=8192)))
    assert rig.transport.tuned_count == 1
    assert isinstance(rig.exchange(OPEN)[0], commands.Connection.OpenOk)
    assert rig.host.opened == [rig.driver]
    assert rig.driver.connection is not None
    assert [info.user for info in rig.model.connection_snapshots()] == ["guest"]


def test_a_refused_login_closes_silently_after_the_settings_delay() -> None:
    rig = DriverRig(settings=settings(silent_close_delay=1.5))
    rig.exchange(PROTOCOL_HEADER)
    assert rig.exchange(start_ok("wrong")) == []
    assert rig.driver.end is End.SILENT_DELAY
    rig = DriverRig(settings=settings(silent_close_delay=1.5))
    rig.exchange(PROTOCOL_HEADER)
    sent = rig.exchange(start_ok("wrong", {"authentication_failure_close": True}))
    assert isinstance(sent[0], commands.Connection.Close)
    assert sent[0].reply_code == 403
    assert rig.transport.delayed_closes == [1.5]


def test_closes_wait_the_settings_close_timeout() -> None:
    rig = DriverRig(settings=settings(close_timeout=7.0))
    opened(rig)
    rig.driver.server_close(320, "CONNECTION_FORCED - test")
    sent = rig.output()
    assert isinstance(sent[-1], commands.Connection.Close)
    assert sent[-1].reply_code == 320
    assert rig.transport.delayed_closes == [7.0]
    rig.exchange(encode_method(0, commands.Connection.CloseOk()))
    assert rig.driver.end is End.FLUSH_THEN_CLOSE


def test_a_publish_during_the_hosts_alarm_blocks_reading_until_unblock() -> None:
    rig = DriverRig()
    opened(rig, {"connection.blocked": True})
    rig.host.blocked_reason = "low on memory"
    publish = encode_method(1, commands.Basic.Publish(exchange="", routing_key="nowhere"))
    header = encode_frame(2, 1, struct.pack(">HHQH", 60, 0, 0, 0))
    declare = encode_method(1, commands.Queue.Declare(queue="after-block"))
    sent = rig.exchange(publish + header + declare)
    assert rig.driver.reading_blocked
    assert [type(method) for method in sent] == [commands.Connection.Blocked]
    assert rig.driver.has_held_input  # the declare waits
    rig.host.blocked_reason = None
    rig.driver.unblock()
    assert rig.transport.resumed_count == 1
    assert [type(method) for method in rig.output()] == [commands.Connection.Unblocked]
    rig.driver.receive_data(b"", 0.0)
    assert not rig.driver.has_held_input
    assert [type(method) for method in rig.output()] == [commands.Queue.DeclareOk]


def test_abort_stops_the_driver_and_drops_the_socket() -> None:
    rig = DriverRig()
    opened(rig)
    rig.driver.abort()
    assert rig.transport.aborted
    assert rig.exchange(encode_method(1, commands.Queue.Declare(queue="ignored"))) == []
