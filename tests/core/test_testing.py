"""The harness fails fast, says what is stuck, shows and resets state, keeps each run apart."""

from __future__ import annotations

import threading
import time
import traceback
import types

import pytest

from alcyon import Event, Processor, hookimpl
from alcyon.testing import Harness, plugin_name


def reading(subject: str = "m1", value: float = 1.0, **kwargs) -> Event:
    return Event(type="test.reading", source="test", subject=subject, data={"value": value}, **kwargs)


class Raising:
    def __init__(self, **options) -> None:
        self.options = options

    @hookimpl
    def alcyon_processors(self, config):
        def handle_reading(event, ctx):
            raise ZeroDivisionError(f"cannot divide reading of {event.subject}")

        return [Processor(name="raiser", subscribe=("test.reading",), handle=handle_reading, **self.options)]


class Counter:
    """A stateful processor: the running total per subject, a test.total when it passes 10."""

    @hookimpl
    def alcyon_processors(self, config):
        def step(total, event, stale):
            total = (total or 0) + event.data["value"]
            return total, ([Event(type="test.total", source="counter", subject=event.subject,
                                  data={"total": total}, id=f"{event.id}/total")] if total > 10 else [])

        def handle(event, ctx):
            return ctx.state.apply([event], step)

        return [Processor(name="counter", subscribe=("test.reading",), handle=handle, stateful=True)]


def test_a_raising_handler_fails_the_test_at_once_with_its_own_traceback(alcyon_harness):
    h = alcyon_harness(("raising", Raising(max_retries=5, min_backoff_ms=10_000)))
    event = reading("m7")
    started = time.monotonic()
    h.publish(event)
    with pytest.raises(ZeroDivisionError, match="cannot divide reading of m7") as caught:
        h.join(timeout=30)
    assert time.monotonic() - started < 2
    frames = [frame.name for frame in traceback.extract_tb(caught.value.__traceback__)]
    assert "handle_reading" in frames, frames  # the handler's own frame, with its file and line
    assert any(f"event {event.id}" in note and "'raiser'" in note and "fail_fast=False" in note
               for note in caught.value.__notes__)
    # dead-lettered at once with its traceback, no backoff
    [dead] = h.dead_letters("raiser")
    assert dead.attempts == 1 and "handle_reading" in dead.traceback


def test_without_fail_fast_a_join_timeout_names_the_failing_event_and_its_error(alcyon_harness):
    h = alcyon_harness(("raising", Raising(max_retries=5, min_backoff_ms=10_000)), fail_fast=False)
    event = reading("m8")
    h.publish(event)
    with pytest.raises(TimeoutError) as caught:
        h.join(timeout=1)
    message = str(caught.value)
    assert f"processor 'raiser' on event {event.id}" in message
    assert "ZeroDivisionError: cannot divide reading of m8" in message and "max_retries" in message
    assert "message(s) queued for alcyon.raiser.DQ" in message


def test_a_join_timeout_names_the_event_stuck_in_a_handler(alcyon_harness):
    release = threading.Event()

    class Stuck:
        @hookimpl
        def alcyon_processors(self, config):
            return [Processor(name="stuck", subscribe=("test.reading",), handle=lambda e, ctx: release.wait(10))]

    h = alcyon_harness(("stuck", Stuck()))
    event = reading("m9")
    h.publish(event)
    try:
        with pytest.raises(TimeoutError) as caught:
            h.join(timeout=0.5)
    finally:
        release.set()
    assert f"processor 'stuck' has been handling event {event.id} (type test.reading, subject m9)" \
        in str(caught.value)


@pytest.mark.parametrize("store", ["memory", pytest.param("redis", marks=pytest.mark.redis)])
def test_state_can_be_read_and_reset_and_each_harness_starts_empty(store, redis_url):
    state_url = redis_url if store == "redis" else ""
    for run in range(2):  # the second run must not see the first one's state (a shared Redis)
        h = Harness(("counter", Counter()), state_url=state_url)
        try:
            h.publish(reading("m1", 4), reading("m1", 5), reading("m2", 3))
            h.join()
            state = h.state("counter")
            assert state.get("m1").value == 9 and state.get("m2").value == 3, f"run {run}"
            assert state.subjects() == ["m1", "m2"]
            assert h.published("test.total") == []
            h.publish(reading("m1", 2))
            h.join()
            assert [e.data for e in h.published("test.total")] == [{"total": 11}]
            assert h.reset_state("counter") == 2
            assert state.get("m1") is None and state.subjects() == []
            h.publish(reading("m1", 1))
            h.join()
            assert state.get("m1").value == 1
        finally:
            h.close()
        assert h.state("counter").subjects() == []  # its own namespace is deleted at close


def test_state_of_a_stateless_processor_says_how_to_declare_it(alcyon_harness):
    h = alcyon_harness(("raising", Raising()))
    with pytest.raises(Exception, match=r"stateful=True"):
        h.state("raiser")
    with pytest.raises(Exception, match=r"no processor 'nope' in this harness; running: raiser"):
        h.state("nope")


def test_derived_events_nobody_subscribes_to_are_captured(alcyon_harness, mode_url):
    h = alcyon_harness(("counter", Counter()), broker_url=mode_url)
    h.publish(reading("m1", 20))
    h.join()
    [total] = h.unrouted()
    assert total.type == "test.total" and total.data == {"total": 20}
    assert h.unrouted("test.reading") == []


def test_a_module_is_named_after_its_package_not_plugin():
    assert plugin_name(types.ModuleType("alcyon_power_budget.plugin")) == "power_budget"
    assert plugin_name(types.ModuleType("my_counter")) == "my_counter"
    import alcyon_geofence.plugin

    assert plugin_name(alcyon_geofence.plugin) == "geofence"  # its entry point's name
