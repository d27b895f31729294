"""A stateful processor for crash tests: counts events per subject, one alert per event."""

from __future__ import annotations

import os
import time

from alcyon import Processor, hookimpl


def _handle_batch(events, ctx):
    def step(value, event, stale):
        n = (value or 0) + 1
        return n, [ctx.derive(event, "tick", "count.alert", {"subject": event.subject, "n": n})]

    derived = ctx.state.apply(events, step)
    time.sleep(float(os.environ.get("COUNTER_SLEEP_S", "0.02")))  # a window for the SIGKILL to land in
    return derived


@hookimpl
def alcyon_processors(config):
    return [Processor(name="counter", subscribe=("count.tick",), handle_batch=_handle_batch, stateful=True)]
