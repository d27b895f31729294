"""``alcyon run``: sources and processors in one process.

With no broker configured this is the embedded mode: a newcomer's first run, and the
default for a single small machine.  With a broker it runs the sources and the processors
of this process against RabbitMQ, like ``alcyon ingest`` plus ``alcyon worker``.
"""

from __future__ import annotations

import threading
import time
from typing import Sequence

from alcyon.config import Config
from alcyon.logs import get_logger
from alcyon.plugins import PluginHost
from alcyon.processors import Source, SourceContext
from alcyon.runtime import Runtime

from .process import prepare_process, serve_metrics, stop_event_on_signals

log = get_logger("alcyon.run")


def start_sources(runtime: Runtime, sources: Sequence[Source], stopping: threading.Event) -> list[threading.Thread]:
    """Start each source in its own thread; a source that crashes is logged, the others go on."""
    threads = []
    for source in sources:
        ctx = SourceContext(source=source.name, config=runtime.host.plugin_config(source.plugin),
                            log=get_logger("alcyon.source", source=source.name), publish=runtime.publish,
                            stopping=stopping)

        def run(source: Source = source, ctx: SourceContext = ctx) -> None:
            try:
                source.run(ctx)
                ctx.log.info("source_finished")
            except Exception:
                ctx.log.exception("source_crashed")

        thread = threading.Thread(target=run, name=f"source-{source.name}", daemon=True)
        thread.start()
        threads.append(thread)
    return threads


def run_all(config: Config, *, until_idle: bool = False, sources: Sequence[str] | None = None,
            threads: int | None = None) -> int:
    prepare_process(config)
    stopping = stop_event_on_signals()
    host = PluginHost(config).load_entry_points().validate()
    runtime = Runtime(config, host)
    serve_metrics(config)
    runtime.start(threads)
    selected = [s for s in host.sources() if not sources or s.name in sources]
    log.info("run_started", mode="embedded" if config.embedded else "rabbitmq",
             processors=[p.name for p in runtime.processors], sources=[s.name for s in selected])
    source_threads = start_sources(runtime, selected, stopping)
    started = time.monotonic()
    while not stopping.is_set():
        if until_idle and not any(t.is_alive() for t in source_threads):
            if config.embedded:
                runtime.join(timeout=300)
            else:
                runtime.flush()
            break
        stopping.wait(0.2)
    stopping.set()
    for thread in source_threads:
        thread.join(timeout=config.shutdown_grace_s)
    runtime.stop()
    log.info("run_stopped", seconds=round(time.monotonic() - started, 3), dead_letters=_dead_letter_count(runtime))
    return 0


def _dead_letter_count(runtime: Runtime) -> int | None:
    if runtime.config.embedded:
        return sum(len(runtime.dead_letters.records(p.queue)) for p in runtime.processors)
    return None
