"""``alcyon run``: sources and processors in one process.

With no broker configured this is the embedded mode: a newcomer's first run, and the
default for a single small machine.  With a broker it runs the sources and the processors
of this process against RabbitMQ, like ``alcyon ingest`` plus ``alcyon worker``.
"""

from __future__ import annotations

import itertools
import sys
import threading
import time
from collections import Counter
from typing import Callable, Protocol, Sequence

from alcyon.config import Config
from alcyon.errors import AlcyonError, ConfigError
from alcyon.events import Event
from alcyon.logs import get_logger
from alcyon.metrics import CounterBuffer, metrics
from alcyon.plugins import PluginHost
from alcyon.processors import Source, SourceContext
from alcyon.runtime import Runtime

from .health import Health, serve
from .process import check_services_or_fail, prepare_process, stop_event_on_signals

log = get_logger("alcyon.run")


class RunObserver(Protocol):
    """Watches a run (``alcyon demo``'s display and summary): told when it starts, how far each
    source is, and when it ends (then it prints what a person should read)."""

    def started(self, runtime: Runtime, sources: Sequence[Source]) -> None: ...

    def progress(self, source: str, done: int, total: int) -> None: ...

    def finished(self, runtime: Runtime, seconds: float) -> None: ...


def start_sources(runtime: Runtime, sources: Sequence[Source], stopping: threading.Event,
                  inputs: Sequence[str] | None = None,
                  on_crash: Callable[[str], None] | None = None,
                  on_progress: Callable[[str, int, int], None] | None = None) -> list[threading.Thread]:
    """Start each source in its own thread; a source that crashes is logged (and ``on_crash(name)``
    called), the others go on.  ``on_progress(source, done, total)`` receives their ``ctx.progress``."""
    threads = []
    for source in sources:
        publish = CountedPublish(runtime, source)
        progress = {} if on_progress is None else {
            "progress": lambda done, total, name=source.name: on_progress(name, done, total)}
        ctx = SourceContext(source=source.name, config=runtime.host.plugin_config(source.plugin),
                            log=get_logger("alcyon.source", source=source.name), publish=publish.publish,
                            stopping=stopping, reject=runtime.rejecter(source),
                            inputs=tuple(inputs) if inputs else None, **progress)

        def run(source: Source = source, ctx: SourceContext = ctx, publish: CountedPublish = publish) -> None:
            try:
                source.run(ctx)
                ctx.log.info("source_finished")
            except Exception as exc:
                if isinstance(exc, AlcyonError):  # it says what is wrong: no traceback
                    ctx.log.error("source_failed", error=str(exc))
                else:
                    ctx.log.exception("source_crashed")
                if on_crash is not None:
                    on_crash(source.name)
            finally:
                publish.flush()

        thread = threading.Thread(target=run, name=f"source-{source.name}", daemon=True)
        thread.start()
        threads.append(thread)
    return threads


class CountedPublish(CounterBuffer):
    """A source's publish that also counts its events (``alcyon_source_events_total``, created at 0).

    ``publish`` is the hot path (tens of thousands of events a second): it only ticks an
    ``itertools.count`` (atomic under the GIL, ~50 ns); the shared flusher of
    :class:`~alcyon.metrics.CounterBuffer` adds the ticks to the counter once a second.
    """

    def __init__(self, runtime: Runtime, source: Source) -> None:
        super().__init__()
        self._counter = metrics().source_events.labels(source.name)
        self._ticks = itertools.count()
        self._flushes = 0  # ticks taken by flush() itself
        self._reported = 0
        publish, tick = runtime.publish, self._ticks.__next__

        def counted(event: Event) -> None:
            publish(event)
            tick()

        self.publish = counted

    def flush(self) -> None:
        with self._lock:
            total = next(self._ticks) - self._flushes
            self._flushes += 1
            added, self._reported = total - self._reported, total
        if added:
            self._counter.inc(added)


def select_sources(host: PluginHost, names: Sequence[str] | None) -> list[Source]:
    available = {s.name: s for s in host.sources()}
    unknown = [n for n in names or () if n not in available]
    if unknown:
        raise ConfigError(f"unknown source(s) {', '.join(unknown)}; installed: "
                          f"{', '.join(sorted(available)) or 'none'} (see `alcyon plugins`)")
    return list(available.values()) if names is None else [available[n] for n in names]


def run_all(config: Config, *, until_idle: bool = False, sources: Sequence[str] | None = None,
            threads: int | None = None, processors: bool = True, inputs: Sequence[str] | None = None,
            events: Sequence[Event] = (), host: PluginHost | None = None,
            observer: RunObserver | None = None) -> int:
    """Run sources (and, unless ``processors`` is false, every processor) until a signal, or idle.

    ``sources=None`` runs every source, ``()`` none; ``events`` are published first (``--input``).
    ``host`` is the process's plugin registry when the caller (the CLI) has already loaded it.
    ``observer`` watches the run and writes its summary (instead of the ``--until-idle`` one).
    Returns 1 when a source failed (its inputs unusable, e.g. RAPL not readable), once no source runs.
    """
    prepare_process(config)
    stopping = stop_event_on_signals()
    host = (host or PluginHost(config).load_entry_points()).validate()
    selected = select_sources(host, sources)
    check_services_or_fail(config)
    runtime = Runtime(config, host, processors=None if processors else ())
    health = Health(config, runtime)
    serve(config, health)
    if processors:
        runtime.start(threads)
    else:
        runtime.declare()
    log.info("run_started", mode="embedded" if config.embedded else "rabbitmq",
             processors=[p.name for p in runtime.processors], sources=[s.name for s in selected])
    tally = Tally()
    runtime.listeners.append(tally.count)
    if observer is not None:
        observer.started(runtime, selected)
    for event in events:
        runtime.publish(event)
    failed: list[str] = []

    def crashed(name: str) -> None:
        failed.append(name)
        health.source_crashed(name)

    source_threads = start_sources(runtime, selected, stopping, inputs, on_crash=crashed,
                                   on_progress=observer.progress if observer is not None else None)
    started = time.monotonic()
    while not stopping.is_set():
        if (until_idle or failed) and not any(t.is_alive() for t in source_threads):
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
    seconds = time.monotonic() - started
    log.info("run_stopped", seconds=round(seconds, 3))
    if observer is not None:
        observer.finished(runtime, seconds)
    elif until_idle:
        print(tally.summary(runtime, seconds))
    if failed:
        print(f"alcyon: error: source(s) {', '.join(failed)} failed (see the source_failed log line)", file=sys.stderr)
        return 1
    return 0


class Tally:
    """What a run published, for the summary a person reads at the end of ``--until-idle``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.published: Counter[str] = Counter()
        self.derived: Counter[str] = Counter()

    def count(self, event_type: str, events: Sequence[Event]) -> None:
        with self.lock:
            for event in events:
                (self.derived if "causeid" in event.extensions else self.published)[event.type] += 1

    def summary(self, runtime: Runtime, seconds: float) -> str:
        def listing(counts: Counter[str]) -> str:
            return ", ".join(f"{t} {n}" for t, n in sorted(counts.items())) or "none"

        lines = [f"alcyon run: {seconds:.1f} s, {'embedded' if runtime.config.embedded else 'rabbitmq'} mode",
                 f"  published {sum(self.published.values())} event(s): {listing(self.published)}",
                 f"  derived {sum(self.derived.values())} event(s): {listing(self.derived)}"]
        if runtime.config.embedded:
            dead = Counter({name: len(runtime.dead_letters.records(queue))
                            for name, queue in [*((p.name, p.queue) for p in runtime.processors),
                                                *((s.name, s.queue) for s in runtime.sources)]})
            rejected = sum(dead[s.name] for s in runtime.sources)
            failed = sum(dead[p.name] for p in runtime.processors)
            lines.append(f"  {rejected} input(s) rejected, kept as dead letters; {failed} event(s) dead-lettered "
                         "by processors (see the input_rejected and dead_lettered log lines)")
        if runtime.rejected:
            lines.append("  rejected by reason: " + ", ".join(
                f"{source} {reason} {n}" for (source, reason), n in sorted(runtime.rejected.items())))
        return "\n".join(lines)
