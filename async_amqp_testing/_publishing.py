"""The publish and ack steps of a broker connection (mixed into the driver).

A publish reaches the driver as one :class:`~async_amqp._core.server.PublishReceived`
(the core's fast path) or, when the general path read it frame by frame, as a
:class:`~async_amqp._core.server.ContentReceived` whose property list is checked
here (a list RabbitMQ cannot read closes the connection with a bare 541). The
model routes it at once; publish events (confirms, returns) and deliveries are
encoded by :meth:`PublishSteps._after_publishes`, which the driver calls once for
a run of publishes (and basic.acks, whose freed prefetch delivers more) read in a
row, before anything else is handled. A long run is settled every
:data:`INPUT_SLICE` publishes and acks, and what that encoded (confirms, returns,
deliveries) is offered to the transport at once (``Transport.output_ready``): like
RabbitMQ, which confirms as it goes, the broker answers the start of a big read
while it reads the rest, so a publisher's confirm window keeps moving instead of
waiting for the whole read to be processed. :meth:`PublishSteps.drain_outbox`
encodes the model's events (every method's, not only publishes'), deliveries
straight through the core's basic.deliver encoder.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from pamqp import commands
from pamqp.base import Frame

from async_amqp._core import server as sv
from async_amqp._core.codes import REPLY_CODES, ReplyCode
from async_amqp._core.propview import RawProperties, accepted_properties, shared_properties

from ._framelog import describe_event
from ._handlers import Reply, encode_deliver, encode_event, unimplemented
from ._model import BrokerModel, ConnectionModel, Deliver, Message
from ._model.errors import AmqpError
from ._model.fieldtable import FieldTableError
from ._ports import Transport

__all__ = ["BARE_INTERNAL_ERROR", "INPUT_SLICE", "OUTPUT_SLICE", "PublishSteps"]

logger = logging.getLogger("async_amqp_testing")

#: Publishes and acks read in a row before they are settled and their output (confirms,
#: deliveries) is offered to the transport, while the rest of the read waits.
INPUT_SLICE = 256

#: Events encoded between two chances for the transport to write out what is encoded
#: (:meth:`~._ports.Transport.output_ready`): a long burst of deliveries reaches the
#: client in slices while the rest is encoded, not in one write at the end.
OUTPUT_SLICE = 256

#: connection.close arguments of a crash inside RabbitMQ: a bare 541 naming no method.
BARE_INTERNAL_ERROR = (
    ReplyCode.INTERNAL_ERROR,
    REPLY_CODES[ReplyCode.INTERNAL_ERROR].default_text,
    0,
    0,
)

#: basic.publish, as named in a refusal's class and method ids.
_PUBLISH = commands.Basic.Publish()


class PublishSteps:
    """basic.publish as the driver handles it (the driver owns the rest)."""

    model: BrokerModel
    connection: ConnectionModel | None
    core: sv.ServerConnection
    transport: Transport
    name: str
    #: publishes and acks read since the last :meth:`_after_publishes`
    _unsettled = 0

    if TYPE_CHECKING:

        def _run(self, channel_id: int, method: Frame, call: Callable[[Any], Reply]) -> None: ...
        def _refuse(self, channel_id: int, method: Frame, error: AmqpError) -> None: ...
        def _close_connection(
            self, reply_code: int, reply_text: str, class_id: int, method_id: int
        ) -> None: ...

    def _on_content(self, event: sv.ContentReceived) -> None:
        """A publish the fast path left to the general one (or another content method)."""
        method = event.method
        if not isinstance(method, commands.Basic.Publish):
            self._run(event.channel_id, method, lambda channel: unimplemented(channel, method, b""))
            return
        properties = accepted_properties(event.properties_payload)
        if properties is None:
            self._close_connection(*BARE_INTERNAL_ERROR)
            return
        publish = sv.PublishReceived(
            event.channel_id,
            method.exchange,
            method.routing_key,
            method.mandatory,
            method.immediate,
            event.properties_payload,
            event.body,
        )
        if self._on_publish(publish, properties):
            self._after_publishes()

    def _on_publish(
        self, event: sv.PublishReceived, properties: RawProperties | None = None
    ) -> bool:
        """basic.publish; its deliveries wait for :meth:`_after_publishes` (True), unless an
        error closed the channel or connection or a slice ended (False: already handled).

        The model reads the property list through *properties*, the core's view of it
        (the slices the general path already split, else a view shared by every message
        with the same short list): it is parsed at most once, and only if read.
        """
        connection = self.connection
        assert connection is not None
        exchange = event.exchange
        routing_key = event.routing_key
        raw = event.raw_properties
        if properties is None:
            properties = event.properties or shared_properties(raw)
        message = Message(exchange, routing_key, None, raw, event.body)
        try:
            connection.channels[event.channel_id].basic_publish(
                exchange, routing_key, event.mandatory, event.immediate, message, properties
            )
        except AmqpError as error:
            self._after_publishes()
            self._refuse(event.channel_id, _PUBLISH, error)
            self.model.dispatch()
            return False
        except FieldTableError:
            self._close_connection(*BARE_INTERNAL_ERROR)
            return False
        self._unsettled += 1
        return self._unsettled < INPUT_SLICE or self._end_slice()

    def _on_ack(self, event: sv.MethodReceived) -> bool:
        """basic.ack (no reply); the deliveries it frees wait for :meth:`_after_publishes`
        (True), unless an error closed the channel or a slice ended (False: already handled)."""
        connection = self.connection
        assert connection is not None
        method = cast(commands.Basic.Ack, event.method)
        try:
            connection.channels[event.channel_id].basic_ack(
                method.delivery_tag, multiple=method.multiple
            )
        except AmqpError as error:
            self._after_publishes()
            self._refuse(event.channel_id, method, error)
            self.model.dispatch()
            return False
        self._unsettled += 1
        return self._unsettled < INPUT_SLICE or self._end_slice()

    def _end_slice(self) -> bool:
        """:data:`INPUT_SLICE` publishes and acks in a row: settle them and offer what
        that encoded to the transport before reading on. False: nothing waits."""
        self._after_publishes()
        if self.core.has_data_to_send:
            self.transport.output_ready()
        return False

    def _after_publishes(self) -> None:
        """The ordering contract's end for publishes: their events, dispatch, deliveries."""
        self._unsettled = 0
        self.drain_outbox()
        self.model.dispatch()
        self.drain_outbox()

    def drain_outbox(self) -> None:
        """Encode the model's queued events (deliveries straight to the core's encoder)."""
        connection = self.connection
        if connection is None or not connection.outbox:
            return
        outbox = connection.outbox
        core = self.core
        if core.state is not sv.ServerState.OPEN:
            outbox.clear()
            return
        transport = self.transport
        is_open = core.channel_is_open
        debug = logger.isEnabledFor(logging.DEBUG)
        encoded = 0
        while outbox:
            event = outbox.popleft()
            if is_open(event.channel_id):
                if debug:
                    logger.debug("%s: sending %s", self.name, describe_event(event))
                if type(event) is Deliver:
                    encode_deliver(core, event)
                else:
                    encode_event(core, event)
            encoded += 1
            if encoded == OUTPUT_SLICE:
                encoded = 0
                transport.output_ready()
