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

import dataclasses
import time
import traceback as tb
from typing import Any, Mapping

import pika
from dramatiq.brokers.rabbitmq import RabbitmqBroker, _RabbitmqConsumer, _RabbitmqMessage
from dramatiq.brokers.stub import StubBroker, _StubConsumer, _StubMessageProxy
from dramatiq.common import current_millis, q_name, xq_name
from dramatiq.errors import ConnectionClosed
from dramatiq.message import Message

from .amqp import blocking_channel
from .deadletters import DeadLetter, DeadLetterStore
from .errors import BadInput, DecodeError
from .logs import get_logger
from .metrics import metrics
from .topology import Topology, dead_letter_arguments

log = get_logger("alcyon.brokers")


#: Message options a consumer keeps from the wire; anything else (``max_retries``, ``time_limit``,
#: ``throws``, ``on_retry_exhausted``, an ``eta`` outside a delay queue...) is dropped: alcyon
#: decides retries, delays and time limits from the processor's declaration, never from a message.
_TEXT_OPTIONS = {"alcyon_error": 500, "alcyon_replayed_from": 64, "traceback": 8000}


def trusted_options(options: Any, actor: Any, *, delayed: bool, routed: bool, now_ms: int) -> dict[str, Any]:
    """The options of a message delivered to ``actor``, bounded by what its processor declares.

    A message routed by the events exchange is a first attempt: its ``retries`` is 0 whatever
    it says. A retry (from the default exchange, where dramatiq re-enqueues) keeps its count,
    clamped to ``0..max_retries``. ``eta`` is kept only on a delay queue, and no later than the
    processor's ``max_backoff`` from now (an ``eta`` of 9e15 once held a message, and the
    prefetch behind it, for ever).
    """
    options = options if isinstance(options, dict) else {}
    declared = actor.options
    kept: dict[str, Any] = {}
    retries = options.get("retries")
    if not routed and type(retries) is int and retries > 0:
        kept["retries"] = min(retries, int(declared.get("max_retries", 0)))
    for name, limit in _TEXT_OPTIONS.items():
        value = options.get(name)
        if isinstance(value, str):
            kept[name] = value[-limit:] if name == "traceback" else value[:limit]
    eta = options.get("eta")
    if delayed and type(eta) in (int, float) and eta == eta:  # eta == eta: not NaN
        kept["eta"] = int(min(max(eta, 0), now_ms + int(declared.get("max_backoff", 0))))
    return kept


def readdress(body: bytes, queue: str, actors: Mapping[str, Any], *, routed: bool = False) -> Message:
    """Decode ``body`` delivered from ``queue``, address it to that queue's actor, keep only trusted options.

    A message from a delay queue was enqueued by dramatiq (a retry) and keeps its address.
    ``routed``: delivered through the events exchange (a publish, not a retry).
    Raises :class:`BadInput` (with a bounded ``reason``) for anything that is not ours.
    """
    try:
        message = Message.decode(body)
    except Exception as exc:
        cause = exc.__cause__ if isinstance(exc.__cause__, BadInput) else None
        raise cause or DecodeError(f"message body does not decode: {exc.__cause__ or exc}") from None
    args, kwargs = message.args, message.kwargs
    if not (isinstance(args, (list, tuple)) and len(args) == 1 and isinstance(args[0], list)) or kwargs:
        raise DecodeError("message arguments are not an alcyon batch (expected args = [[event, ...]] and no "
                          f"kwargs, got args of type {type(args).__name__}"
                          f"{f' of length {len(args)}' if isinstance(args, (list, tuple)) else ''})")
    canonical = q_name(queue)
    actor = actors[canonical]
    options = trusted_options(message.options, actor, delayed=canonical != queue, routed=routed,
                              now_ms=current_millis())
    return dataclasses.replace(message, queue_name=queue, actor_name=actor.actor_name, options=options)


def failed_record(message: Any, queue: str) -> DeadLetter:
    """The dead letter of a message dramatiq gave up on (retries exhausted, or aborted)."""
    exc = getattr(message, "_exception", None)
    error = f"{type(exc).__name__}: {exc}" if exc is not None else "failed (no exception recorded)"
    trace = message.options.get("traceback", "") or (
        "".join(tb.format_exception(exc)) if exc is not None else "")
    bad_input = isinstance(exc, BadInput)
    reason = getattr(exc, "reason", None) if bad_input else "retries_exhausted"
    batch = message.args[0] if message.args and isinstance(message.args[0], list) else []
    first = batch[0] if batch and isinstance(batch[0], dict) else {}
    # dramatiq's Retries counts the failed attempt before giving up; BadInput is thrown (not counted)
    retries = message.options.get("retries", 0)
    return DeadLetter(processor=queue.removeprefix("alcyon."), queue=queue, reason=reason or "bad_input",
                      error=error, body=message.encode(), attempts=retries + 1 if bad_input else max(retries, 1),
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

    #: queue name -> its actor, beside dramatiq's own ``actors`` (actor name -> actor), which it must not mix
    queue_actors: dict[str, Any]
    polled: dict[str, float]
    attempted: dict[str, float]

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 100) -> Any:
        self.attempted[queue_name] = time.monotonic()
        return super().consume(queue_name, prefetch, timeout)  # type: ignore[misc]

    def declare_actor(self, actor: Any) -> None:
        super().declare_actor(actor)  # type: ignore[misc]
        self.queue_actors[actor.queue_name] = actor


# -- RabbitMQ -------------------------------------------------------------------------------
class RoutedRabbitmqBroker(_QueueActors, RabbitmqBroker):
    """dramatiq's RabbitMQ broker, consuming from queues bound to the events exchange."""

    def __init__(self, *, topology: Topology, dead_letters: DeadLetterStore, parameters: pika.URLParameters,
                 middleware: list[Any]) -> None:
        super().__init__(confirm_delivery=True, middleware=middleware, host="placeholder")
        self.parameters = parameters  # keeps TLS options that a URL alone cannot carry
        self.topology = topology
        self.dead_letter_store = dead_letters
        self.queue_actors: dict[str, Any] = {}
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
            message = readdress(body, self.queue_name, self.broker.queue_actors,
                                routed=method.exchange == self.broker.topology.exchange)
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
        self.queue_actors: dict[str, Any] = {}
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
            message = readdress(body, self.queue_name, self.broker.queue_actors)
        except BadInput as error:
            self.broker.dead_letter_store.put(rejected_record(body, self.queue_name, error))
            self.queue.task_done()
            self.prefetch_semaphore.release()
            return None
        return _StubMessageProxy(message)

    def nack(self, message: Any) -> None:
        self.broker.dead_letter_store.put(failed_record(message, q_name(message.queue_name)))
        self.ack(message)
