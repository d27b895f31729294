"""A plugin subscribed to test.derived (the type the core tests derive and nobody else consumes)."""

from __future__ import annotations

from alcyon import Processor, hookimpl

handled: list[str] = []


@hookimpl
def alcyon_processors(config):
    return [Processor(name="sink", subscribe=("test.derived",), handle=lambda event, ctx: handled.append(event.id))]
