"""What a consumer trusts of a message: on RabbitMQ, options from the wire never stall, extend or
shorten a processor's declared retries, delays and time limits; poison envelopes are dead-lettered
alone."""

from __future__ import annotations

import math

import msgpack
import pytest

from alcyon import Event
from alcyon.codec import batch_message

from .plugins_for_tests import Recorder

pytestmark = pytest.mark.rabbitmq


def ev(subject: str, value: float = 1.0) -> Event:
    return Event(type="test.reading", source="test", subject=subject, data={"value": value})


def body(events: list, *, options: dict | None = None, raw: list | None = None, **fields) -> bytes:
    message = batch_message(events, options=options)
    if raw is not None:
        message["args"][0].extend(raw)
    message.update(fields)
    return msgpack.packb(message, use_bin_type=True)


def test_a_far_future_eta_from_the_wire_does_not_hold_messages(alcyon_harness, broker_url):
    # Two messages with dramatiq's eta = 9e15 once filled the prefetch and froze the processor for good.
    rec = Recorder({"proc": ("test.reading",)})
    h = alcyon_harness(("rec", rec), broker_url=broker_url, fail_fast=False)
    held = [ev("held-1"), ev("held-2")]
    for event in held:
        h.send_raw("test.reading", body([event], options={"eta": 9e15, "time_limit": 1, "max_retries": 10**6}))
    after = [ev(f"after-{i}") for i in range(20)]
    h.publish(after)
    h.join(timeout=20)
    assert set(rec.count("proc")) == {e.id for e in held + after}


def test_retries_are_the_processors_whatever_the_message_says(alcyon_harness, broker_url):
    rec = Recorder({"bad": ("test.reading",)}, failing="bad", max_retries=2, min_backoff_ms=20)
    h = alcyon_harness(("rec", rec), broker_url=broker_url, fail_fast=False)
    forged = {"more": {"retries": -5, "max_retries": 50}, "less": {"retries": 10**9, "max_retries": 0},
              "throws": {"retries": 1, "min_backoff": 10**9, "throws": None}}
    events = {name: ev(name) for name in forged}
    for name, options in forged.items():
        h.send_raw("test.reading", body([events[name]], options=options))
    h.join(timeout=30)
    for event in events.values():  # 1 + max_retries attempts, each time
        assert len(rec.attempts[f"bad:{event.id}"]) == 3, event.subject
    assert {d.event_id: d.attempts for d in h.dead_letters("bad")} == {e.id: 3 for e in events.values()}


def test_a_nan_time_event_in_a_batch_of_500_is_dead_lettered_alone(alcyon_harness, broker_url):
    rec = Recorder({"proc": ("test.reading",)}, max_retries=8)
    h = alcyon_harness(("rec", rec), broker_url=broker_url, fail_fast=False)
    good = [ev(str(i), i) for i in range(499)]
    poison = {**good[0].to_dict(), "id": "poison-nan", "time": math.nan}
    h.send_raw("test.reading", body(good[:250], raw=[poison]))
    h.send_raw("test.reading", body(good[250:]))
    for n, time in enumerate((math.inf, 1e400, 9e15, "0001-01-01T00:00:00+01:00")):
        h.send_raw("test.reading", body([], raw=[{**poison, "id": f"poison-{n}", "time": time}]))
    h.join(timeout=20)
    assert set(rec.count("proc")) == {e.id for e in good}
    assert all(n == 1 for n in rec.count("proc").values())
    dead = {d.event_id: d for d in h.dead_letters("proc")}
    assert set(dead) == {"poison-nan", "poison-0", "poison-1", "poison-2", "poison-3"}
    assert all(d.reason == "schema_error" and d.attempts == 1 for d in dead.values())
    assert "not a representable epoch time" in dead["poison-nan"].error


@pytest.mark.parametrize("args", [{"not": "a list"}, "a string", [[], []], [{"id": "x"}]])
def test_a_message_whose_args_are_not_a_batch_is_dead_lettered_alone(alcyon_harness, broker_url, args):
    rec = Recorder({"proc": ("test.reading",)})
    h = alcyon_harness(("rec", rec), broker_url=broker_url, fail_fast=False)
    h.send_raw("test.reading", body([], args=args))
    h.send_raw("test.reading", body([], kwargs={"x": 1}, raw=[ev("k").to_dict()]))
    good = ev("good")
    h.publish(good)
    h.join(timeout=20)
    assert set(rec.count("proc")) == {good.id}
    dead = h.dead_letters("proc")
    assert [d.reason for d in dead] == ["decode_error", "decode_error"]
    assert all(d.attempts == 1 and "not an alcyon batch" in d.error for d in dead)


def test_an_exhausted_message_counts_its_attempts_right(alcyon_harness, broker_url):
    # A failure outside the handler (here: a derived event the broker refuses) goes through
    # dramatiq's retries: 1 + max_retries attempts, and the record says so (it said one more).
    rec = Recorder({"proc": ("test.reading",)}, max_retries=2, min_backoff_ms=20, derive="x" * 300)
    h = alcyon_harness(("rec", rec), broker_url=broker_url, fail_fast=False)
    event = ev("s")
    h.publish(event)
    h.join(timeout=30)
    [dead] = h.dead_letters("proc")
    assert dead.reason == "retries_exhausted" and dead.attempts == 3
    assert "refused" in dead.error and "255" in dead.error
    assert rec.count("proc")[event.id] == 3


def test_a_type_check_that_raises_on_odd_data_dead_letters_that_event_alone(alcyon_harness, broker_url):
    from alcyon import EventType, hookimpl

    class Checked:
        @hookimpl
        def alcyon_event_types(self):
            return [EventType("test.checked", check=lambda event: event.data["value"] > 0)]  # TypeError on "x"

    rec = Recorder({"proc": ("test.checked",)})
    h = alcyon_harness(("rec", rec), ("checked", Checked()), broker_url=broker_url, fail_fast=False)
    odd, good = (Event(type="test.checked", source="test", subject=s, data={"value": v}) for s, v in
                 (("odd", "x"), ("good", 1)))
    h.publish(odd, good)
    h.join(timeout=20)
    assert set(rec.count("proc")) == {good.id}
    [dead] = h.dead_letters("proc")
    assert dead.event_id == odd.id and dead.reason == "schema_error" and dead.attempts == 1
    assert "check raised TypeError" in dead.error


def test_the_brokers_declare_one_actor_per_processor(alcyon_harness, mode_url):
    # The queue-to-actor map once lived in dramatiq's own Broker.actors: 4 "actors" for 2 processors.
    rec = Recorder({"one": ("test.reading",), "two": ("test.#",)})
    h = alcyon_harness(("rec", rec), broker_url=mode_url)
    assert h.runtime.broker.get_declared_actors() == {"one", "two"}
    assert set(h.runtime.broker.queue_actors) == {"alcyon.one", "alcyon.two"}
