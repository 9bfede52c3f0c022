"""Raw-frame tests of the channel life cycle and of methods on the wrong channel.

Against the fake broker and RabbitMQ: opening and reopening channels, the
504/503/530 connection errors for methods on closed channels, on channel 0
or out of place, channel_max, channel.flow, methods only a server may send,
and the isolation of a channel error from the other channels.
"""

from __future__ import annotations

import struct

import anyio
import pytest
from pamqp import commands
from pamqp.base import Frame

from async_amqp._core.wire import EMPTY_PROPERTIES, encode_content, encode_method
from async_amqp_testing.raw import encode_frame

from .wirekit import WireTarget, assert_usable, channel_error, connection_error

ACCESS_REQUEST = struct.pack(">HH", 30, 10) + b"\x01/" + b"\x1f"


async def test_channel_open_ok_and_a_second_open(wire_target: WireTarget) -> None:
    async with wire_target.opened(None) as raw:
        await raw.send_method(1, commands.Channel.Open())
        open_ok = await raw.expect(commands.Channel.OpenOk, 1)
        assert open_ok.channel_id == ""
        await raw.send_method(1, commands.Channel.Open())
        assert await connection_error(raw) == (
            504,
            "CHANNEL_ERROR - second 'channel.open' seen",
            20,
            10,
        )


async def test_publish_on_a_never_opened_channel_fails_once_its_content_is_read(
    wire_target: WireTarget,
) -> None:
    async with wire_target.opened(1) as raw:
        await raw.publish(7, b"hello", routing_key="q")
        assert await connection_error(raw) == (
            504,
            "CHANNEL_ERROR - expected 'channel.open'",
            60,
            40,
        )


@pytest.mark.parametrize(
    ("frames", "expected"),
    [
        (
            [encode_method(7, commands.Basic.Qos())],
            (
                505,
                "UNEXPECTED_FRAME - expected content header for class 60, "
                "got non content header frame instead",
                60,
                40,
            ),
        ),
        (
            [
                encode_frame(2, 7, struct.pack(">HHQ", 60, 0, 2) + EMPTY_PROPERTIES),
                encode_frame(3, 7, b"x"),
                encode_method(7, commands.Channel.Open()),
            ],
            (
                505,
                "UNEXPECTED_FRAME - expected content body, got non content body frame instead",
                60,
                40,
            ),
        ),
    ],
    ids=["method-instead-of-header", "method-instead-of-body"],
)
async def test_content_on_a_never_opened_channel_is_checked_like_on_an_open_one(
    wire_target: WireTarget, frames: list[bytes], expected: tuple[int, str, int, int]
) -> None:
    async with wire_target.opened(1) as raw:
        publish = encode_method(7, commands.Basic.Publish(exchange="", routing_key="q"))
        await raw.send(publish + b"".join(frames))
        assert await connection_error(raw) == expected


async def test_content_frames_without_a_method_on_a_never_opened_channel(
    wire_target: WireTarget,
) -> None:
    async with wire_target.opened(1) as raw:
        await raw.send(encode_frame(3, 7, b"x"))
        assert await connection_error(raw) == (
            505,
            "UNEXPECTED_FRAME - expected method frame, got non method frame instead",
            0,
            0,
        )


@pytest.mark.parametrize(
    ("method", "where"),
    [
        (commands.Queue.Declare(queue="q"), (50, 10)),
        (commands.Connection.UpdateSecret(new_secret="x", reason="y"), (10, 70)),
        (commands.Channel.Close(200, "", 0, 0), (20, 40)),
        (commands.Basic.Ack(1), (60, 80)),
    ],
    ids=["declare", "update-secret", "close", "ack"],
)
async def test_method_on_a_never_opened_channel(
    wire_target: WireTarget, method: Frame, where: tuple[int, int]
) -> None:
    async with wire_target.bystander() as other:
        async with wire_target.opened(1) as raw:
            await raw.send_method(7, method)
            assert await connection_error(raw) == (
                504,
                "CHANNEL_ERROR - expected 'channel.open'",
                *where,
            )
        await assert_usable(other)


async def test_second_close_after_close_ok(wire_target: WireTarget) -> None:
    async with wire_target.opened(1) as raw:
        await raw.call(1, commands.Channel.Close(200, "", 0, 0), commands.Channel.CloseOk)
        await raw.send_method(1, commands.Channel.Close(200, "", 0, 0))
        assert await connection_error(raw) == (
            504,
            "CHANNEL_ERROR - expected 'channel.open'",
            20,
            40,
        )


@pytest.mark.parametrize(
    ("method", "where"),
    [
        (commands.Queue.Declare(queue="q"), (50, 10)),
        (commands.Channel.Open(), (20, 10)),
        (commands.Basic.Qos(prefetch_count=1), (60, 10)),
        (commands.Connection.TuneOk(2047, 131072, 0), (10, 31)),
        (commands.Connection.Open(), (10, 40)),
    ],
    ids=["declare", "channel.open", "qos", "tune-ok", "connection.open"],
)
async def test_wrong_method_on_channel_zero(
    wire_target: WireTarget, method: Frame, where: tuple[int, int]
) -> None:
    async with wire_target.opened(1) as raw:
        await raw.send_method(0, method)
        assert await connection_error(raw) == (
            504,
            "CHANNEL_ERROR - unexpected method in connection state running",
            *where,
        )


@pytest.mark.parametrize(
    "method",
    [
        commands.Connection.UpdateSecret(new_secret="x", reason="y"),
        commands.Connection.Close(200, "", 0, 0),
        commands.Connection.TuneOk(2047, 131072, 0),
    ],
    ids=["update-secret", "close", "tune-ok"],
)
async def test_connection_method_on_an_open_channel(wire_target: WireTarget, method: Frame) -> None:
    async with wire_target.opened(1) as raw:
        await raw.send_method(1, method)
        assert await connection_error(raw) == (
            503,
            "COMMAND_INVALID - unimplemented method",
            method.index >> 16,
            method.index & 0xFFFF,
        )


async def test_unsolicited_channel_close_ok(wire_target: WireTarget) -> None:
    async with wire_target.opened(1) as raw:
        await raw.send_method(1, commands.Channel.CloseOk())
        assert await connection_error(raw) == (
            503,
            "COMMAND_INVALID - unimplemented method",
            20,
            41,
        )


@pytest.mark.parametrize(
    ("method", "where"),
    [
        (commands.Queue.DeclareOk("q", 0, 0), (50, 11)),
        (commands.Confirm.SelectOk(), (85, 11)),
        (commands.Basic.GetEmpty(), (60, 72)),
        (commands.Channel.FlowOk(True), (20, 21)),
        (commands.Basic.CancelOk("x"), (60, 31)),
        (commands.Channel.OpenOk(), (20, 11)),
        (commands.Tx.CommitOk(), (90, 21)),
    ],
    ids=["declare-ok", "select-ok", "get-empty", "flow-ok", "cancel-ok", "open-ok", "commit-ok"],
)
async def test_server_methods_from_the_client(
    wire_target: WireTarget, method: Frame, where: tuple[int, int]
) -> None:
    async with wire_target.opened(1) as raw:
        await raw.send_method(1, method)
        assert await connection_error(raw) == (
            503,
            "COMMAND_INVALID - unimplemented method",
            *where,
        )


@pytest.mark.parametrize(
    ("method", "where"),
    [
        (commands.Basic.Deliver("ctag", 1, False, "", "rk"), (60, 60)),
        (commands.Basic.Return(312, "NO_ROUTE", "", "rk"), (60, 50)),
        (commands.Basic.GetOk(1, False, "", "rk", 0), (60, 71)),
    ],
    ids=["deliver", "return", "get-ok"],
)
async def test_server_content_methods_from_the_client_are_read_with_their_content(
    wire_target: WireTarget, method: Frame, where: tuple[int, int]
) -> None:
    async with wire_target.opened(1) as raw:
        await raw.send_method(1, method)
        content = b"".join(bytes(p) for p in encode_content(1, EMPTY_PROPERTIES, b"hi", 131072))
        await raw.send(content)
        assert await connection_error(raw) == (
            503,
            "COMMAND_INVALID - unimplemented method",
            *where,
        )


async def test_channel_numbers_are_reusable(wire_target: WireTarget) -> None:
    async with wire_target.opened(1) as raw:
        await raw.call(1, commands.Channel.Close(200, "", 0, 0), commands.Channel.CloseOk)
        await raw.open_channel(1)
        await raw.send_method(
            1, commands.Queue.Declare(queue="amq.no-such-queue-here", passive=True)
        )
        assert (await channel_error(raw, 1))[0] == 404
        await raw.open_channel(1)
        await assert_usable(raw, 1)
        await raw.close()


async def test_frames_after_a_channel_error_are_discarded_until_close_ok(
    wire_target: WireTarget,
) -> None:
    async with wire_target.opened(1) as raw:
        await raw.open_channel(2)
        await raw.send_method(1, commands.Queue.Declare(queue="amq.nothing", passive=True))
        close = await raw.expect(commands.Channel.Close, 1)
        assert close.reply_code == 404
        # Before close-ok: a declare (no reply), a publish with content, a second close.
        await raw.send_method(1, commands.Queue.Declare(exclusive=True))
        await raw.publish(1, b"ignored", routing_key="x")
        await raw.send_method(1, commands.Channel.Close(200, "", 0, 0))
        await raw.expect(commands.Channel.CloseOk, 1)
        await raw.send_method(1, commands.Channel.CloseOk())
        # The other channel never noticed; channel 1 can be opened again.
        await assert_usable(raw, 2)
        await raw.open_channel(1)
        await assert_usable(raw, 1)
        await raw.close()


async def test_a_channel_error_leaves_other_channels_alone(wire_target: WireTarget) -> None:
    async with wire_target.opened(1) as raw:
        await raw.open_channel(2)
        await raw.open_channel(3)
        await raw.send_method(2, commands.Basic.Publish(exchange="no-such-exchange-anywhere"))
        await raw.send(b"".join(bytes(p) for p in encode_content(2, EMPTY_PROPERTIES, b"", 0)))
        assert await channel_error(raw, 2) == (
            404,
            "NOT_FOUND - no exchange 'no-such-exchange-anywhere' in vhost '/'",
            60,
            40,
        )
        await assert_usable(raw, 1)
        await assert_usable(raw, 3)
        await raw.close()


async def test_channel_max_limits_open_channels_not_ids(wire_target: WireTarget) -> None:
    async with wire_target.opened(None, channel_max=2) as raw:
        await raw.open_channel(1)
        await raw.open_channel(1000)  # an id above channel_max is fine
        await raw.send_method(3, commands.Channel.Open())
        assert await connection_error(raw) == (
            530,
            "NOT_ALLOWED - number of channels opened (2) has reached the negotiated "
            "channel_max (2)",
            0,
            0,
        )


async def test_channel_flow(wire_target: WireTarget) -> None:
    async with wire_target.opened(1) as raw:
        flow_ok = await raw.call(1, commands.Channel.Flow(active=True), commands.Channel.FlowOk)
        assert flow_ok.active is True
        await raw.send_method(1, commands.Channel.Flow(active=False))
        assert await connection_error(raw) == (540, "NOT_IMPLEMENTED - active=false", 20, 20)


async def test_access_request_is_answered(wire_target: WireTarget) -> None:
    async with wire_target.opened(1) as raw:
        await raw.send(encode_frame(1, 1, ACCESS_REQUEST))
        frame = await raw.receive_frame()
        assert (frame.channel_id, frame.payload) == (1, struct.pack(">HHH", 30, 11, 1))
        await assert_usable(raw)
        await raw.close()


async def test_access_request_split_across_reads_is_answered(wire_target: WireTarget) -> None:
    """The frame arrives in two TCP writes: it is still answered (the fake used to drop it)."""
    async with wire_target.opened(1) as raw:
        frame = encode_frame(1, 1, ACCESS_REQUEST)
        await raw.send(frame[:5])
        await anyio.sleep(0.05)  # let the broker read the first part on its own
        await raw.send(frame[5:])
        reply = await raw.receive_frame()
        assert (reply.channel_id, reply.payload) == (1, struct.pack(">HHH", 30, 11, 1))
        await assert_usable(raw)
        await raw.close()


@pytest.mark.parametrize(
    ("channel_id", "payload", "expected"),
    [
        (0, ACCESS_REQUEST, (504, "CHANNEL_ERROR - unexpected method in connection state running")),
        (2, ACCESS_REQUEST, (504, "CHANNEL_ERROR - expected 'channel.open'")),
        (1, ACCESS_REQUEST[:4] + b"\x05ab", (501, "FRAME_ERROR - cannot decode <<5,97,98>>")),
    ],
    ids=["channel-0", "closed-channel", "truncated"],
)
async def test_access_request_errors(
    wire_target: WireTarget, channel_id: int, payload: bytes, expected: tuple[int, str]
) -> None:
    async with wire_target.opened(1) as raw:
        await raw.send(encode_frame(1, channel_id, payload))
        assert await connection_error(raw) == (*expected, 30, 10)


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        (
            commands.Basic.Qos(prefetch_size=10),
            (540, "NOT_IMPLEMENTED - prefetch_size!=0 (10)", 60, 10),
        ),
        (commands.Basic.Recover(requeue=False), (540, "NOT_IMPLEMENTED - requeue=false", 60, 110)),
        (
            commands.Exchange.Declare(exchange="x-bad-type", exchange_type="nope"),
            (503, "COMMAND_INVALID - unknown exchange type 'nope'", 40, 10),
        ),
    ],
    ids=["qos-prefetch-size", "recover-requeue-false", "unknown-exchange-type"],
)
async def test_connection_errors_from_methods(
    wire_target: WireTarget, method: Frame, expected: tuple[int, str, int, int]
) -> None:
    async with wire_target.bystander() as other:
        async with wire_target.opened(1) as raw:
            await raw.send_method(1, method)
            assert await connection_error(raw) == expected
        await assert_usable(other)


async def test_mandatory_return_comes_before_the_confirm(wire_target: WireTarget) -> None:
    async with wire_target.opened(1) as raw:
        await raw.call(1, commands.Confirm.Select(), commands.Confirm.SelectOk)
        await raw.publish(1, b"lost", routing_key="no-such-queue-anywhere", mandatory=True)
        returned = await raw.expect(commands.Basic.Return, 1)
        assert (returned.reply_code, returned.reply_text) == (312, "NO_ROUTE")
        assert returned.routing_key == "no-such-queue-anywhere"
        _, body = await raw.expect_content()
        assert body == b"lost"
        ack = await raw.expect(commands.Basic.Ack, 1)
        assert (ack.delivery_tag, ack.multiple) == (1, False)
        await raw.close()


async def test_a_burst_of_confirmed_publishes_is_acked_in_order(wire_target: WireTarget) -> None:
    # Both brokers may fold confirms into multiple acks; every tag is settled once, in order.
    count = 600
    async with wire_target.opened(1) as raw:
        await raw.call(1, commands.Confirm.Select(), commands.Confirm.SelectOk)
        publish = encode_method(1, commands.Basic.Publish(routing_key="no-such-queue"))
        content = b"".join(
            bytes(piece) for piece in encode_content(1, EMPTY_PROPERTIES, b"m", 4096)
        )
        await raw.send((publish + content) * count)
        settled = 0
        while settled < count:
            ack = await raw.expect(commands.Basic.Ack, 1)
            assert ack.delivery_tag > settled
            assert ack.multiple or ack.delivery_tag == settled + 1
            settled = ack.delivery_tag
        assert settled == count
        await raw.close()


async def test_unknown_delivery_tag(wire_target: WireTarget) -> None:
    async with wire_target.opened(1) as raw:
        await raw.send_method(1, commands.Basic.Ack(delivery_tag=5))
        assert await channel_error(raw, 1) == (
            406,
            "PRECONDITION_FAILED - unknown delivery tag 5",
            60,
            80,
        )
        await raw.close()


async def test_consume_ok_precedes_deliveries(wire_target: WireTarget) -> None:
    async with wire_target.opened(1) as raw:
        queue = (
            await raw.call(1, commands.Queue.Declare(exclusive=True), commands.Queue.DeclareOk)
        ).queue
        assert queue is not None
        for body in (b"one", b"two"):
            await raw.publish(1, body, routing_key=queue)
        await raw.send_method(1, commands.Basic.Consume(queue=queue, consumer_tag="ctag"))
        await raw.expect(commands.Basic.ConsumeOk, 1)
        for body, tag in ((b"one", 1), (b"two", 2)):
            deliver = await raw.expect(commands.Basic.Deliver, 1)
            assert (deliver.consumer_tag, deliver.delivery_tag, deliver.redelivered) == (
                "ctag",
                tag,
                False,
            )
            assert (await raw.expect_content())[1] == body
        await raw.close()


async def test_nowait_methods_get_no_reply(wire_target: WireTarget) -> None:
    async with wire_target.opened(1) as raw:
        await raw.send_method(1, commands.Confirm.Select(nowait=True))
        await raw.send_method(
            1, commands.Exchange.Declare(exchange="amq.direct", passive=True, nowait=True)
        )
        await raw.send_method(1, commands.Queue.Declare(exclusive=True, nowait=True))
        await raw.send_method(1, commands.Basic.Qos(prefetch_count=2))
        # The first reply is qos-ok: nothing was sent for the nowait methods.
        await raw.expect(commands.Basic.QosOk, 1)
        await raw.close()


async def test_publisher_nack_leaves_requeue_at_its_default(wire_target: WireTarget) -> None:
    async with wire_target.opened(1) as raw:
        declare = commands.Queue.Declare(
            exclusive=True, arguments={"x-max-length": 0, "x-overflow": "reject-publish"}
        )
        queue = (await raw.call(1, declare, commands.Queue.DeclareOk)).queue
        assert queue is not None
        await raw.call(1, commands.Confirm.Select(), commands.Confirm.SelectOk)
        await raw.publish(1, b"rejected", routing_key=queue)
        nack = await raw.expect(commands.Basic.Nack, 1)
        assert (nack.delivery_tag, nack.requeue) == (1, True)
        await raw.close()


async def test_argument_types_are_kept_from_the_wire(wire_target: WireTarget) -> None:
    """A table value keeps its type tag (here ``s``, a short), which RabbitMQ's texts name."""
    async with wire_target.opened(1) as raw:
        name = f"typed-args-{id(raw)}"
        table = b"\x0dx-message-ttls\x03\xe8"  # x-message-ttl = short 1000
        payload = (
            struct.pack(">HHH", 50, 10, 0)
            + bytes([len(name)])
            + name.encode()
            + b"\x04"  # exclusive
            + struct.pack(">I", len(table))
            + table
        )
        await raw.send(encode_frame(1, 1, payload))
        await raw.expect(commands.Queue.DeclareOk, 1)
        await raw.send_method(1, commands.Queue.Declare(queue=name, exclusive=True))
        assert await channel_error(raw, 1) == (
            406,
            f"PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue '{name}' in "
            "vhost '/': received none but current is the value '1000' of type 'short'",
            50,
            10,
        )
        await raw.close()


async def test_delete_ok_comes_before_the_consumers_cancel_notification(
    wire_target: WireTarget,
) -> None:
    async with wire_target.opened(1) as raw:
        declared = await raw.call(
            1, commands.Queue.Declare(queue="", exclusive=True), commands.Queue.DeclareOk
        )
        queue = declared.queue
        assert queue is not None
        await raw.call(
            1,
            commands.Basic.Consume(queue=queue, consumer_tag="watcher"),
            commands.Basic.ConsumeOk,
        )
        await raw.send_method(1, commands.Queue.Delete(queue=queue))
        first, second = await raw.receive_frame(), await raw.receive_frame()
        assert isinstance(first.method, commands.Queue.DeleteOk)
        assert isinstance(second.method, commands.Basic.Cancel)
        assert second.method.consumer_tag == "watcher"
        await assert_usable(raw)
