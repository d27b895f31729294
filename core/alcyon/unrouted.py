"""Events no processor subscribed to, kept in ``alcyon.unrouted``: browse, replay, purge.

RabbitMQ sends what no binding matches to the alternate exchange, so the queue holds the
original batch messages with their routing key (the event type). ``alcyon dlq list unrouted``
shows them; once a processor subscribes to their type, ``alcyon dlq replay unrouted`` publishes
them again to the exchange, unchanged (same event ids: sinks deduplicate).
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any, Callable, Iterator

import msgpack

from .topology import UNROUTED

#: The name ``alcyon dlq`` takes for the unrouted events.
NAME = "unrouted"


@dataclasses.dataclass(frozen=True)
class UnroutedMessage:
    """One batch message that reached no queue."""

    id: str
    routing_key: str
    events: tuple[dict[str, Any], ...]
    body: bytes

    @classmethod
    def from_delivery(cls, routing_key: str, body: bytes) -> UnroutedMessage:
        try:
            message = msgpack.unpackb(body, raw=False)
            events = tuple(e for e in message["args"][0] if isinstance(e, dict))
            message_id = str(message["message_id"])
        except Exception:  # not an alcyon batch: kept, shown by its digest
            events, message_id = (), "raw-" + hashlib.sha1(body).hexdigest()[:16]
        return cls(id=message_id, routing_key=routing_key, events=events, body=body)

    def line(self) -> str:
        ids = ", ".join(str(e.get("id")) for e in self.events[:3]) + (" ..." if len(self.events) > 3 else "")
        return f"{self.id}  {self.routing_key:<24} {len(self.events)} event(s)  {ids or '-'}"


def fetch_all(channel: Any) -> Iterator[tuple[int, UnroutedMessage]]:
    """The messages waiting now, unacknowledged (closing the channel gives back what was not acked).

    Only as many as the queue held at the start: a replayed message that comes back is not seen twice.
    """
    waiting = channel.queue_declare(UNROUTED, durable=True).method.message_count
    for _ in range(waiting):
        method, _props, body = channel.basic_get(UNROUTED, auto_ack=False)
        if method is None:
            return
        yield method.delivery_tag, UnroutedMessage.from_delivery(method.routing_key, body)


def take(channel: Any, select: Callable[[UnroutedMessage], bool],
         then: Callable[[UnroutedMessage], None] = lambda message: None) -> list[UnroutedMessage]:
    """Call ``then`` on each selected message and remove it (acked only once ``then`` returned)."""
    taken = []
    for tag, message in list(fetch_all(channel)):
        if select(message):
            then(message)
            channel.basic_ack(delivery_tag=tag)
            taken.append(message)
    return taken
