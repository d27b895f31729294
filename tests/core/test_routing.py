"""Routing, retries, dead letters and bad input: one suite, run on the embedded mode AND on RabbitMQ."""

from __future__ import annotations

import msgpack
import pytest

from alcyon import Event
from alcyon.codec import encode_batch
from alcyon.topology import UNROUTED

from .plugins_for_tests import Recorder

SUBSCRIPTIONS = {
    "exact": ("ais.position",),
    "star": ("ais.*",),
    "hash": ("ais.#",),
    "all": ("#",),
    "alerts": ("*.alert",),
}

# event type -> processors that must receive it (and no others)
EXPECTED = {
    "ais.position": {"exact", "star", "hash", "all"},
    "ais": {"hash", "all"},
    "ais.static.extra": {"hash", "all"},
    "fire.alert": {"all", "alerts"},
    "fire.smoke.alert": {"all"},
    "emissions": {"all"},
}


def ev(event_type: str, subject: str = "s1", **data) -> Event:
    return Event(type=event_type, source="test", subject=subject, data=data or {"v": 1})


def test_each_event_reaches_exactly_the_matching_processors(alcyon_harness, mode_url):
    rec = Recorder(SUBSCRIPTIONS)
    h = alcyon_harness(("rec", rec), broker_url=mode_url)
    events = {t: ev(t) for t in EXPECTED}
    h.publish(events.values())
    h.join()
    for event_type, event in events.items():
        got = {name for name in SUBSCRIPTIONS if rec.count(name)[event.id]}
        assert got == EXPECTED[event_type], event_type
        assert all(rec.count(name)[event.id] == 1 for name in got), "delivered once per subscriber"


def test_a_batch_is_one_publish_whatever_the_number_of_subscribers(alcyon_harness, mode_url):
    rec = Recorder(SUBSCRIPTIONS)
    h = alcyon_harness(("rec", rec), broker_url=mode_url, settings={"batch_max_events": 100,
                                                                     "batch_linger_ms": 1000})
    publishes = []
    h.runtime.listeners.append(lambda event_type, events: publishes.append((event_type, len(events))))
    h.publish(ev("ais.position", subject=str(i)) for i in range(300))
    h.join()
    assert publishes == [("ais.position", 100)] * 3
    for name in ("exact", "star", "hash", "all"):
        assert sum(rec.count(name).values()) == 300


def test_failing_processor_is_retried_with_backoff_then_dead_lettered_in_its_own_queue(alcyon_harness, mode_url):
    # two processors on the same event: one fails every time, one succeeds
    rec = Recorder({"good": ("test.reading",), "bad": ("test.reading",)}, failing="bad", max_retries=2,
                   min_backoff_ms=100)
    h = alcyon_harness(("rec", rec), fail_fast=False, broker_url=mode_url)
    event = ev("test.reading", value=3)
    h.publish(event)
    h.join(timeout=30)
    assert rec.count("good")[event.id] == 1
    attempts = rec.attempts[f"bad:{event.id}"]
    assert len(attempts) == 3  # first try + max_retries
    gaps = [b - a for a, b in zip(attempts, attempts[1:])]
    # dramatiq's backoff with jitter: attempt n waits between 2^n x 50 and 2^n x 100 ms (the consumer
    # polls its delay queue every 100 ms, so measured gaps are quantised: compare with the minimums)
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1, f"exponential backoff, got {gaps}"
    [dead] = h.dead_letters("bad")
    assert dead.processor == "bad" and dead.queue == "alcyon.bad"
    assert dead.reason == "handler_error" and "RuntimeError: boom on s1" in dead.error
    assert dead.attempts == 3 and dead.event_id == event.id and dead.event_type == "test.reading"
    assert "boom on s1" in dead.traceback
    assert msgpack.unpackb(dead.body)["args"][0][0]["id"] == event.id  # the event itself is kept
    assert h.dead_letters("good") == []


def test_messages_delivered_through_a_binding_are_acked_on_their_own_queue(alcyon_harness, broker_url):
    rec = Recorder({"good": ("test.reading",), "bad": ("test.reading",)}, failing="bad", max_retries=1,
                   min_backoff_ms=50)
    h = alcyon_harness(("rec", rec), fail_fast=False, broker_url=broker_url)
    events = [ev("test.reading", subject=str(i), value=i) for i in range(20)]
    h.publish(events)
    h.join(timeout=30)
    with h.runtime.broker.admin_channel() as channel:
        def depth(queue):
            return channel.queue_declare(queue, passive=True).method.message_count
        # nothing left unacked or requeued on either queue; the failures sit in bad's own XQ only
        assert depth("alcyon.good") == 0 and depth("alcyon.bad") == 0
        assert depth("alcyon.good.DQ") == 0 and depth("alcyon.bad.DQ") == 0
        assert depth("alcyon.good.XQ") == 0
        assert depth("alcyon.bad.XQ") == 20
    assert sorted(rec.count("good").values()) == [1] * 20


test_messages_delivered_through_a_binding_are_acked_on_their_own_queue = pytest.mark.rabbitmq(
    test_messages_delivered_through_a_binding_are_acked_on_their_own_queue)


def test_one_bad_event_in_a_batch_does_not_sink_the_others(alcyon_harness, mode_url):
    rec = Recorder({"proc": ("test.reading",)}, failing="proc", fail_subjects={"7"}, max_retries=1,
                   min_backoff_ms=20, batch=True)
    h = alcyon_harness(("rec", rec), fail_fast=False, broker_url=mode_url, settings={"batch_linger_ms": 200})
    events = [ev("test.reading", subject=str(i), value=i) for i in range(20)]
    h.publish(events)
    h.join()
    assert set(rec.count("proc")) == {e.id for e in events if e.subject != "7"}
    [dead] = h.dead_letters("proc")
    assert dead.event_id == events[7].id and dead.attempts == 2


def test_unroutable_events_are_kept_and_counted(alcyon_harness, mode_url):
    rec = Recorder({"exact": ("ais.position",)})
    h = alcyon_harness(("rec", rec), broker_url=mode_url)
    if mode_url:
        with h.runtime.broker.admin_channel() as channel:
            channel.queue_purge(UNROUTED)
    from alcyon.metrics import metrics
    before = metrics().unrouted.labels("nobody.listens")._value.get()
    event = ev("nobody.listens")
    h.publish(event)
    h.join()
    if mode_url:
        assert h.runtime.refresh_unrouted() == 1  # what workers do every 15 s
        assert metrics().unrouted_kept._value.get() == 1
        with h.runtime.broker.admin_channel() as channel:
            method, _props, body = channel.basic_get(UNROUTED, auto_ack=True)
        assert method is not None and method.routing_key == "nobody.listens"
        assert msgpack.unpackb(body)["args"][0][0]["id"] == event.id
    else:
        [(routing_key, body)] = h.runtime.broker.unrouted
        assert routing_key == "nobody.listens"
        assert msgpack.unpackb(body)["args"][0][0]["id"] == event.id
        assert metrics().unrouted.labels("nobody.listens")._value.get() == before + 1


def test_bad_input_is_dead_lettered_with_its_reason_and_the_rest_flows(alcyon_harness, mode_url):
    rec = Recorder({"proc": ("test.reading",)}, max_retries=3)
    h = alcyon_harness(("rec", rec), broker_url=mode_url)
    good = [ev("test.reading", subject=str(i), value=i) for i in range(5)]
    h.publish(good[:2])
    h.join()
    h.send_raw("test.reading", b"\x00garbage that is not msgpack")
    wrong_schema = ev("test.reading", subject="x", value="not a number")
    h.send_raw("test.reading", encode_batch([wrong_schema, good[2]]))
    h.send_raw("test.reading", msgpack.packb({"message_id": "m", "args": [[{"type": "test.reading"}]],
                                              "queue_name": "", "actor_name": "", "kwargs": {}, "options": {},
                                              "message_timestamp": 0}))
    h.publish(good[3:])
    h.join()
    assert set(rec.count("proc")) == {e.id for e in good}
    dead = h.dead_letters("proc")
    reasons = sorted(d.reason for d in dead)
    assert reasons == ["decode_error", "schema_error", "schema_error"]
    garbage = next(d for d in dead if d.reason == "decode_error")
    assert garbage.body == b"\x00garbage that is not msgpack"   # original bytes kept
    invalid = next(d for d in dead if d.event_id == wrong_schema.id)
    assert "data.value must be int or float, got str" in invalid.error and invalid.attempts == 1
    missing = next(d for d in dead if d.reason == "schema_error" and d.event_id is None)
    assert "missing required attribute" in missing.error


def test_batches_over_the_size_limit_are_split_and_oversized_events_refused(alcyon_harness, mode_url):
    from alcyon import MessageTooLarge

    rec = Recorder({"frames": ("camera.frame",)})
    h = alcyon_harness(("rec", rec), broker_url=mode_url,
                       settings={"max_message_bytes": 64 * 1024, "batch_linger_ms": 500})
    publishes = []
    h.runtime.listeners.append(lambda event_type, events: publishes.append(len(events)))
    frames = [Event(type="camera.frame", source="cam", subject=f"t/{i}", data=bytes(10_000)) for i in range(20)]
    h.publish(frames)
    h.join()
    assert sum(publishes) == 20 and len(publishes) > 1 and all(n * 10_000 < 64 * 1024 for n in publishes)
    assert set(rec.count("frames")) == {f.id for f in frames}
    with pytest.raises(MessageTooLarge, match="over max_message_bytes.*dataref"):
        h.runtime.send_batch("camera.frame", [Event(type="camera.frame", source="cam", subject="big",
                                                    data=bytes(100_000))])
