"""A plugin for worker-process tests: slow handler that journals every event it finishes."""

from __future__ import annotations

import os
import time

from alcyon import Processor, hookimpl


def _handle(event, ctx):
    time.sleep(float(os.environ.get("SLOW_SECONDS", "0.05")))
    ctx.log.info("slow_done", n=event.data["n"])
    with open(os.environ["SLOW_JOURNAL"], "a") as journal:
        journal.write(event.id + "\n")


@hookimpl
def alcyon_processors(config):
    return [Processor(name="slow", subscribe=("slow.job",), handle=_handle)]
