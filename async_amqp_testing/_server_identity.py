"""Who the fake broker says it is: the connection.start server properties.

RabbitMQ's keys and capabilities, the RabbitMQ version whose behaviour is
modelled (clients parse it to pick features), and an honest product name.
"""

from __future__ import annotations

import sys
from typing import Any, Final

from async_amqp._version import __version__

__all__ = ["CAPABILITIES", "MODELLED_RABBITMQ_VERSION", "server_properties"]

#: Capabilities RabbitMQ 3.10 announces in connection.start, all true.
CAPABILITIES: Final = (
    "publisher_confirms",
    "exchange_exchange_bindings",
    "basic.nack",
    "consumer_cancel_notify",
    "connection.blocked",
    "consumer_priorities",
    "authentication_failure_close",
    "per_consumer_qos",
    "direct_reply_to",
)


#: The RabbitMQ release whose behaviour the fake broker models (observed on it).
MODELLED_RABBITMQ_VERSION: Final = "3.10.8"


def server_properties(
    cluster_name: str, version: str = MODELLED_RABBITMQ_VERSION
) -> dict[str, Any]:
    """The connection.start properties: RabbitMQ's keys and capabilities, our own identity.

    ``version`` is the RabbitMQ version the broker behaves like, dotted and numeric as
    RabbitMQ sends it, because clients parse it to pick features; ``product`` and
    ``information`` say honestly that this is async_amqp_testing (and its own version).

    :param cluster_name: the ``cluster_name`` value
    :param version: the ``version`` value
    """
    return {
        "capabilities": dict.fromkeys(CAPABILITIES, True),
        "cluster_name": cluster_name,
        "copyright": "Copyright (c) the async_amqp authors",
        "information": (
            f"async_amqp_testing {__version__}: an in-process broker that behaves like "
            f"RabbitMQ {MODELLED_RABBITMQ_VERSION}"
        ),
        "platform": f"Python {sys.version.split()[0]}",
        "product": "async_amqp_testing",
        "version": version,
    }
