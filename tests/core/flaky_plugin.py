"""A processor that fails while `BROKEN` is true: for dead-letter replay tests."""

from __future__ import annotations

from alcyon import Processor, hookimpl

BROKEN = True
handled: list[str] = []


def _handle(event, ctx):
    if BROKEN:
        raise ValueError(f"cannot handle reading {event.data['value']}")
    handled.append(event.id)


@hookimpl
def alcyon_processors(config):
    return [Processor(name="flaky", subscribe=("test.reading",), handle=_handle, max_retries=0)]
