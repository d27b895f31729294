"""Assembling a running alcyon: plugins, broker, publisher, dead letters, state, actors.

The same :class:`Runtime` drives both modes.  With a broker URL it talks to RabbitMQ; with
none it is *embedded*: dramatiq's in-memory broker, routed by the same topic rules, with
the same actors, middleware, dead letters and metrics, in one process.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import Future, wait
from typing import Any, Callable, Iterable, Sequence

import dramatiq
from dramatiq.common import dq_name, xq_name
from dramatiq.middleware import CurrentMessage, Retries, ShutdownNotifications, TimeLimit

from .batching import Batcher
from .codec import CONTENT_TYPE, MsgpackEncoder, encode_batch, install_encoder
from .config import Config
from .deadletters import AmqpDeadLetterStore, DeadLetter, DeadLetterStore, MemoryDeadLetterStore
from .errors import BadInput, BrokerError, ConfigError, MessageTooLarge, PublishError
from .events import Event
from .execution import ProcessorRunner
from .logs import for_humans, get_logger
from .metrics import DramatiqMetrics, metrics, multiprocess_dir, zero_series
from .plugins import PluginHost
from .processors import Processor, Source, StateNotDeclared
from .topology import UNROUTED, Topology, dead_letter_arguments, explain_declare_error

log = get_logger("alcyon.runtime")

DAY_MS = 86_400_000


class Runtime:
    """Everything one alcyon process needs to publish events and run processors."""

    def __init__(self, config: Config, host: PluginHost, *, processors: Sequence[str] | None = None,
                 state_store: Any = None, state_prefix: str = "") -> None:
        self.config = config
        #: Prepended to each processor's state namespace (the test harness isolates its runs with it).
        self.state_prefix = state_prefix
        self.host = host
        self.event_types = host.event_types()
        available = {p.name: p for p in host.processors()}
        names = sorted(available) if processors is None else list(processors)
        unknown = [n for n in names if n not in available]
        if unknown:
            raise ConfigError(f"unknown processor(s) {', '.join(unknown)}; installed: "
                              f"{', '.join(sorted(available)) or 'none'}, of plugin(s) "
                              f"{', '.join(host.names()) or 'none'} (see `alcyon plugins`)")
        self.processors = [available[n] for n in names]
        self.sources = host.sources()
        #: Inputs rejected by the sources, by (source, reason).
        self.rejected: Counter[tuple[str, str]] = Counter()
        ttl = int(config.dead_letter_ttl_days * DAY_MS) or None
        self.topology = Topology.of(self.processors, config.exchange, ttl)
        #: Publishers declare the routes of every installed processor, so nothing published
        #: before a worker starts goes unrouted.
        self.full_topology = Topology.of(available.values(), config.exchange, ttl)
        install_encoder(config.max_message_bytes)
        self._encoder = MsgpackEncoder(config.max_message_bytes)
        self._state_store = state_store
        self._routes: dict[str, bool] = {}
        self._publisher: Any = None
        self._lock = threading.Lock()
        middleware = [ShutdownNotifications(), TimeLimit(), CurrentMessage(),
                      Retries(max_retries=5, min_backoff=1000, max_backoff=300_000)]
        if multiprocess_dir():
            # dramatiq's metrics need the multiprocess directory (see alcyon.metrics).
            middleware.insert(0, DramatiqMetrics())
        if config.embedded:
            from .brokers import EmbeddedBroker

            self.dead_letters: DeadLetterStore = MemoryDeadLetterStore()
            self.broker: Any = EmbeddedBroker(topology=self.topology, dead_letters=self.dead_letters,
                                              middleware=middleware)
        else:
            from .amqp import AmqpPublisher, blocking_channel, parameters_from_config
            from .brokers import RoutedRabbitmqBroker

            params = parameters_from_config(config)
            self._publisher = AmqpPublisher(params, on_channel_open=self.full_topology.declare_exchange)
            self.dead_letters = AmqpDeadLetterStore(self._publisher, lambda: blocking_channel(params))
            self.broker = RoutedRabbitmqBroker(topology=self.topology, dead_letters=self.dead_letters,
                                               parameters=params, middleware=middleware)
        for p in self.processors:
            dramatiq.Actor(ProcessorRunner(p, self), broker=self.broker, actor_name=p.name, queue_name=p.queue,
                           priority=0, options={"max_retries": p.max_retries, "min_backoff": p.min_backoff_ms,
                                                "max_backoff": p.max_backoff_ms, "time_limit": p.time_limit_ms,
                                                "throws": (BadInput,)})
        self.batcher = Batcher(self.send_batch, max_events=config.batch_max_events,
                               linger_ms=config.batch_linger_ms)
        self._workers: list[dramatiq.Worker] = []
        self._stopping = threading.Event()
        #: Called with (event type, events) for every batch published (taps, tests, summaries).
        self.listeners: list[Callable[[str, Sequence[Event]], None]] = []
        #: Called with (processor, event, error) each time a handler raises (the test harness).
        self.failure_listeners: list[Callable[[Processor, Event, BaseException], None]] = []
        #: False: a handler error dead-letters its event at once, without retries (fail-fast tests).
        self.retry_failures = True

    # -- state -----------------------------------------------------------------------------
    def keyed_state(self, processor: Processor) -> Any:
        """The processor's :class:`KeyedState` (a stand-in that explains ``stateful=True`` if it has none)."""
        if not processor.stateful:
            return StateNotDeclared(processor.name)
        from .state import KeyedState, open_state_store

        with self._lock:
            if self._state_store is None:
                self._state_store = open_state_store(self.config.state_url or None)
        return KeyedState(self._state_store, self.state_prefix + processor.name, ttl=processor.state_ttl_s,
                          remember=processor.state_remember)

    def rejecter(self, source: Source) -> Callable[[bytes, str, str], None]:
        """``reject(raw, reason, error)`` for ``source``: a dead letter (not waited for), a count, a log line.

        For machines every rejected input gets its line; a person on a terminal reads the first
        of each reason, and the counts by reason in :attr:`rejected` (the run's summary).
        """
        limit = self.config.rejected_input_max_bytes

        def reject(raw: bytes, reason: str, error: str) -> None:
            body = raw if isinstance(raw, bytes) else str(raw).encode()
            size = len(body)
            if size > limit:  # a 60 KB line kept whole, 500 times, was 30 MB of dead letters
                body = body[:limit]
                error = f"{error} (first {limit} of {size} bytes kept)"
            record = DeadLetter(processor=source.name, queue=source.queue, reason=reason, error=error[:500], body=body)
            with self._lock:
                self.rejected[source.name, reason] += 1
                first = self.rejected[source.name, reason] == 1
            if not for_humans():
                log.info("input_rejected", source=source.name, reason=reason, error=error[:500], bytes=size)
            elif first:
                log.warning("input_rejected", source=source.name, reason=reason, error=error[:500], bytes=size,
                            note="first of its kind: the others are kept and counted, not shown")
            self.dead_letters.put(record, wait=False)

        return reject

    # -- publishing ------------------------------------------------------------------------
    def encode_message(self, message: dict[str, Any]) -> bytes:
        return self._encoder.encode(message)

    def send_batch(self, event_type: str, events: Sequence[Event]) -> Future:
        """Publish ``events`` (all of ``event_type``) as ONE broker message; the broker fans out."""
        body = encode_batch(events)
        if len(body) > self.config.max_message_bytes:
            return self._send_split(event_type, events, len(body))
        for listener in self.listeners:
            listener(event_type, events)
        m = metrics()
        m.published.labels(event_type).inc(len(events))
        m.published_batches.labels(event_type).observe(len(events))
        if self._publisher is not None:
            if not self._routed(event_type):  # RabbitMQ does not tell: the installed subscriptions do
                self._warn_unrouted(event_type, len(events))
            return self._publisher.publish(self.config.exchange, event_type, body, content_type=CONTENT_TYPE)
        if not self.broker.route(event_type, body):
            m.unrouted_kept.set(len(self.broker.unrouted))
            self._warn_unrouted(event_type, len(events))
        done: Future = Future()
        done.set_result(None)
        return done

    def _routed(self, event_type: str) -> bool:
        """Whether an installed processor subscribes to ``event_type`` (cached: the topology is fixed)."""
        routed = self._routes.get(event_type)
        if routed is None:
            routed = self._routes[event_type] = bool(self.full_topology.route(event_type))
        return routed

    def _warn_unrouted(self, event_type: str, count: int) -> None:
        metrics().unrouted.labels(event_type).inc(count)
        log.warning("events_unrouted", event_type=event_type, events=count, kept_in=UNROUTED,
                    hint=f"no installed processor subscribes to {event_type}; see them with `alcyon dlq list "
                         "unrouted`, replay them with `alcyon dlq replay unrouted --all` once one does")

    def _send_split(self, event_type: str, events: Sequence[Event], size: int) -> Future:
        """A batch over the size limit goes as two halves; a single event over it is refused."""
        if len(events) == 1:
            raise MessageTooLarge(
                f"event {events[0].id} of type {event_type} encodes to {size} bytes, over max_message_bytes "
                f"({self.config.max_message_bytes}): store the payload elsewhere and reference it in a "
                "'dataref' extension, or raise ALCYON_MAX_MESSAGE_BYTES (and RabbitMQ's max_message_size)")
        half = len(events) // 2
        futures = [self.send_batch(event_type, events[:half]), self.send_batch(event_type, events[half:])]
        combined: Future = Future()

        def settle(_: Future) -> None:
            if all(f.done() for f in futures) and not combined.done():
                errors = [f.exception() for f in futures if f.exception() is not None]
                combined.set_exception(errors[0]) if errors else combined.set_result(None)

        for f in futures:
            f.add_done_callback(settle)
        return combined

    def send_raw(self, routing_key: str, body: bytes) -> Future:
        """Publish bytes as they are (tests of bad input, ``alcyon dlq replay``)."""
        if self._publisher is not None:
            return self._publisher.publish(self.config.exchange, routing_key, body, content_type=CONTENT_TYPE)
        self.broker.route(routing_key, body)
        done: Future = Future()
        done.set_result(None)
        return done

    def publish(self, event: Event) -> None:
        """Queue ``event`` for a batched, confirmed publish (sources, ``alcyon publish``)."""
        self.batcher.add(event)

    def publish_now(self, events: Iterable[Event], timeout: float = 30.0) -> None:
        """Publish ``events`` grouped by type and wait for every confirm (derived events)."""
        by_type: dict[str, list[Event]] = defaultdict(list)
        for event in events:
            by_type[event.type].append(event)
        futures = [self.send_batch(t, batch[i:i + self.config.batch_max_events])
                   for t, batch in by_type.items() for i in range(0, len(batch), self.config.batch_max_events)]
        done, not_done = wait(futures, timeout=timeout)
        if not_done:
            raise PublishError(f"{len(not_done)} derived batch(es) not confirmed within {timeout}s")
        for future in done:
            if future.exception() is not None:
                raise future.exception()  # type: ignore[misc]

    def flush(self, timeout: float = 30.0) -> None:
        """Return once every event published and every dead letter put so far is confirmed."""
        self.batcher.flush(timeout)
        self.dead_letters.flush(timeout)

    # -- lifecycle -------------------------------------------------------------------------
    def declare(self) -> None:
        """Declare the exchange, and the queues and bindings of every installed processor (RabbitMQ).

        Every installed one, not only this process's: a source started before the workers
        (``alcyon ingest``) must not see its events go unrouted.
        """
        if self._publisher is not None:
            import pika.exceptions

            self._publisher.wait_connected()
            try:
                with self.broker.admin_channel() as channel:
                    self.full_topology.declare_all(channel)
                    for source in self.sources:  # where their rejected inputs are kept
                        channel.queue_declare(xq_name(source.queue), durable=True,
                                              arguments=dead_letter_arguments(self.topology.dead_letter_ttl_ms))
            except pika.exceptions.ChannelClosedByBroker as exc:
                raise BrokerError(explain_declare_error(exc, self.full_topology)) from None

    def start(self, threads: int | None = None) -> list[dramatiq.Worker]:
        """Start consuming with ``threads`` handler threads (plus one per ordered processor)."""
        self.host.startup()
        self.broker.emit_after("process_boot")
        threads = threads or self.config.worker_threads
        if self.config.worker_prefetch:
            import dramatiq.worker as dramatiq_worker

            dramatiq_worker.QUEUE_PREFETCH = self.config.worker_prefetch
        self.declare()
        # one pool for the processors that may run concurrently, one thread for each ordered one
        groups = [([p.queue for p in self.processors if not p.ordered], threads)]
        groups += [([p.queue], 1) for p in self.processors if p.ordered]
        for queues, count in groups:
            if queues:
                worker = dramatiq.Worker(self.broker, queues=set(queues), worker_threads=count, worker_timeout=100)
                worker.start()
                self._workers.append(worker)
        zero_series(self.processors, self.event_types, threads=sum(count for queues, count in groups if queues))
        if not self.config.embedded:
            threading.Thread(target=self._watch_unrouted, name="alcyon-unrouted", daemon=True).start()
        return self._workers

    @property
    def workers(self) -> list[dramatiq.Worker]:
        """The running dramatiq workers (one for the concurrent processors, one per ordered one)."""
        return list(self._workers)

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` began."""
        return self._stopping.is_set()

    def publisher_connected(self) -> bool:
        """True when the broker publisher is connected (always in the embedded mode)."""
        return self._publisher is None or self._publisher.connected

    def refresh_unrouted(self) -> int:
        """Set ``alcyon_unrouted_messages`` to the depth of ``alcyon.unrouted`` and return it.

        RabbitMQ routes unroutable events to the alternate exchange without telling the
        publisher, so the kept queue's depth is the count.
        """
        with self.broker.admin_channel() as channel:
            depth = channel.queue_declare(UNROUTED, passive=True).method.message_count
        metrics().unrouted_kept.set(depth)
        return depth

    def _watch_unrouted(self, every_s: float = 15.0) -> None:
        while not self._stopping.is_set():
            try:
                self.refresh_unrouted()
            except Exception as exc:  # the broker is away: the reconnecting parts will say so
                log.debug("unrouted_depth_unknown", error=str(exc))
            self._stopping.wait(every_s)

    def idle(self) -> bool:
        """True when nothing is queued, delayed or in a handler for this runtime's processors."""
        for worker in self._workers:
            if worker.work_queue.unfinished_tasks:
                return False
            if any(c.delay_queue.unfinished_tasks for c in worker.consumers.values()):
                return False
        if self.config.embedded:
            return not any(q.unfinished_tasks for q in self.broker.queues.values())
        with self.broker.admin_channel() as channel:
            for p in self.processors:
                for queue in (p.queue, dq_name(p.queue)):
                    if channel.queue_declare(queue, passive=True).method.message_count:
                        return False
        return True

    def join(self, timeout: float = 30.0, settle_s: float = 0.1) -> None:
        """Flush publishes, then wait until :meth:`idle` holds twice ``settle_s`` apart (tests, demos)."""
        deadline = time.monotonic() + timeout
        self.flush(timeout)
        while time.monotonic() < deadline:
            if self.idle():
                time.sleep(settle_s)
                if self.idle():
                    return
            time.sleep(0.02)
        raise TimeoutError(f"work not finished within {timeout}s")

    def stop(self, grace_s: float | None = None) -> None:
        """Stop gracefully within ``grace_s`` in all: finish in-flight work, requeue the rest, flush publishes.

        Every step draws on one deadline, and the dramatiq workers (the concurrent pool and one
        per ordered processor) stop side by side: whatever mix of processors runs, stopping
        takes at most ``grace_s`` plus the closing of connections. A handler still running then
        is abandoned: its message was not acknowledged, so RabbitMQ redelivers it.
        """
        grace_s = self.config.shutdown_grace_s if grace_s is None else grace_s
        deadline = time.monotonic() + grace_s

        def left() -> float:
            return max(0.0, deadline - time.monotonic())

        self._stopping.set()
        try:
            self.batcher.close(timeout=left())
        except PublishError as exc:
            log.error("publish_unconfirmed_at_shutdown", error=str(exc))
        if self._workers:
            stoppers = [threading.Thread(target=worker.stop, kwargs={"timeout": int(left() * 1000)},
                                         name=f"alcyon-stop-{i}", daemon=True)
                        for i, worker in enumerate(self._workers)]
            for thread in stoppers:
                thread.start()
            for thread in stoppers:
                thread.join(left())
            if any(thread.is_alive() for thread in stoppers):
                log.warning("handlers_abandoned_at_shutdown", grace_s=grace_s,
                            note="their messages are not acknowledged: RabbitMQ redelivers them")
            self._workers = []
            self.host.shutdown()
        try:
            self.dead_letters.flush(left())
        except Exception as exc:  # a timeout or a refusal: say so, and go on stopping
            log.error("dead_letters_unconfirmed_at_shutdown", error=f"{type(exc).__name__}: {exc}")
        if self._publisher is not None:
            self._publisher.close(timeout=left())
        self.broker.close()
