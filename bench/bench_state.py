"""Throughput of ``KeyedState.apply``: memory vs Redis, at batch sizes 1, 50 and 500.

The function is a no-op counter (value + 1, no derived events) over 1,000 subjects, so what
is measured is the store: grouping, msgpack, the applied-ids bookkeeping and, for Redis, the
two round trips of a transaction. One process, no contention; each run starts from empty
keys. Run from the repository root::

    PYTHONPATH=core python bench/bench_state.py [--redis-url URL] [--events N] [--repeat R]
"""

from __future__ import annotations

import argparse
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import redis

from alcyon.events import Event
from alcyon.state import KeyedState, StateStore, open_state_store, redact_url

SUBJECTS = 1_000
BATCH_SIZES = (1, 50, 500)
T0 = datetime(2026, 7, 14, tzinfo=timezone.utc)


def increment(value: Any, event: Event, stale: bool) -> tuple[int, list[Event]]:
    return (value or 0) + 1, []


def events_per_second(state: KeyedState, batch: int, total: int) -> float:
    """Apply ``total`` events in batches of ``batch``; the events/s achieved."""
    events = [Event(type="bench.tick", source="bench", subject=f"dev-{i % SUBJECTS}",
                    time=T0 + timedelta(milliseconds=i), id=f"ev-{i}") for i in range(total)]
    started = time.perf_counter()
    for start in range(0, total, batch):
        state.apply(events[start:start + batch], increment)
    return total / (time.perf_counter() - started)


def best_of(repeat: int, store: StateStore, batch: int, total: int, cleanup: redis.Redis) -> float:
    """The best events/s of ``repeat`` runs, each on fresh keys (the machine may be shared)."""
    rates = []
    for _ in range(repeat):
        namespace = f"bench-{uuid.uuid4().hex[:12]}"
        try:
            rates.append(events_per_second(KeyedState(store, namespace), batch, total))
        finally:
            for key in cleanup.scan_iter(match=f"alcyon:state:{namespace}:*", count=1000):
                cleanup.delete(key)
    return max(rates)


def main(redis_url: str, events: int, repeat: int) -> None:
    print(f"KeyedState.apply, no-op fn, {SUBJECTS} subjects, best of {repeat}; Redis at {redact_url(redis_url)}")
    print(f"{'batch':>5} {'events':>7} {'memory ev/s':>12} {'redis ev/s':>11} {'redis/memory':>13}")
    memory, distributed = open_state_store("memory://"), open_state_store(redis_url)
    cleanup = redis.Redis.from_url(redis_url)
    for batch in BATCH_SIZES:
        total = events if batch > 1 else events // 4  # one transaction per event is slow
        mem = best_of(repeat, memory, batch, total, cleanup)
        red = best_of(repeat, distributed, batch, total, cleanup)
        print(f"{batch:>5} {total:>7} {mem:>12,.0f} {red:>11,.0f} {red / mem:>13.2f}")
    distributed.close()
    cleanup.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--events", type=int, default=20_000, help="events per run (a quarter at batch 1)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the best is shown")
    args = parser.parse_args()
    main(args.redis_url, args.events, args.repeat)
