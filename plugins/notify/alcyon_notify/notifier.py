"""The ``notify`` handler: one alert, every sink that should see it, each exactly once.

For each alert:

1. pick the sinks whose ``types`` accept it (the JSON-lines file takes everything);
2. **claim** them in the ledger in one transaction (:mod:`alcyon_notify.ledger`): sinks
   already recorded as delivered are skipped, sinks another worker is delivering are *busy*;
3. deliver to each claimed sink in turn (JSON-lines first: local and cheap), measuring and
   counting each attempt, and **settle** each sink as soon as it took the alert (recorded,
   TTL ``ledger_ttl_s``): a worker killed while a slow sink is busy has already recorded the
   sinks before it, which a retry then skips;
4. release the claims of the sinks that failed;
5. if a sink failed or was busy, raise: :class:`~alcyon_notify.errors.DeliveryFailed` when a
   retry may help (the framework retries this alert alone with backoff, then dead-letters it
   with this error, reason ``delivery_failed``), :class:`~alcyon_notify.errors.DeliveryRejected`
   when every failure is permanent (dead-lettered at once).  On the retry, the sinks that
   took the alert are skipped by the ledger: only the failing ones are tried again.  A sink
   that rejected the alert for good is tried again on those retries (a 4xx costs nothing and
   has no effect), so that fixing it then replaying the dead letter needs nothing more.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Mapping, Protocol, Sequence

from alcyon import Context, Event, MemoryStateStore, get_logger

from .errors import DeliveryFailed, DeliveryInProgress, DeliveryRejected, SinkError
from .ledger import Claim, DeliveryLedger
from .metrics import metrics
from .payload import to_json


class Sink(Protocol):
    name: str
    binary: str
    timeout_s: float

    def accepts(self, event_type: str) -> bool: ...

    def deliver(self, event: Event, body: bytes) -> Mapping[str, Any]:
        """Hand ``body`` (the alert's JSON) over; details for the log line, or raise :class:`SinkError`."""


class Notifier:
    """Holds the sinks; :meth:`handle` is the processor's per-event handler (thread-safe)."""

    def __init__(self, sinks: Sequence[Sink], *, ledger_ttl_s: float, lease_s: float) -> None:
        self.sinks = list(sinks)
        self.ledger_ttl_s = ledger_ttl_s
        self.lease_s = lease_s
        self._fallback: DeliveryLedger | None = None
        self._log = get_logger("alcyon_notify")

    def ledger(self, ctx: Context | None) -> DeliveryLedger:
        """The ledger on the processor's state store (Redis when ``ALCYON_STATE_URL`` is set, else memory)."""
        state = getattr(ctx, "state", None)
        if state is not None:
            return DeliveryLedger(state.store, ttl_s=self.ledger_ttl_s, lease_s=self.lease_s)
        if self._fallback is None:  # called outside a runtime (a unit test, a script)
            self._fallback = DeliveryLedger(MemoryStateStore(), ttl_s=self.ledger_ttl_s, lease_s=self.lease_s)
        return self._fallback

    def handle(self, event: Event, ctx: Context | None = None) -> None:
        log = getattr(ctx, "log", None) or self._log
        sinks = [s for s in self.sinks if s.accepts(event.type)]
        if not sinks:
            return
        ledger = self.ledger(ctx)
        owner = uuid.uuid4().hex
        claims = ledger.claim(event.id, [s.name for s in sinks], owner)
        m = metrics()
        busy: list[str] = []
        todo: list[Sink] = []
        for sink in sinks:
            claim = claims[sink.name]
            if claim is Claim.DONE:
                m.deliveries.labels(sink.name, "duplicate").inc()
                log.info("alert_already_delivered", sink=sink.name)
            elif claim is Claim.BUSY:
                m.deliveries.labels(sink.name, "in_progress").inc()
                busy.append(sink.name)
            else:
                todo.append(sink)
        delivered: list[str] = []
        failures: list[SinkError] = []
        bodies: dict[str, bytes] = {}
        try:
            for sink in todo:
                if sink.binary not in bodies:
                    bodies[sink.binary] = to_json(event, sink.binary)
                started = time.perf_counter()
                try:
                    details = sink.deliver(event, bodies[sink.binary])
                except SinkError as error:
                    elapsed = time.perf_counter() - started
                    outcome = "failed" if error.retryable else "rejected"
                    failures.append(error)
                    log.warning("alert_delivery_failed", sink=sink.name, status=error.status,
                                retryable=error.retryable, error=str(error))
                else:
                    elapsed = time.perf_counter() - started
                    outcome = "delivered"
                    delivered.append(sink.name)
                    ledger.settle(event.id, owner, delivered=[sink.name], released=())
                    log.info("alert_delivered", sink=sink.name, duration_ms=round(elapsed * 1000, 1), **details)
                m.deliveries.labels(sink.name, outcome).inc()
                m.duration.labels(sink.name, outcome).observe(elapsed)
        finally:
            # Whatever happened (even an unexpected error), free the claims of the sinks that did not take it.
            ledger.settle(event.id, owner, delivered=(), released=[s.name for s in todo if s.name not in delivered])
        if failures or busy:
            raise _aggregate(failures, busy)


def _aggregate(failures: list[SinkError], busy: list[str]) -> Exception:
    parts = [str(f) for f in failures]
    if busy:
        parts.append(f"delivery to {', '.join(repr(b) for b in busy)} in progress in another worker")
    message = "; ".join(parts)
    error: Exception
    if busy and not failures:
        error = DeliveryInProgress(message)
    elif any(f.retryable for f in failures) or busy:
        error = DeliveryFailed(message)
    else:
        error = DeliveryRejected(message)
    # Never chain: a dead letter's traceback would show the cause's message too.
    error.__cause__ = None
    error.__suppress_context__ = True
    return error
