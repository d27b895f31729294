"""Group events of one type into broker messages, by size and by linger time.

One broker message per batch: at 500 events a message, the broker moves 500x fewer
messages than events.  ``linger_ms`` bounds the latency a quiet source pays for that.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, wait
from typing import Callable, Sequence

from .errors import PublishError
from .events import Event
from .logs import get_logger

log = get_logger("alcyon.batching")

SendBatch = Callable[[str, Sequence[Event]], Future]


class Batcher:
    """Collects events per type and hands full or lingering batches to ``send``."""

    def __init__(self, send: SendBatch, *, max_events: int = 500, linger_ms: int = 20) -> None:
        self._send_batch = send
        self.max_events = max_events
        self.linger_s = linger_ms / 1000
        self._cond = threading.Condition()
        # Taking a batch and sending it happen under one lock, so batches of a type reach the
        # broker in the order they were filled (an ordered processor depends on it).
        self._send_lock = threading.Lock()
        self._batches: dict[str, list[Event]] = {}
        self._deadlines: dict[str, float] = {}
        self._outstanding: set[Future] = set()
        self._failed: list[Future] = []
        self._closed = False
        self._thread = threading.Thread(target=self._linger_loop, name="alcyon-batcher", daemon=True)
        self._thread.start()

    def add(self, event: Event) -> None:
        """Queue ``event``; it is sent within ``linger_ms`` or as soon as its batch is full."""
        with self._cond:
            if self._closed:
                raise PublishError("publisher is closed")
            batch = self._batches.setdefault(event.type, [])
            if not batch:
                self._deadlines[event.type] = time.monotonic() + self.linger_s
                self._cond.notify()
            batch.append(event)
            full = len(batch) >= self.max_events
        if full:
            self._send([event.type])

    def flush(self, timeout: float | None = 30.0) -> None:
        """Send every partial batch and wait until the broker has confirmed everything sent so far."""
        with self._cond:
            types = list(self._batches)
        self._send(types)
        with self._cond:
            outstanding, self._outstanding = list(self._outstanding), set()
            failed, self._failed = self._failed, []
        done, not_done = wait(outstanding, timeout=timeout)
        if not_done:
            raise PublishError(f"{len(not_done)} batch(es) not confirmed by the broker within {timeout}s")
        errors = [f.exception() for f in [*done, *failed] if f.exception() is not None]
        if errors:
            raise PublishError(f"{len(errors)} batch(es) were refused: {errors[0]}")

    def close(self, timeout: float | None = 30.0) -> None:
        try:
            self.flush(timeout)
        finally:
            with self._cond:
                self._closed = True
                self._cond.notify()
            self._thread.join(timeout=1)

    def _send(self, types: list[str]) -> None:
        """Take the current batch of each type and send it, in take order."""
        with self._send_lock:
            for event_type in types:
                with self._cond:
                    self._deadlines.pop(event_type, None)
                    events = self._batches.pop(event_type, [])
                if events:
                    self._dispatch(event_type, events)

    def _dispatch(self, event_type: str, events: list[Event]) -> None:
        try:
            future = self._send_batch(event_type, events)
        except Exception as exc:  # e.g. an oversized event: reported by flush(), the loop goes on
            log.error("batch_not_sent", event_type=event_type, events=len(events), error=f"{type(exc).__name__}: {exc}")
            future = Future()
            future.set_exception(exc)
        with self._cond:
            self._outstanding.add(future)
        future.add_done_callback(self._settled)

    def _settled(self, future: Future) -> None:
        # confirmed batches leave at once (no scan of everything in flight); refused ones wait for flush()
        with self._cond:
            if future in self._outstanding:
                self._outstanding.discard(future)
                if future.exception() is not None:
                    self._failed.append(future)

    def _linger_loop(self) -> None:
        while True:
            with self._cond:
                if self._closed:
                    return
                now = time.monotonic()
                due = [t for t, deadline in self._deadlines.items() if deadline <= now]
                if not due:
                    next_deadline = min(self._deadlines.values(), default=None)
                    self._cond.wait(None if next_deadline is None else max(0.0, next_deadline - now))
                    continue
            self._send(due)
