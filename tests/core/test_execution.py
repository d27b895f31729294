"""Ordered processors under a Redis outage, on RabbitMQ and a Redis of the test's own.

A processor that drops events older than a subject's last one (geofence does) gave wrong alerts
after a Redis blip: the events that failed while Redis was down were retried through the delay
queue while newer ones overtook them. Now they are retried in place, the queue held.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import pytest

from alcyon import Event, Processor, hookimpl
from alcyon.metrics import metrics
from alcyon.testing import RedisServer

pytestmark = [pytest.mark.rabbitmq, pytest.mark.redis, pytest.mark.slow]

THRESHOLD = 50


class Crossings:
    """Alerts when a subject's reading crosses THRESHOLD upwards; stale readings are dropped."""

    def __init__(self, *, fail_subject: str | None = None) -> None:
        self.fail_subject = fail_subject

    @hookimpl
    def alcyon_processors(self, config):
        return [Processor(name="crossings", subscribe=("test.reading",), handle_batch=self.handle, stateful=True,
                          ordered=True, min_backoff_ms=200, max_backoff_ms=2000, max_retries=5)]

    def handle(self, events, ctx):
        def step(previous, event, stale):
            if event.subject == self.fail_subject:
                raise ValueError("this event is bad, whatever the state")
            if stale:
                return previous, []
            value = event.data["value"]
            crossed = previous is not None and previous < THRESHOLD <= value
            return value, [ctx.derive(event, "crossed", "test.crossed", {"value": value})] if crossed else []

        return ctx.state.apply(events, step)


def reading(subject: str, tick: int, start: float) -> Event:
    return Event(type="test.reading", source="test", subject=subject, data={"value": (tick * 10) % 100},
                 time=datetime.fromtimestamp(start + tick, timezone.utc))


def expected_causes(events: list[Event]) -> set[str]:
    last: dict[str, int] = {}
    causes = set()
    for e in events:
        value = e.data["value"]
        if e.subject in last and last[e.subject] < THRESHOLD <= value:
            causes.add(e.id)
        last[e.subject] = value
    return causes


def test_a_10s_redis_outage_gives_exactly_the_reference_alerts(alcyon_harness, broker_url, tmp_path):
    with RedisServer(str(tmp_path)) as redis_server:
        h = alcyon_harness(("crossings", Crossings()), broker_url=broker_url, state_url=redis_server.url,
                           fail_fast=False)
        start = time.time() - 1000
        subjects = [f"v{i}" for i in range(10)]
        stream = [reading(s, tick, start) for tick in range(60) for s in subjects]
        pauses_before = metrics().pauses.labels("crossings")._value.get()

        def outage() -> None:
            time.sleep(4)
            redis_server.kill()
            time.sleep(10)
            redis_server.start()

        blip = threading.Thread(target=outage)
        blip.start()
        for tick in range(60):  # 6 readings per subject a second for 20 s: ~3 crossings each in the outage
            h.publish(stream[tick * 10:(tick + 1) * 10])
            time.sleep(20 / 60)
        blip.join()
        h.join(timeout=90)
        alerts = h.published("test.crossed")
        causes = {a.extensions["causeid"] for a in alerts}
        assert causes == expected_causes(stream)
        assert len(causes) == 60  # 6 crossings per subject (value 40 -> 50 at ticks 5, 15, ... 55)
        assert len({a.id for a in alerts}) == len(causes)
        assert h.dead_letters("crossings") == []
        assert metrics().pauses.labels("crossings")._value.get() > pauses_before
        assert metrics().paused.labels("crossings")._value.get() == 0  # resumed
        h.close()  # while its Redis is still there to delete the test's state


def test_an_ordered_processor_dead_letters_a_bad_event_without_holding_the_rest(alcyon_harness, broker_url,
                                                                                 redis_url):
    h = alcyon_harness(("crossings", Crossings(fail_subject="bad")), broker_url=broker_url, state_url=redis_url,
                       fail_fast=False)
    start = time.time() - 1000
    stream = [reading(s, tick, start) for tick in range(12) for s in ("bad", "good")]
    h.publish(stream)
    h.join(timeout=30)
    good = [e for e in stream if e.subject == "good"]
    assert {a.extensions["causeid"] for a in h.published("test.crossed")} == expected_causes(good)
    dead = h.dead_letters("crossings")
    assert sorted(d.event_id for d in dead) == sorted(e.id for e in stream if e.subject == "bad")
    assert all(d.attempts == 1 and d.reason == "handler_error" for d in dead)
