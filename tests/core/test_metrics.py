"""Metrics helpers: the buffer that batches counter increments."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter

from alcyon.metrics import CounterBuffer


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


class _SpyCounter:
    def __init__(self) -> None:
        self.increments: list[float] = []

    def inc(self, amount: float = 1) -> None:
        self.increments.append(amount)


def test_counter_buffer_adds_many_counts_in_a_few_increments() -> None:
    spy = _SpyCounter()
    buffer = CounterBuffer()
    for _ in range(1000):
        buffer.add(spy)
    buffer.flush()
    buffer.flush()  # nothing pending: nothing added twice
    assert sum(spy.increments) == 1000
    assert len(spy.increments) <= 2  # one flush, or a background flush in the middle: never 1000 calls


def test_counter_buffer_flush_adds_to_prometheus_counters_by_label() -> None:
    registry = CollectorRegistry()
    counter = Counter("things", "Things.", ["kind"], registry=registry)
    buffer = CounterBuffer()
    buffer.add(counter.labels("a"))
    buffer.add(counter.labels("a"))
    buffer.add(counter.labels("b"), 2.5)
    buffer.flush()
    assert _value(registry, "things_total", kind="a") == 2
    assert _value(registry, "things_total", kind="b") == 2.5


def test_counter_buffer_is_flushed_in_the_background_while_its_owner_waits() -> None:
    registry = CollectorRegistry()
    counter = Counter("waits", "Waits.", registry=registry)
    buffer = CounterBuffer()  # flushed every CounterBuffer.FLUSH_EVERY_S (1 s)
    buffer.add(counter, 7)
    deadline = time.monotonic() + 5
    while _value(registry, "waits_total") != 7 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _value(registry, "waits_total") == 7
