"""EventType.validate: the schema check every received event goes through."""

from __future__ import annotations

from collections import OrderedDict

import pytest

from alcyon import Event, EventType
from alcyon.errors import InvalidEvent

POSITION = EventType("test.position", fields={"lat": (int, float), "count": int, "flag": bool, "name": str})


def event(data: object) -> Event:
    return Event(type="test.position", source="tests", subject="s1", data=data)


GOOD = {"lat": 1.5, "count": 3, "flag": True, "name": "x"}


class Name(str):
    pass


@pytest.mark.parametrize("data", [
    GOOD,
    {**GOOD, "lat": 2},  # int where int or float is allowed
    {**GOOD, "name": Name("subclass")},  # a subclass of the declared type
    OrderedDict(GOOD),  # any mapping
])
def test_valid_data_passes(data: object) -> None:
    POSITION.validate(event(data))


@pytest.mark.parametrize(("data", "message"), [
    ({**GOOD, "count": True}, "data.count must be int, got bool"),  # bool is an int, but not here
    ({**GOOD, "lat": False}, "data.lat must be int or float, got bool"),
    ({**GOOD, "flag": 1}, "data.flag must be bool, got int"),
    ({k: v for k, v in GOOD.items() if k != "name"}, "data.name is missing"),
    ({**GOOD, "lat": "1.5"}, "data.lat must be int or float, got str"),
    ([1, 2], "data must be an object, got list"),
])
def test_invalid_data_names_the_field(data: object, message: str) -> None:
    with pytest.raises(InvalidEvent, match=message):
        POSITION.validate(event(data))


def test_a_handler_using_ctx_state_without_stateful_is_a_start_up_error_saying_the_fix():
    from alcyon import PluginError, Processor

    def handle(event, ctx):
        return ctx.state.apply([event], lambda value, e, stale: (value, []))

    def handle_batch(events, context):
        def helper():
            return context.state.get("x")
        return helper()

    for kwargs in ({"handle": handle}, {"handle_batch": handle_batch}):
        with pytest.raises(PluginError, match=r"processor 'meter': its handler uses ctx.state but the processor is not "
                                              r"stateful: declare it with Processor\(\.\.\., stateful=True\)"):
            Processor(name="meter", subscribe=("power.sample",), **kwargs)
        assert Processor(name="meter", subscribe=("power.sample",), stateful=True, **kwargs).stateful
    # an attribute named state on something else is not the context's
    Processor(name="meter", subscribe=("power.sample",), handle=lambda event, ctx: event.data.state)


def test_state_used_indirectly_without_stateful_fails_the_handler_with_the_fix(alcyon_harness):
    from alcyon import Event, Processor, hookimpl

    def use(ctx):
        return ctx.state.get("m1")

    class Indirect:
        @hookimpl
        def alcyon_processors(self, config):
            return [Processor(name="indirect", subscribe=("power.sample",), handle=lambda event, ctx: use(ctx))]

    h = alcyon_harness(("indirect", Indirect()))
    h.publish(Event(type="power.sample", source="t", subject="m1", data={}))
    with pytest.raises(Exception, match=r"processor 'indirect' uses ctx.state.get but is not stateful: declare it "
                                        r"with Processor\(\.\.\., stateful=True\)"):
        h.join()


def test_a_source_runs_each_input_in_its_own_thread_and_gets_back_what_failed():
    import threading
    import time

    from alcyon import SourceContext
    from alcyon.logs import get_logger

    stopping = threading.Event()
    ctx = SourceContext(source="s", config={}, log=get_logger("test"), publish=lambda e: None, stopping=stopping,
                        reject=lambda raw, reason, error: None)
    names, boom = [], RuntimeError("input b is gone")

    def ok() -> None:
        names.append(threading.current_thread().name)

    def fails() -> None:
        raise boom

    assert ctx.run_each({"in-a": ok, "in-b": fails}) == [boom] and names == ["in-a"]
    forever = threading.Event()
    threading.Timer(0.3, stopping.set).start()
    started = time.monotonic()
    assert ctx.run_each({"in-c": forever.wait}) == []  # returns once the source is stopping
    assert time.monotonic() - started < 5
    forever.set()
