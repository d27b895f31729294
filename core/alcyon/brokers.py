"""dramatiq brokers that consume messages routed by a topic exchange.

dramatiq publishes only to the default exchange and acknowledges, retries and dead-letters
through ``message.queue_name``.  A message that reached a processor's queue through a
binding was published once for all subscribers, so its ``queue_name`` cannot be right for
each of them: the consumers here *re-address* every message to the queue it was actually
delivered from (and to that queue's actor) before dramatiq sees it.

They also replace dramatiq's silent dead-lettering: an undecodable body, and a message
that exhausted its retries, become :class:`~alcyon.deadletters.DeadLetter` records with
their reason before being acknowledged.  Both modes share this logic; the embedded one
routes with :mod:`alcyon.topics` instead of RabbitMQ.
"""

from __future__ import annotations

import time
import traceback as tb
from typing import Any, Mapping

import pika
from dramatiq.brokers.rabbitmq import RabbitmqBroker, _RabbitmqConsumer, _RabbitmqMessage
from dramatiq.brokers.stub import StubBroker, _StubConsumer, _StubMessageProxy
from dramatiq.common import q_name, xq_name
from dramatiq.errors import ConnectionClosed
from dramatiq.message import Message

from .amqp import blocking_channel
from .deadletters import DeadLetter, DeadLetterStore
from .errors import BadInput, DecodeError
from .logs import get_logger
from .metrics import metrics
from .topology import Topology, dead_letter_arguments

log = get_logger("alcyon.brokers")


def readdress(body: bytes, queue: str, actors: Mapping[str, str]) -> Message:
    """Decode ``body`` delivered from ``queue`` and address it to that queue and its actor.

    Messages from a delay queue were enqueued by dramatiq itself and are left as they are.
    Raises :class:`BadInput` (with a bounded ``reason``) for anything that is not ours.
    """
    try:
        message = Message.decode(body)
    except Exception as exc:
        cause = exc.__cause__ if isinstance(exc.__cause__, BadInput) else None
        raise cause or DecodeError(f"message body does not decode: {exc.__cause__ or exc}") from None
    canonical = q_name(queue)
    if canonical != queue:
        return message
    return message.copy(queue_name=queue, actor_name=actors[queue])


def failed_record(message: Any, queue: str) -> DeadLetter:
    """The dead letter of a message dramatiq gave up on (retries exhausted, or aborted)."""
    exc = getattr(message, "_exception", None)
    error = f"{type(exc).__name__}: {exc}" if exc is not None else "failed (no exception recorded)"
    trace = message.options.get("traceback", "") or (
        "".join(tb.format_exception(exc)) if exc is not None else "")
    reason = getattr(exc, "reason", None) if isinstance(exc, BadInput) else "retries_exhausted"
    batch = message.args[0] if message.args and isinstance(message.args[0], list) else []
    first = batch[0] if batch and isinstance(batch[0], dict) else {}
    return DeadLetter(processor=queue.removeprefix("alcyon."), queue=queue, reason=reason or "bad_input",
                      error=error, body=message.encode(), attempts=message.options.get("retries", 0) + 1,
                      traceback=trace, event_id=first.get("id") if len(batch) == 1 else None,
                      event_type=first.get("type"))


def rejected_record(body: bytes, queue: str, error: BadInput) -> DeadLetter:
    metrics().rejected.labels(queue, error.reason).inc()
    log.warning("message_rejected", queue=queue, reason=error.reason, error=str(error), bytes=len(body))
    return DeadLetter(processor=queue.removeprefix("alcyon."), queue=queue, reason=error.reason,
                      error=f"{type(error).__name__}: {error}", body=body, attempts=1)


class _QueueActors:
    """Both brokers: remember which actor each queue belongs to, for :func:`readdress`; keep heartbeats.

    ``polled[queue]`` is when that queue's consumer loop last asked for a message (every
    ``worker_timeout`` when idle): recent means connected and looping (readiness).
    ``attempted[queue]`` is when it last tried to connect: recent means the loop still turns
    while the broker is away (liveness; restarting would not help).
    """

    actors: dict[str, str]
    polled: dict[str, float]
    attempted: dict[str, float]

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 100) -> Any:
        self.attempted[queue_name] = time.monotonic()
        return super().consume(queue_name, prefetch, timeout)  # type: ignore[misc]

    def declare_actor(self, actor: Any) -> None:
        super().declare_actor(actor)  # type: ignore[misc]
        self.actors[actor.queue_name] = actor.actor_name


# -- RabbitMQ -------------------------------------------------------------------------------
class RoutedRabbitmqBroker(_QueueActors, RabbitmqBroker):
    """dramatiq's RabbitMQ broker, consuming from queues bound to the events exchange."""

    def __init__(self, *, topology: Topology, dead_letters: DeadLetterStore, parameters: pika.URLParameters,
                 middleware: list[Any]) -> None:
        super().__init__(confirm_delivery=True, middleware=middleware, host="placeholder")
        self.parameters = parameters  # keeps TLS options that a URL alone cannot carry
        self.topology = topology
        self.dead_letter_store = dead_letters
        self.actors: dict[str, str] = {}
        self.polled: dict[str, float] = {}
        self.attempted: dict[str, float] = {}

    @property
    def consumer_class(self) -> type:
        return _RoutedRabbitmqConsumer

    def _declare_xq_queue(self, queue_name: str) -> Any:
        return self.channel.queue_declare(queue=xq_name(queue_name), durable=True,
                                          arguments=dead_letter_arguments(self.topology.dead_letter_ttl_ms))

    def _declare_queue(self, queue_name: str) -> Any:
        result = super()._declare_queue(queue_name)
        if queue_name in self.topology.queues:
            self.topology.declare_exchange(self.channel)
            for binding in self.topology.bindings:
                if binding.queue == queue_name:
                    self.channel.queue_bind(queue=queue_name, exchange=self.topology.exchange,
                                            routing_key=binding.pattern)
        return result

    def admin_channel(self) -> Any:
        """A short-lived channel on its own connection (dead-letter browsing, topology)."""
        return blocking_channel(self.parameters)


class _RoutedRabbitmqConsumer(_RabbitmqConsumer):
    def __next__(self) -> Any:
        self.broker.polled[self.queue_name] = time.monotonic()
        try:
            method, properties, body = next(self.iterator)
            if method is None:
                return None
        except (AssertionError, pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError) as e:
            if getattr(e, "reply_code", None) == 404:
                self.broker.queues_pending.add(q_name(self.queue_name))
            raise ConnectionClosed(e) from None
        try:
            message = readdress(body, self.queue_name, self.broker.actors)
        except BadInput as error:
            self.broker.dead_letter_store.put(rejected_record(body, self.queue_name, error))
            self.channel.basic_ack(method.delivery_tag)
            return None
        self.known_tags.add(method.delivery_tag)
        return _RabbitmqMessage(method.redelivered, method.delivery_tag, message)

    def nack(self, message: Any) -> None:
        # Record why, durably, then ack: the record (not a bare nack) is the dead letter.
        self.broker.dead_letter_store.put(failed_record(message, q_name(message.queue_name)))
        self.ack(message)


# -- embedded -------------------------------------------------------------------------------
class EmbeddedBroker(_QueueActors, StubBroker):
    """dramatiq's in-memory broker, fed by :meth:`route` with topic-exchange semantics."""

    def __init__(self, *, topology: Topology, dead_letters: DeadLetterStore, middleware: list[Any]) -> None:
        super().__init__(middleware=middleware)
        self.topology = topology
        self.dead_letter_store = dead_letters
        self.actors: dict[str, str] = {}
        self.polled: dict[str, float] = {}
        self.attempted: dict[str, float] = {}
        self.unrouted: list[tuple[str, bytes]] = []

    def route(self, routing_key: str, body: bytes) -> list[str]:
        """Deliver one message to every queue bound to a matching pattern; keep it if none."""
        queues = self.topology.route(routing_key)
        for queue in queues:
            self.queues[queue].put(body)
        if not queues:
            self.unrouted.append((routing_key, body))
        return queues

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 100) -> Any:
        consumer = super().consume(queue_name, prefetch, timeout)  # through _QueueActors: an attempt
        return _EmbeddedConsumer(self, queue_name, consumer)


class _EmbeddedConsumer(_StubConsumer):
    def __init__(self, broker: EmbeddedBroker, queue_name: str, inner: _StubConsumer) -> None:
        super().__init__(inner.queue, inner.dead_letters, inner.prefetch, inner.timeout)
        self.broker = broker
        self.queue_name = queue_name

    def __next__(self) -> Any:
        from queue import Empty

        self.broker.polled[self.queue_name] = time.monotonic()
        if not self.prefetch_semaphore.acquire(timeout=self.timeout / 1000):
            return None
        try:
            body = self.queue.get(timeout=self.timeout / 1000)
        except Empty:
            self.prefetch_semaphore.release()
            return None
        try:
            message = readdress(body, self.queue_name, self.broker.actors)
        except BadInput as error:
            self.broker.dead_letter_store.put(rejected_record(body, self.queue_name, error))
            self.queue.task_done()
            self.prefetch_semaphore.release()
            return None
        return _StubMessageProxy(message)

    def nack(self, message: Any) -> None:
        self.broker.dead_letter_store.put(failed_record(message, q_name(message.queue_name)))
        self.ack(message)
