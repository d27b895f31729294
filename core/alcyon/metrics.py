"""alcyon's Prometheus metrics, in base units with bounded labels.

Labels are processor, event type and a short ``reason`` from a fixed set — never an event
id, a subject (MMSI, device) or an error message.  Metrics are created on first use:
``prometheus_client`` must be imported only after :func:`setup_multiprocess` has pointed
it at the directory dramatiq's Prometheus middleware also writes to, so that one endpoint
serves both.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import weakref
from typing import Any, Callable, TypeVar

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)

#: The bounded set of reasons an input can be rejected, failed or dead-lettered for.
REASONS = ("decode_error", "schema_error", "too_large", "handler_error", "retries_exhausted", "unknown_type",
           "delivery_failed")


def setup_multiprocess(directory: str = "") -> str:
    """Use (and clear) ``directory`` for multiprocess metrics; must run before prometheus_client is imported."""
    directory = directory or os.path.join(tempfile.gettempdir(), f"alcyon-metrics-{os.getpid()}")
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    os.environ["prometheus_multiproc_dir"] = directory
    import dramatiq.middleware.prometheus as dramatiq_prometheus

    dramatiq_prometheus.DB_PATH = directory
    return directory


def multiprocess_dir() -> str | None:
    """The multiprocess directory in use, if :func:`setup_multiprocess` ran in this process tree."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class _Metrics:
    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        self.published = Counter("alcyon_events_published_total", "Events published, by type.", ["type"])
        self.published_batches = Histogram("alcyon_published_batch_events", "Events per published broker message.",
                                           ["type"], buckets=BATCH_BUCKETS)
        self.processed = Counter("alcyon_events_processed_total", "Events handled successfully.",
                                 ["processor", "type"])
        self.failed = Counter("alcyon_events_failed_total", "Events whose handling failed (each attempt).",
                              ["processor", "type", "reason"])
        self.derived = Counter("alcyon_events_derived_total", "Events derived by processors.", ["processor", "type"])
        self.dead_letters = Counter("alcyon_dead_letters_total", "Inputs dead-lettered, by reason.",
                                    ["processor", "reason"])
        self.duration = Histogram("alcyon_handler_duration_seconds", "Time in a handler call (one batch).",
                                  ["processor"], buckets=LATENCY_BUCKETS)
        self.lag = Histogram("alcyon_event_lag_seconds", "Now minus the time of the oldest event of each handled "
                             "batch, when its handler finishes (one observation per batch).",
                             ["processor"], buckets=LATENCY_BUCKETS)
        self.batch = Histogram("alcyon_handled_batch_events", "Events per handled broker message.", ["processor"],
                               buckets=BATCH_BUCKETS)
        self.unrouted = Counter("alcyon_unrouted_events_total", "Events no processor subscribes to (kept in "
                                "alcyon.unrouted).", ["type"])
        self.unrouted_kept = Gauge("alcyon_unrouted_messages", "Messages waiting in the alcyon.unrouted queue.",
                                   multiprocess_mode="max")
        self.rejected = Counter("alcyon_messages_rejected_total", "Broker messages rejected before any handler.",
                                ["queue", "reason"])
        self.pauses = Counter("alcyon_ordered_pauses_total", "Times an ordered processor held its queue to retry "
                              "a transient failure in place (a service away), by processor.", ["processor"])
        self.paused = Gauge("alcyon_ordered_paused", "1 while an ordered processor holds its queue on a transient "
                            "failure.", ["processor"], multiprocess_mode="max")


T = TypeVar("T")


def created_once(factory: Callable[[], T]) -> Callable[[], T]:
    """``factory()`` called on first use only, whichever thread gets there first.

    Metrics must be created once per process (a second registration fails) and lazily
    (after :func:`setup_multiprocess`); plugins use this for their own metrics too.
    """
    made: list[T] = []
    lock = threading.Lock()

    def get() -> T:
        if not made:
            with lock:
                if not made:
                    made.append(factory())
        return made[0]

    return get


#: The process's alcyon metrics.
metrics = created_once(_Metrics)


class CounterBuffer:
    """Counter increments kept in memory and added to their Prometheus counters once a second.

    A multiprocess counter takes a lock and checks the process id on every ``inc`` (~3 µs):
    a loop counting each of tens of thousands of items per second (a source's decoded lines)
    counts here instead.  A shared daemon thread flushes every live buffer, so counts also reach
    Prometheus while the loop waits for input; call :meth:`flush` when the loop ends.
    """

    #: Seconds between background flushes.
    FLUSH_EVERY_S = 1.0

    def __init__(self) -> None:
        self._pending: dict[Any, float] = {}
        self._lock = threading.Lock()
        _Flusher.register(self)

    def add(self, counter: Any, amount: float = 1) -> None:
        """Add ``amount`` to ``counter`` (a labelled Prometheus counter) at the next flush."""
        with self._lock:
            pending = self._pending
            pending[counter] = pending.get(counter, 0) + amount

    def flush(self) -> None:
        """Add every pending amount to its counter now."""
        with self._lock:
            pending, self._pending = self._pending, {}
        for counter, amount in pending.items():
            counter.inc(amount)


class _Flusher:
    """The one daemon thread that flushes every live :class:`CounterBuffer` of the process."""

    _lock = threading.Lock()
    _buffers: weakref.WeakSet[CounterBuffer] = weakref.WeakSet()
    _thread: threading.Thread | None = None

    @classmethod
    def register(cls, buffer: CounterBuffer) -> None:
        with cls._lock:
            cls._buffers.add(buffer)
            if cls._thread is None or not cls._thread.is_alive():
                cls._thread = threading.Thread(target=cls._run, name="alcyon-counter-flush", daemon=True)
                cls._thread.start()

    @classmethod
    def _run(cls) -> None:
        while True:
            time.sleep(CounterBuffer.FLUSH_EVERY_S)
            with cls._lock:
                buffers = list(cls._buffers)
            for buffer in buffers:
                buffer.flush()
            del buffers  # no strong reference kept while sleeping: a dropped buffer can go


def registry() -> Any:
    """The registry to expose: the multiprocess collector when enabled, else the default one."""
    import prometheus_client
    from prometheus_client import multiprocess

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        reg = prometheus_client.CollectorRegistry()
        multiprocess.MultiProcessCollector(reg)
        return reg
    return prometheus_client.REGISTRY


def serve(host: str, port: int) -> tuple[Any, threading.Thread] | None:
    """Serve ``/metrics`` on ``host:port`` in a daemon thread; port 0 serves nothing."""
    if not port:
        return None
    from prometheus_client import start_http_server

    return start_http_server(port, addr=host, registry=registry())


def render() -> str:
    """The current exposition text (what a scrape would get)."""
    from prometheus_client import generate_latest

    return generate_latest(registry()).decode()
