"""Small plugins used by the core tests (real plugin objects, registered like any other)."""

from __future__ import annotations

import threading
import time
from collections import Counter

from alcyon import Event, EventType, Processor, hookimpl


class Recorder:
    """Processors that record what they receive; one may fail on purpose."""

    def __init__(self, subscriptions: dict[str, tuple[str, ...]], *, failing: str | None = None,
                 fail_subjects: set[str] | None = None, max_retries: int = 2, min_backoff_ms: int = 50,
                 batch: bool = False, derive: str | None = None) -> None:
        self.subscriptions = subscriptions
        self.failing = failing
        self.fail_subjects = fail_subjects
        self.max_retries = max_retries
        self.min_backoff_ms = min_backoff_ms
        self.batch = batch
        self.derive = derive
        self.lock = threading.Lock()
        self.seen: dict[str, list[Event]] = {name: [] for name in subscriptions}
        self.attempts: dict[str, list[float]] = {}

    def _handler(self, name: str):
        def handle(event: Event, ctx):
            with self.lock:
                self.attempts.setdefault(f"{name}:{event.id}", []).append(time.monotonic())
            if name == self.failing and (self.fail_subjects is None or event.subject in self.fail_subjects):
                raise RuntimeError(f"boom on {event.subject}")
            with self.lock:
                self.seen[name].append(event)
            if self.derive and not event.type.endswith(".alert"):
                return [ctx.derive(event, "seen", self.derive, {"of": event.id})]
            return None

        def handle_batch(events, ctx):
            out = []
            for event in events:
                out.extend(handle(event, ctx) or [])
            return out

        return handle_batch if self.batch else handle

    @hookimpl
    def alcyon_processors(self, config):
        kind = "handle_batch" if self.batch else "handle"
        return [Processor(name=name, subscribe=patterns, max_retries=self.max_retries,
                          min_backoff_ms=self.min_backoff_ms, max_backoff_ms=2000, **{kind: self._handler(name)})
                for name, patterns in self.subscriptions.items()]

    @hookimpl
    def alcyon_event_types(self):
        return [EventType("test.reading", "a numeric reading", fields={"value": (int, float)})]

    def count(self, name: str) -> Counter:
        with self.lock:
            return Counter(e.id for e in self.seen[name])
