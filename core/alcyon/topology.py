"""The exchange, queues and bindings that the installed processors imply.

One durable topic exchange receives every event batch, routed by event type.  Each
processor owns a durable queue bound by its subscription patterns, plus dramatiq's delay
(``.DQ``) and dead-letter (``.XQ``) queues.  Events that match no binding go to the
alternate exchange and wait in ``alcyon.unrouted``: kept and counted, never dropped.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Sequence

from dramatiq.common import dq_name, xq_name

from .processors import Processor
from .topics import matches

UNROUTED = "alcyon.unrouted"


@dataclasses.dataclass(frozen=True)
class Binding:
    queue: str
    pattern: str


@dataclasses.dataclass(frozen=True)
class Topology:
    exchange: str
    queues: tuple[str, ...]
    bindings: tuple[Binding, ...]
    dead_letter_ttl_ms: int | None = None

    @classmethod
    def of(cls, processors: Iterable[Processor], exchange: str = "alcyon.events",
           dead_letter_ttl_ms: int | None = None) -> Topology:
        processors = list(processors)
        return cls(
            exchange=exchange,
            queues=tuple(p.queue for p in processors),
            bindings=tuple(Binding(p.queue, pattern) for p in processors for pattern in p.subscribe),
            dead_letter_ttl_ms=dead_letter_ttl_ms,
        )

    def route(self, routing_key: str) -> list[str]:
        """The queues a message with ``routing_key`` reaches (each once, as RabbitMQ does)."""
        seen: dict[str, None] = {}
        for b in self.bindings:
            if b.queue not in seen and matches(b.pattern, routing_key):
                seen[b.queue] = None
        return list(seen)

    def describe(self) -> str:
        lines = [f"exchange {self.exchange} (topic, durable, alternate-exchange {UNROUTED})",
                 f"exchange {UNROUTED} (fanout, durable) -> queue {UNROUTED} (durable, kept)"]
        for queue in self.queues:
            patterns = [b.pattern for b in self.bindings if b.queue == queue]
            ttl = "kept until acted on" if not self.dead_letter_ttl_ms else f"ttl {self.dead_letter_ttl_ms} ms"
            lines.append(f"queue {queue} (durable) <- {self.exchange} [{', '.join(patterns)}]")
            lines.append(f"  delay queue {dq_name(queue)}, dead letters {xq_name(queue)} ({ttl})")
        return "\n".join(lines)

    # -- RabbitMQ ------------------------------------------------------------------------
    def declare_exchange(self, channel: Any, callback: Any = None) -> None:
        """Declare the exchanges and the unrouted queue (works on blocking and async channels)."""
        _chain(channel, [
            ("exchange_declare", dict(exchange=UNROUTED, exchange_type="fanout", durable=True)),
            ("queue_declare", dict(queue=UNROUTED, durable=True)),
            ("queue_bind", dict(queue=UNROUTED, exchange=UNROUTED, routing_key="")),
            ("exchange_declare", dict(exchange=self.exchange, exchange_type="topic", durable=True,
                                      arguments={"alternate-exchange": UNROUTED})),
        ], callback)

    def declare_all(self, channel: Any) -> None:
        """Declare everything on a blocking channel (``alcyon topology --apply``, worker start)."""
        self.declare_exchange(channel)
        for queue in self.queues:
            channel.queue_declare(queue=queue, durable=True, arguments=queue_arguments(queue))
            channel.queue_declare(queue=dq_name(queue), durable=True, arguments=queue_arguments(queue))
            channel.queue_declare(queue=xq_name(queue), durable=True,
                                  arguments=dead_letter_arguments(self.dead_letter_ttl_ms))
        for b in self.bindings:
            channel.queue_bind(queue=b.queue, exchange=self.exchange, routing_key=b.pattern)


def explain_declare_error(error: Exception, topology: Topology) -> str:
    """What a refused declaration means and how to fix it (RabbitMQ's reply alone does not say)."""
    code = getattr(error, "reply_code", None)
    text = getattr(error, "reply_text", str(error))
    if code == 406:
        fix = ("a queue or exchange of that name already exists with other arguments (declared by hand, by another "
               "version, or as another queue type): drain it, delete it, then run `alcyon topology --apply`")
    elif code == 403:
        fix = ("this RabbitMQ user may not declare queues on the vhost: run `alcyon topology --apply` once as a user "
               "with configure permission, or grant it (rabbitmqctl set_permissions)")
    elif code == 404:
        fix = "the vhost or exchange is missing: create the vhost, then run `alcyon topology --apply`"
    else:
        fix = "run `alcyon topology` to see what alcyon needs, `alcyon topology --apply` to declare it"
    return (f"cannot declare the topology on RabbitMQ (exchange {topology.exchange}, queues "
            f"{', '.join(topology.queues) or 'none'}): {text}; {fix}")


def queue_arguments(queue: str) -> dict[str, Any]:
    """Arguments of a processor queue, identical to dramatiq's so either may declare it first."""
    return {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": xq_name(queue)}


def dead_letter_arguments(ttl_ms: int | None) -> dict[str, Any]:
    return {"x-message-ttl": ttl_ms} if ttl_ms else {}


def _chain(channel: Any, calls: Sequence[tuple[str, dict[str, Any]]], callback: Any) -> None:
    """Run AMQP calls in order: synchronously on a blocking channel, or chained by callbacks."""
    if callback is None:
        for name, kwargs in calls:
            getattr(channel, name)(**kwargs)
        return

    def step(index: int) -> None:
        if index == len(calls):
            callback()
            return
        name, kwargs = calls[index]
        getattr(channel, name)(callback=lambda _frame: step(index + 1), **kwargs)

    step(0)
