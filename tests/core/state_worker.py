"""A worker process of the keyed-state tests (run as a script; its helpers are imported).

Usage: ``state_worker.py URL NAMESPACE WORKER WORKERS TOTAL SUBJECTS BATCH [FIRST [KILL]]``.
The worker takes every ``WORKERS``-th of ``TOTAL`` events (from ``WORKER``), prints ``ready``,
waits for a line on stdin, then applies them through :meth:`KeyedState.apply` in batches of
``BATCH``, starting at batch number ``FIRST`` (default 0). After each batch it "acks" it by
printing a JSON line ``{"derived": [[subject, n, id], ...]}``. Every third batch is applied
twice, as if its ack had been lost, and the worker checks that the same derived events come
back. With ``KILL``, it SIGKILLs itself right after committing batch ``KILL``, before acking
it: the case at-least-once delivery exists for. At the end it prints
``{"replays": ..., "applies": ..., "round_trips": ..., "conflicts": ...}``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from datetime import datetime, timedelta, timezone
from typing import Any

from alcyon.events import Event, derive
from alcyon.state import KeyedState, RedisStateStore, open_state_store

T0 = datetime(2026, 7, 14, 12, 0, tzinfo=timezone.utc)


def make_events(total: int, subjects: int) -> list[Event]:
    """``total`` ticks spread round-robin over ``subjects`` subjects, one millisecond apart."""
    return [Event(type="test.tick", source="test", subject=f"s{i % subjects}",
                  time=T0 + timedelta(milliseconds=i), id=f"ev-{i}") for i in range(total)]


def count(value: Any, event: Event, stale: bool) -> tuple[int, list[Event]]:
    """Increment the subject's counter (stale or not: counting commutes) and report it."""
    n = (value or 0) + 1
    return n, [derive(event, "count", "test.counted", {"n": n}, source="test")]


def main(argv: list[str]) -> int:
    url, namespace = argv[0], argv[1]
    numbers = [int(arg) for arg in argv[2:]]
    worker, workers, total, subjects, size, first, kill = numbers + [0, -1][len(numbers) - 5:]
    events = make_events(total, subjects)[worker::workers]
    batches = [events[start:start + size] for start in range(0, len(events), size)]
    store = open_state_store(url)
    state = KeyedState(store, namespace)
    print("ready", flush=True)
    sys.stdin.readline()

    replays = applies = 0
    for number in range(first, len(batches)):
        derived = state.apply(batches[number], count)
        applies += 1
        if number == kill:
            os.kill(os.getpid(), signal.SIGKILL)
        if number % 3 == 0:
            again = state.apply(batches[number], count)
            applies += 1
            if [d.to_dict() for d in again] != [d.to_dict() for d in derived]:
                print(f"redelivery of batch {number} derived different events", file=sys.stderr)
                return 1
            replays += 1
        print(json.dumps({"derived": [(d.subject, d.data["n"], d.id) for d in derived]}), flush=True)
    redis_store = store if isinstance(store, RedisStateStore) else None
    print(json.dumps({"replays": replays, "applies": applies,
                      "round_trips": redis_store and redis_store.round_trips,
                      "conflicts": redis_store and redis_store.conflicts}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
