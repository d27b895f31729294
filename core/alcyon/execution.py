"""Running one processor on one broker message: the body of its dramatiq actor.

The order of effects is what makes delivery at-least-once without loss:

1. decode and validate each event; a bad one is dead-lettered alone (never retried);
2. call the handler (per event, or the whole batch; if a batch handler raises, each event
   is retried alone so the culprit is isolated and the others pass);
3. publish the derived events and wait for the broker's confirms;
4. hand each failed event back on its own: retried with backoff, or dead-lettered when its
   retries are exhausted.

An *ordered* processor never lets a later event overtake an earlier one: a transient failure
(a service away: Redis, RabbitMQ) is retried in place, the queue held meanwhile (the
``alcyon_ordered_paused`` gauge and an ``ordered_processor_paused`` line say so), and an event
that fails for any other reason is dead-lettered at once (a retry after later events would be
applied out of order).

Only when this function returns does dramatiq ack the message.  If step 3 fails the whole
message is retried; derived ids are deterministic, so the re-published alerts are the same.
"""

from __future__ import annotations

import time
import traceback
from collections import Counter
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from dramatiq.common import compute_backoff
from dramatiq.message import Message
from dramatiq.middleware import CurrentMessage
from dramatiq.middleware.time_limit import TimeLimitExceeded
from structlog.contextvars import bound_contextvars

from .codec import batch_message, events_from_args
from .deadletters import DeadLetter
from .errors import BadInput, BrokerError, InvalidEvent, PublishRefused, StateConflict
from .events import Event
from .logs import get_logger
from .metrics import metrics
from .processors import Context, Processor

if TYPE_CHECKING:  # pragma: no cover
    from .runtime import Runtime


#: What a handler may raise for ONE event: retried alone (a time limit included: dramatiq's
#: TimeLimitExceeded is a BaseException and would otherwise fail the whole message).
HANDLER_ERRORS = (Exception, TimeLimitExceeded)

#: Longest wait between two in-place retries of an ordered processor.
MAX_PAUSE_MS = 5_000


def transient(error: BaseException) -> bool:
    """Whether ``error`` may pass by itself: a service away or busy, not the event nor the handler."""
    if isinstance(error, (BadInput, PublishRefused)):
        return False
    if isinstance(error, (ConnectionError, TimeoutError, BrokerError, StateConflict)):
        return True
    import redis.exceptions

    return isinstance(error, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                              redis.exceptions.BusyLoadingError, redis.exceptions.ReadOnlyError,
                              redis.exceptions.TryAgainError))


class ProcessorRunner:
    """The callable dramatiq runs for a processor's messages."""

    def __init__(self, processor: Processor, runtime: Runtime) -> None:
        self.processor = processor
        self.runtime = runtime
        self.log = get_logger("alcyon.processor", processor=processor.name)
        self.context = Context(processor=processor.name, config=runtime.host.plugin_config(processor.plugin),
                               log=self.log, state=runtime.keyed_state(processor))
        self.__name__ = processor.name  # dramatiq names actors after their function

    def __call__(self, batch: list[Any]) -> None:
        message = CurrentMessage.get_current_message()
        retries = message.options.get("retries", 0) if message is not None else 0
        m = metrics()
        name = self.processor.name
        events, invalid = events_from_args([batch])
        for raw, error in invalid:
            self._dead_letter_raw(raw, error, retries)
        valid: list[Event] = []
        for event in events:
            try:
                event_type = self.runtime.event_types.get(event.type)
                if event_type is not None:
                    event_type.validate(event)
                valid.append(event)
            except InvalidEvent as error:
                self._give_up(event, error, retries, reason=error.reason)
            except Exception as error:  # a type's check that fails on odd data: still this event's fault
                self._give_up(event, InvalidEvent(f"{event.type} event {event.id}: its type's check raised "
                                                  f"{type(error).__name__}: {error}"), retries, reason="schema_error")
        if not valid:
            return
        m.batch.labels(name).observe(len(valid))
        started = time.perf_counter()
        derived, failures = self._invoke(valid)
        m.duration.labels(name).observe(time.perf_counter() - started)
        if derived:
            if self.processor.ordered:
                self._in_place(lambda: self.runtime.publish_now(derived), valid[0])
            else:
                self.runtime.publish_now(derived)
            for event in derived:
                m.derived.labels(name, event.type).inc()
        # Metrics once per batch, not per event: in multiprocess mode every update takes a
        # process-wide lock, and per-event updates halved the throughput of a worker.
        failed_ids = {id(e) for e, _ in failures}
        handled = Counter(e.type for e in valid if id(e) not in failed_ids)
        for type_name, count in handled.items():
            m.processed.labels(name, type_name).inc(count)
        if handled:
            oldest = min(e.timestamp for e in valid if id(e) not in failed_ids)
            m.lag.labels(name).observe(max(0.0, time.time() - oldest))
        for event, failure in failures:
            m.failed.labels(name, event.type, "handler_error").inc()
            if self.processor.ordered:  # a retry after the events behind it would apply out of order
                self._give_up(event, failure, retries, reason=getattr(failure, "reason", "handler_error"))
            else:
                self._retry_or_give_up(event, failure, retries)

    # -- calling the handler ---------------------------------------------------------------
    def _invoke(self, events: list[Event]) -> tuple[list[Event], list[tuple[Event, BaseException]]]:
        p, ctx = self.processor, self.context
        derived: list[Event] = []
        failures: list[tuple[Event, BaseException]] = []
        if p.handle_batch is not None:
            handle_batch = p.handle_batch
            try:
                with bound_contextvars(processor=p.name, batch_events=len(events)):
                    derived.extend(self._call(lambda: handle_batch(events, ctx), events[0]))
                return derived, failures
            except HANDLER_ERRORS as error:
                if len(events) == 1:
                    self._log_failure(events[0], error)
                    return derived, [(events[0], error)]
                # Isolate the culprit: each event alone, so the good ones still pass.
                for event in events:
                    try:
                        # the lambda is called at once, inside this iteration
                        derived.extend(self._call(lambda: handle_batch([event], ctx), event))  # noqa: B023
                    except HANDLER_ERRORS as single_error:
                        self._log_failure(event, single_error)
                        failures.append((event, single_error))
                return derived, failures
        handle = p.handle
        for event in events:
            try:
                with bound_contextvars(processor=p.name, event_id=event.id, event_type=event.type,
                                       subject=event.subject):
                    # the lambda is called at once, inside this iteration (B023 does not apply)
                    derived.extend(self._call(lambda: handle(event, ctx), event))  # type: ignore[misc]  # noqa: B023
            except HANDLER_ERRORS as error:
                self._log_failure(event, error)
                failures.append((event, error))
        return derived, failures

    def _call(self, call: Any, first: Event) -> Sequence[Event]:
        """One handler call; an ordered processor's is retried in place while it fails transiently."""
        if not self.processor.ordered:
            return _events(call())
        return self._in_place(lambda: _events(call()), first)

    def _in_place(self, call: Any, first: Event) -> Any:
        """``call()``, retried with backoff while it fails transiently, the queue held meanwhile.

        Nothing else of this processor runs in this process meanwhile (an ordered processor has
        one thread), so no later event overtakes. If the process stops while paused, the message
        is not acknowledged: the broker delivers it again, in its place.
        """
        p, m = self.processor, metrics()
        attempt = 0
        while True:
            try:
                result = call()
            except HANDLER_ERRORS as error:
                if not transient(error):
                    raise
                if attempt == 0:
                    m.pauses.labels(p.name).inc()
                    m.paused.labels(p.name).set(1)
                _, delay = compute_backoff(attempt, factor=p.min_backoff_ms, max_backoff=min(p.max_backoff_ms,
                                                                                               MAX_PAUSE_MS))
                attempt += 1
                self.log.warning("ordered_processor_paused", attempt=attempt, retry_in_ms=delay,
                                 event_id=first.id, subject=first.subject,
                                 error=f"{type(error).__name__}: {error}"[:500])
                _sleep(delay / 1000)
                continue
            if attempt:
                m.paused.labels(p.name).set(0)
                self.log.info("ordered_processor_resumed", attempts=attempt + 1, event_id=first.id)
            return result

    def _log_failure(self, event: Event, error: BaseException) -> None:
        self.log.warning("handler_failed", event_id=event.id, event_type=event.type, subject=event.subject,
                         error=f"{type(error).__name__}: {error}")
        for listener in self.runtime.failure_listeners:
            listener(self.processor, event, error)

    # -- failures ------------------------------------------------------------------------------
    def _retry_or_give_up(self, event: Event, error: BaseException, retries: int) -> None:
        p = self.processor
        if isinstance(error, BadInput) or retries >= p.max_retries or not self.runtime.retry_failures:
            self._give_up(event, error, retries, reason=getattr(error, "reason", "handler_error"))
            return
        _, delay = compute_backoff(retries, factor=p.min_backoff_ms, max_backoff=p.max_backoff_ms)
        retry: Message[Any] = Message(queue_name=p.queue, actor_name=p.name, args=([event.to_dict()],), kwargs={},
                        options={"retries": retries + 1, "alcyon_error": f"{type(error).__name__}: {error}"[:500]})
        self.runtime.broker.enqueue(retry, delay=delay)
        self.log.info("event_retry_scheduled", event_id=event.id, attempt=retries + 1, delay_ms=delay)

    def _give_up(self, event: Event, error: BaseException, retries: int, *, reason: str) -> None:
        body = self.runtime.encode_message(batch_message([event], queue_name=self.processor.queue,
                                                         actor_name=self.processor.name))
        self._put(DeadLetter(processor=self.processor.name, queue=self.processor.queue, reason=reason,
                             error=f"{type(error).__name__}: {error}", body=body, attempts=retries + 1,
                             event_id=event.id, event_type=event.type,
                             traceback="".join(traceback.format_exception(error))))

    def _dead_letter_raw(self, raw: Any, error: InvalidEvent, retries: int) -> None:
        body = self.runtime.encode_message({**batch_message([], queue_name=self.processor.queue,
                                                            actor_name=self.processor.name), "args": [[raw]]})
        event_id = raw.get("id") if isinstance(raw, dict) else None
        event_type = raw.get("type") if isinstance(raw, dict) else None
        self._put(DeadLetter(processor=self.processor.name, queue=self.processor.queue, reason=error.reason,
                             error=f"{type(error).__name__}: {error}", body=body, attempts=retries + 1,
                             event_id=event_id if isinstance(event_id, str) else None,
                             event_type=event_type if isinstance(event_type, str) else None))

    def _put(self, record: DeadLetter) -> None:
        if record.reason != "handler_error":  # handler errors were counted at each attempt
            metrics().failed.labels(record.processor, record.event_type or "unknown", record.reason).inc()
        self.log.warning("dead_lettered", event_id=record.event_id, event_type=record.event_type,
                         reason=record.reason, error=record.error, attempts=record.attempts)
        self.runtime.dead_letters.put(record)


def _sleep(seconds: float) -> None:
    """Sleep through a pause: dramatiq's time limit is for a runaway handler, not for waiting on a service."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            time.sleep(min(left, 0.1))
        except TimeLimitExceeded:
            continue


def _events(result: Iterable[Event] | None) -> Sequence[Event]:
    if result is None:
        return ()
    events = list(result)
    for item in events:
        if not isinstance(item, Event):
            raise TypeError(f"a handler must return alcyon Events (or None), got {type(item).__name__}")
    return events
