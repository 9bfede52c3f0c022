"""Raw-frame parity tests of AMQP semantics found by a differential probe.

Each test runs against the fake broker and RabbitMQ 3.10 (``wire_target``) and pins
what RabbitMQ answers: reserved names, exclusivity checks on unbind, direct reply-to
declares, prefetch accounting, the order of requeued deliveries and single active
consumers. Queues are exclusive (or server-named and exclusive), so nothing outlives a
test on RabbitMQ.
"""

from __future__ import annotations

from typing import Any

import anyio
from pamqp import commands

from async_amqp_testing.raw import RawConnection

from .wirekit import WireTarget, channel_error

LOCKED = (
    "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '{}' in vhost '/'. "
    "It could be originally declared on another connection or the exclusive property "
    "value does not match that of the original declaration."
)


async def exclusive_queue(raw: RawConnection, channel_id: int = 1, /, **arguments: Any) -> str:
    ok = await raw.call(
        channel_id,
        commands.Queue.Declare(queue="", exclusive=True, arguments=dict(arguments)),
        commands.Queue.DeclareOk,
    )
    assert ok.queue
    return ok.queue


async def test_deleting_any_amq_exchange_is_refused_even_when_missing(
    wire_target: WireTarget,
) -> None:
    async with wire_target.opened(None) as raw:
        for channel_id, (name, if_unused) in enumerate(
            [("amq.nope", False), ("amq.nope", True), ("amq.default", False)], start=1
        ):
            await raw.open_channel(channel_id)
            await raw.send_method(
                channel_id, commands.Exchange.Delete(exchange=name, if_unused=if_unused)
            )
            assert await channel_error(raw, channel_id) == (
                403,
                f"ACCESS_REFUSED - deletion of system exchange '{name}' in vhost '/' not allowed",
                40,
                20,
            )


async def test_unbinding_a_missing_binding_of_another_connections_exclusive_queue_is_ok(
    wire_target: WireTarget,
) -> None:
    async with wire_target.opened(1) as owner, wire_target.opened(None) as other:
        queue = await exclusive_queue(owner)
        await owner.call(
            1,
            commands.Queue.Bind(queue=queue, exchange="amq.direct", routing_key="k"),
            commands.Queue.BindOk,
        )
        # No such binding (another key, a missing exchange): unbind-ok before any check.
        for channel_id, exchange, key in [(1, "amq.direct", "other"), (2, "amq.nope", "k")]:
            await other.open_channel(channel_id)
            await other.call(
                channel_id,
                commands.Queue.Unbind(queue=queue, exchange=exchange, routing_key=key),
                commands.Queue.UnbindOk,
            )
        # The binding exists: the exclusive lock is checked.
        await other.open_channel(3)
        await other.send_method(
            3, commands.Queue.Unbind(queue=queue, exchange="amq.direct", routing_key="k")
        )
        assert await channel_error(other, 3) == (405, LOCKED.format(queue), 50, 50)


async def test_declaring_the_reply_to_pseudo_queue_ignores_flags(wire_target: WireTarget) -> None:
    async with wire_target.opened(1) as raw:
        ok = await raw.call(
            1,
            commands.Queue.Declare(
                queue="amq.rabbitmq.reply-to",
                durable=True,
                exclusive=True,
                arguments={"x-max-length": 1},
            ),
            commands.Queue.DeclareOk,
        )
        assert (ok.queue, ok.message_count, ok.consumer_count) == ("amq.rabbitmq.reply-to", 0, 1)


async def test_declaring_a_reply_to_key_is_ok_while_live_else_not_found(
    wire_target: WireTarget,
) -> None:
    async with wire_target.opened(1) as requester, wire_target.opened(1) as responder:
        await requester.call(
            1,
            commands.Basic.Consume(queue="amq.rabbitmq.reply-to", no_ack=True),
            commands.Basic.ConsumeOk,
        )
        queue = await exclusive_queue(requester)
        await requester.publish(
            1,
            b"request",
            routing_key=queue,
            properties=commands.Basic.Properties(reply_to="amq.rabbitmq.reply-to"),
        )
        await requester.call(
            1, commands.Queue.Declare(queue=queue, passive=True), commands.Queue.DeclareOk
        )
        await requester.send_method(1, commands.Basic.Get(queue=queue, no_ack=True))
        await requester.expect(commands.Basic.GetOk, 1)
        properties, _ = await requester.expect_content()
        key = properties.reply_to
        assert key is not None
        assert key.startswith("amq.rabbitmq.reply-to.")
        for passive in (True, False):
            declare = commands.Queue.Declare(queue="placeholder", passive=passive, durable=True)
            declare.queue = key  # longer than pamqp's name check allows
            ok = await responder.call(1, declare, commands.Queue.DeclareOk)
            assert (ok.queue, ok.message_count, ok.consumer_count) == (key, 0, 1)
        declare = commands.Queue.Declare(queue="placeholder")
        declare.queue = key + "x"
        await responder.send_method(1, declare)
        assert await channel_error(responder, 1) == (
            404,
            f"NOT_FOUND - no queue '{key}x' in vhost '/'",
            50,
            10,
        )


async def deliveries(raw: RawConnection, count: int) -> list[tuple[str, int, bool, bytes]]:
    """The next *count* deliveries: (consumer tag, delivery tag, redelivered, body)."""
    got: list[tuple[str, int, bool, bytes]] = []
    for _ in range(count):
        deliver = await raw.expect(commands.Basic.Deliver)
        _, body = await raw.expect_content()
        got.append(
            (deliver.consumer_tag or "", deliver.delivery_tag or 0, deliver.redelivered, body)
        )
    return got


async def consume(raw: RawConnection, channel_id: int, queue: str, tag: str) -> None:
    await raw.call(
        channel_id,
        commands.Basic.Consume(queue=queue, consumer_tag=tag),
        commands.Basic.ConsumeOk,
    )


async def two_consumers_each_holding_two(raw: RawConnection, bodies: tuple[bytes, ...]) -> str:
    """Consumers a and b (prefetch 2) on a new queue, *bodies* published: each holds two."""
    queue = await exclusive_queue(raw)
    await raw.call(1, commands.Basic.Qos(prefetch_count=2), commands.Basic.QosOk)
    await consume(raw, 1, queue, "a")
    await consume(raw, 1, queue, "b")
    for body in bodies:
        await raw.publish(1, body, routing_key=queue)
    assert [(c, b) for c, _, _, b in await deliveries(raw, 4)] == [
        ("a", b"0"),
        ("b", b"1"),
        ("a", b"2"),
        ("b", b"3"),
    ]
    return queue


async def test_a_nack_of_two_consumers_requeues_and_redelivers_one_consumer_at_a_time(
    wire_target: WireTarget,
) -> None:
    async with wire_target.opened(1) as raw:
        await two_consumers_each_holding_two(raw, (b"0", b"1", b"2", b"3"))
        await raw.send_method(1, commands.Basic.Nack(delivery_tag=0, multiple=True))
        # RabbitMQ settles per consumer: a's messages are requeued and redelivered first.
        assert await deliveries(raw, 4) == [
            ("a", 5, True, b"0"),
            ("a", 6, True, b"2"),
            ("b", 7, True, b"1"),
            ("b", 8, True, b"3"),
        ]


async def test_a_consumer_found_full_rejoins_the_rotation_behind_the_others(
    wire_target: WireTarget,
) -> None:
    async with wire_target.opened(1) as raw:
        await two_consumers_each_holding_two(raw, (b"0", b"1", b"2", b"3", b"4"))
        # "4" found both full; a's ack lets a take it.
        await raw.send_method(1, commands.Basic.Ack(delivery_tag=1))
        assert await deliveries(raw, 1) == [("a", 5, False, b"4")]
        await raw.send_method(1, commands.Basic.Ack(delivery_tag=3))
        await raw.send_method(1, commands.Basic.Nack(delivery_tag=0, multiple=True))
        # a's "4" first (a then has room for one more); b's "1" and "3" make b runnable
        # again behind a, so a takes "1".
        assert await deliveries(raw, 3) == [
            ("a", 6, True, b"4"),
            ("a", 7, True, b"1"),
            ("b", 8, True, b"3"),
        ]


async def filled_queue(raw: RawConnection, count: int) -> str:
    queue = await exclusive_queue(raw)
    for index in range(count):
        await raw.publish(1, str(index).encode(), routing_key=queue)
    return queue


async def ready_count(raw: RawConnection, queue: str) -> int:
    """The queue's ready count; its declare-ok also proves no delivery came before it."""
    ok = await raw.call(
        1, commands.Queue.Declare(queue=queue, passive=True), commands.Queue.DeclareOk
    )
    assert ok.message_count is not None
    return ok.message_count


async def test_a_per_consumer_qos_lifts_the_global_prefetch_limit(wire_target: WireTarget) -> None:
    async with wire_target.opened(1) as raw:
        queue = await filled_queue(raw, 4)
        await raw.call(1, commands.Basic.Qos(prefetch_count=2, global_=True), commands.Basic.QosOk)
        await raw.call(1, commands.Basic.Qos(prefetch_count=0), commands.Basic.QosOk)
        await consume(raw, 1, queue, "a")
        assert [body for *_, body in await deliveries(raw, 4)] == [b"0", b"1", b"2", b"3"]


async def test_a_global_limit_counts_earlier_gets_and_their_acks_free_nothing(
    wire_target: WireTarget,
) -> None:
    async with wire_target.opened(1) as raw:
        queue = await filled_queue(raw, 6)
        for tag in (1, 2):
            await raw.send_method(1, commands.Basic.Get(queue=queue))
            assert (await raw.expect(commands.Basic.GetOk, 1)).delivery_tag == tag
            await raw.expect_content()
        await raw.call(1, commands.Basic.Qos(prefetch_count=3, global_=True), commands.Basic.QosOk)
        await consume(raw, 1, queue, "a")
        assert await deliveries(raw, 1) == [("a", 3, False, b"2")]
        await raw.send_method(1, commands.Basic.Ack(delivery_tag=2, multiple=True))
        assert await ready_count(raw, queue) == 3
        # A full global limit holds back a no-ack consumer too.
        await raw.call(
            1,
            commands.Basic.Consume(queue=queue, consumer_tag="n", no_ack=True),
            commands.Basic.ConsumeOk,
        )
        assert await ready_count(raw, queue) == 3
        await raw.call(1, commands.Basic.Qos(prefetch_count=0, global_=True), commands.Basic.QosOk)
        assert sorted(body for *_, body in await deliveries(raw, 3)) == [b"3", b"4", b"5"]


async def sac_backlog_after_cancel(raw: RawConnection) -> str:
    """A single-active-consumer queue: a (prefetch 1) takes "1", then is cancelled while
    "2" and "3" wait; b (channel 2) becomes the active consumer."""
    queue = await exclusive_queue(raw, **{"x-single-active-consumer": True})
    await raw.call(1, commands.Basic.Qos(prefetch_count=1), commands.Basic.QosOk)
    await consume(raw, 1, queue, "a")
    await raw.open_channel(2)
    await consume(raw, 2, queue, "b")
    await raw.open_channel(3)
    await raw.call(3, commands.Confirm.Select(), commands.Confirm.SelectOk)
    for body in (b"1", b"2", b"3"):
        await raw.publish(3, body, routing_key=queue)
    # Confirmed means enqueued: the cancel below must not overtake the publishes.
    confirmed, delivered = 0, list[Any]()
    while confirmed < 3 or not delivered:
        frame = await raw.receive_frame()
        if isinstance(frame.method, commands.Basic.Ack):
            confirmed = frame.method.delivery_tag
        else:
            assert isinstance(frame.method, commands.Basic.Deliver)
            delivered.append((frame.method.consumer_tag, (await raw.expect_content())[1]))
    assert delivered == [("a", b"1")]
    await raw.call(1, commands.Basic.Cancel(consumer_tag="a"), commands.Basic.CancelOk)
    return queue


async def test_a_cancelled_single_active_consumer_leaves_the_backlog_until_a_requeue(
    wire_target: WireTarget,
) -> None:
    async with wire_target.opened(1) as raw:
        queue = await sac_backlog_after_cancel(raw)
        # Neither the cancel nor an ack of a's message hands the backlog to b.
        await raw.send_method(1, commands.Basic.Ack(delivery_tag=1))
        assert await ready_count(raw, queue) == 2
        await raw.send_method(1, commands.Basic.Get(queue=queue))
        assert (await raw.expect(commands.Basic.GetOk, 1)).delivery_tag == 2
        await raw.expect_content()
        # A requeue runs the queue: b gets everything.
        await raw.send_method(1, commands.Basic.Reject(delivery_tag=2, requeue=True))
        assert await deliveries(raw, 2) == [("b", 1, True, b"2"), ("b", 2, False, b"3")]


async def declare_after_restart(raw: RawConnection, queue: str) -> commands.Queue.DeclareOk:
    """A passive declare on channel 4 once the queue is back. While RabbitMQ restarts it
    (a few ms), a declare closes the channel with a 404 ("has crashed"): try again."""
    crashed = f"NOT_FOUND - queue '{queue}' in vhost '/' has crashed and failed to restart"
    await raw.open_channel(4)
    for _ in range(100):
        await raw.send_method(4, commands.Queue.Declare(queue=queue, passive=True))
        frame = await raw.receive_frame()
        if isinstance(frame.method, commands.Queue.DeclareOk):
            return frame.method
        assert isinstance(frame.method, commands.Channel.Close)
        assert (frame.method.reply_code, frame.method.reply_text) == (404, crashed)
        await raw.send_method(4, commands.Channel.CloseOk())
        await raw.open_channel(4)
        await anyio.sleep(0.05)
    raise AssertionError(f"{queue} did not come back")


async def test_a_publish_past_a_single_active_consumers_backlog_restarts_the_queue_empty(
    wire_target: WireTarget,
) -> None:
    async with wire_target.opened(1) as raw:
        queue = await sac_backlog_after_cancel(raw)
        await raw.publish(3, b"4", routing_key=queue)
        # RabbitMQ's classic queue process crashes: b is cancelled; the publish is lost but
        # confirmed all the same.
        got = {}
        for _ in range(2):
            frame = await raw.receive_frame()
            got[type(frame.method).__name__] = (frame.channel_id, dict(frame.method or {}))
        assert got == {
            "Cancel": (2, {"consumer_tag": "b", "nowait": True}),
            "Ack": (3, {"delivery_tag": 4, "multiple": False}),
        }
        ok = await declare_after_restart(raw, queue)
        assert (ok.message_count, ok.consumer_count) == (0, 0)
        # The restarted queue works, and a's old delivery can still be acked (a no-op).
        await raw.send_method(1, commands.Basic.Ack(delivery_tag=1))
        await raw.publish(3, b"5", routing_key=queue)
        assert await raw.expect(commands.Basic.Ack, 3)
        await consume(raw, 1, queue, "c")
        assert await deliveries(raw, 1) == [("c", 2, False, b"5")]


async def test_a_non_array_x_death_is_replaced_without_first_death_headers(
    wire_target: WireTarget,
) -> None:
    async with wire_target.opened(1) as raw:
        target = await exclusive_queue(raw)
        source = await exclusive_queue(
            raw, **{"x-dead-letter-exchange": "", "x-dead-letter-routing-key": target}
        )
        await raw.publish(
            1,
            b"x",
            routing_key=source,
            properties=commands.Basic.Properties(headers={"x-death": "bogus", "k": "v"}),
        )
        await raw.send_method(1, commands.Basic.Get(queue=source))
        await raw.expect(commands.Basic.GetOk, 1)
        await raw.expect_content()
        await raw.call(
            1,
            commands.Basic.Consume(queue=target, consumer_tag="t", no_ack=True),
            commands.Basic.ConsumeOk,
        )
        await raw.send_method(1, commands.Basic.Reject(delivery_tag=1, requeue=False))
        await raw.expect(commands.Basic.Deliver, 1)
        properties, _ = await raw.expect_content()
        headers = dict(properties.headers or {})
        deaths: Any = headers.pop("x-death")
        assert headers == {"k": "v"}  # no x-first-death-*: the message "had died before"
        assert [(d["count"], d["reason"], d["queue"]) for d in deaths] == [(1, "rejected", source)]


async def test_a_closing_channel_requeues_to_the_queue_not_to_its_own_other_consumer(
    wire_target: WireTarget,
) -> None:
    async with wire_target.opened(1) as raw:
        queue = await exclusive_queue(raw)
        await raw.open_channel(2)
        await consume(raw, 2, queue, "a")
        await consume(raw, 2, queue, "b")
        for body in (b"0", b"1"):
            await raw.publish(1, body, routing_key=queue)
        assert [(c, b) for c, _, _, b in await deliveries(raw, 2)] == [("a", b"0"), ("b", b"1")]
        await raw.send_method(2, commands.Basic.Ack(delivery_tag=99))
        assert await channel_error(raw, 2) == (
            406,
            "PRECONDITION_FAILED - unknown delivery tag 99",
            60,
            80,
        )
        # (No message count here: RabbitMQ requeues once the channel process is gone.)
        await consume(raw, 1, queue, "c")
        assert await deliveries(raw, 2) == [("c", 1, True, b"0"), ("c", 2, True, b"1")]


async def confirms(raw: RawConnection, count: int, after: int = 0) -> dict[int, str]:
    """The next *count* publisher confirms on channel 1, by delivery tag ("Ack"/"Nack"),
    however the broker coalesced them (``multiple``)."""
    outcomes: dict[int, str] = {}
    while len(outcomes) < count:
        method: Any = (await raw.receive_frame()).method
        assert isinstance(method, commands.Basic.Ack | commands.Basic.Nack)
        first = after + len(outcomes) + 1 if method.multiple else method.delivery_tag
        for tag in range(first, method.delivery_tag + 1):
            outcomes[tag] = type(method).__name__
    return outcomes


async def test_a_get_drops_the_expired_message_it_leaves_at_the_head(
    wire_target: WireTarget,
) -> None:
    """RabbitMQ drops expired heads after every fetch, not only before one: a message with
    TTL 0 queued behind another goes as soon as a basic.get takes the one before it (the
    get-ok already counts it out), and makes room in a full reject-publish queue."""
    async with wire_target.opened(1) as raw:
        queue = await exclusive_queue(raw, **{"x-max-length": 2, "x-overflow": "reject-publish"})
        await raw.call(1, commands.Confirm.Select(), commands.Confirm.SelectOk)
        await raw.publish(1, b"kept", routing_key=queue)
        expiring = commands.Basic.Properties(expiration="0")
        await raw.publish(1, b"expiring", routing_key=queue, properties=expiring)
        assert await confirms(raw, 2) == {1: "Ack", 2: "Ack"}
        ok = await raw.call(1, commands.Basic.Get(queue=queue, no_ack=True), commands.Basic.GetOk)
        assert ok.message_count == 0
        assert (await raw.expect_content())[1] == b"kept"
        for body in (b"a", b"b", b"c"):
            await raw.publish(1, body, routing_key=queue)
        assert await confirms(raw, 3, after=2) == {3: "Ack", 4: "Ack", 5: "Nack"}
        declared = await raw.call(
            1, commands.Queue.Declare(queue=queue, passive=True), commands.Queue.DeclareOk
        )
        assert declared.message_count == 2


async def test_a_drop_head_publish_also_drops_the_expired_message_it_uncovers(
    wire_target: WireTarget,
) -> None:
    """When a publish makes a drop-head queue shed its head, RabbitMQ then drops the
    expired messages at the new head too: a TTL-0 message waiting behind dies "expired"
    at once, rather than "maxlen" at the next publish."""
    async with wire_target.opened(1) as raw:
        dead = await exclusive_queue(raw)
        queue = await exclusive_queue(
            raw,
            **{"x-max-length": 2, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dead},
        )
        await raw.call(1, commands.Confirm.Select(), commands.Confirm.SelectOk)
        expiring = commands.Basic.Properties(expiration="0")
        await raw.publish(1, b"first", routing_key=queue)
        await raw.publish(1, b"expiring", routing_key=queue, properties=expiring)
        await raw.publish(1, b"third", routing_key=queue)
        await raw.publish(1, b"fourth", routing_key=queue)
        assert await confirms(raw, 4) == {1: "Ack", 2: "Ack", 3: "Ack", 4: "Ack"}
        await raw.call(
            1,
            commands.Basic.Consume(queue=dead, consumer_tag="d", no_ack=True),
            commands.Basic.ConsumeOk,
        )
        died = []
        for _ in range(2):
            await raw.expect(commands.Basic.Deliver, 1)
            properties, body = await raw.expect_content()
            deaths: Any = (properties.headers or {})["x-death"]
            died.append((body, deaths[0]["reason"]))
        assert died == [(b"first", "maxlen"), (b"expiring", "expired")]
        declared = await raw.call(
            1, commands.Queue.Declare(queue=queue, passive=True), commands.Queue.DeclareOk
        )
        assert declared.message_count == 2  # third and fourth


async def test_an_expired_message_a_priority_puts_first_is_still_handed_out(
    wire_target: WireTarget,
) -> None:
    """RabbitMQ checks expiry only where its queue drops expired heads (after a fetch,
    after a publish that leaves the message alone or drops heads, on its TTL timer). A
    TTL-0 message that its priority puts ahead of others, with no timer set, is still at
    the head: a passive declare counts it and basic.get hands it out."""
    async with wire_target.opened(1) as raw:
        queue = await exclusive_queue(raw, **{"x-max-priority": 3})
        await raw.call(1, commands.Confirm.Select(), commands.Confirm.SelectOk)
        await raw.publish(1, b"first", routing_key=queue)
        await raw.publish(1, b"second", routing_key=queue)
        urgent = commands.Basic.Properties(priority=3, expiration="0")
        await raw.publish(1, b"urgent", routing_key=queue, properties=urgent)
        assert await confirms(raw, 3) == {1: "Ack", 2: "Ack", 3: "Ack"}
        declared = await raw.call(
            1, commands.Queue.Declare(queue=queue, passive=True), commands.Queue.DeclareOk
        )
        assert declared.message_count == 3
        bodies = []
        for _ in range(3):
            await raw.call(1, commands.Basic.Get(queue=queue, no_ack=True), commands.Basic.GetOk)
            bodies.append((await raw.expect_content())[1])
        assert bodies == [b"urgent", b"first", b"second"]


async def test_a_publishs_property_checks_answer_as_rabbitmq_does(
    wire_target: WireTarget,
) -> None:
    """The checks of a published property list, each next to properties that need no
    check (correlation id, content type), so the broker cannot skip the list."""
    cases = [
        (
            commands.Basic.Properties(user_id="other", correlation_id="7"),
            "PRECONDITION_FAILED - user_id property set to 'other' but authenticated user "
            "was 'guest'",
        ),
        (
            commands.Basic.Properties(expiration="-1", content_type="t"),
            "PRECONDITION_FAILED - invalid expiration '-1': {value_negative,-1}",
        ),
        (
            commands.Basic.Properties(headers={"CC": "a"}, correlation_id="7"),
            'PRECONDITION_FAILED - invalid message: {unacceptable_type_in_header,"CC",longstr}',
        ),
    ]
    async with wire_target.opened(None) as raw:
        for channel_id, (properties, text) in enumerate(cases, start=1):
            await raw.open_channel(channel_id)
            await raw.publish(channel_id, b"x", routing_key="nowhere", properties=properties)
            assert await channel_error(raw, channel_id) == (406, text, 60, 40)
