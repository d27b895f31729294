"""A plugin for shutdown tests: one ordered and one concurrent processor, both slow, journalling what they finish."""

from __future__ import annotations

import os
import time

from alcyon import Processor, hookimpl


def _handle(event, ctx):
    time.sleep(float(os.environ.get("SLOW_SECONDS", "0.05")))
    with open(os.environ["SLOW_JOURNAL"], "a") as journal:
        journal.write(f"{ctx.processor}:{event.id}\n")


@hookimpl
def alcyon_processors(config):
    return [Processor(name="mixed_ordered", subscribe=("mixed.job",), handle=_handle, ordered=True),
            Processor(name="mixed_free", subscribe=("mixed.job",), handle=_handle)]
