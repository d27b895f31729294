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

from dramatiq.middleware.prometheus import Prometheus as _DramatiqPrometheus

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)

#: The bounded set of reasons an input can be rejected, failed or dead-lettered for.
REASONS = ("decode_error", "schema_error", "too_large", "handler_error", "retries_exhausted", "unknown_type",
           "delivery_failed")


_set_up: str | None = None


def setup_multiprocess(directory: str = "") -> str:
    """Use (and clear) ``directory`` for multiprocess metrics; must run before prometheus_client is imported.

    Once per process: a second call (with no directory, or the same one) keeps the files of the
    metrics created since.
    """
    global _set_up
    if _set_up is not None and directory in ("", _set_up):
        return _set_up
    directory = directory or os.path.join(tempfile.gettempdir(), f"alcyon-metrics-{os.getpid()}")
    _set_up = directory
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
        self.threads = Gauge("alcyon_worker_threads", "Handler threads of this worker process (saturation: "
                             "rate(alcyon_handler_duration_seconds_sum) / this).", multiprocess_mode="livesum")
        self.source_events = Counter("alcyon_source_events_total", "Events published by a source (a source whose "
                                     "rate stays at zero has gone silent).", ["source"])
        self.pauses = Counter("alcyon_ordered_pauses_total", "Times an ordered processor held its queue to retry "
                              "a transient failure in place (a service away), by processor.", ["processor"])
        self.paused = Gauge("alcyon_ordered_paused", "1 while an ordered processor holds its queue on a transient "
                            "failure.", ["processor"], multiprocess_mode="max")


T = TypeVar("T")

#: Reasons an event's handling fails or is given up for, once a handler got it.
FAILURE_REASONS = ("handler_error", "schema_error", "retries_exhausted", "delivery_failed")
#: Reasons a broker message is rejected before any handler.
REJECT_REASONS = ("decode_error", "schema_error", "too_large", "unknown_type")


def zero_series(processors: Any, event_types: Any, *, threads: int) -> None:
    """Create the series a healthy worker has not incremented yet, at zero.

    A counter series that appears at its first increment is invisible to ``increase()`` and
    shows "No data" on a healthy system: every (processor, reason), and every (processor,
    type, reason) for the registered event types a processor subscribes to, starts at 0.
    """
    from .topics import matches

    m = metrics()
    m.threads.set(threads)
    for p in processors:
        for reason in REASONS:
            m.dead_letters.labels(p.name, reason)
        for reason in REJECT_REASONS:
            m.rejected.labels(p.queue, reason)
        m.duration.labels(p.name)
        m.lag.labels(p.name)
        m.batch.labels(p.name)
        for event_type in event_types:
            if any(matches(pattern, event_type) for pattern in p.subscribe):
                m.processed.labels(p.name, event_type)
                for reason in FAILURE_REASONS:
                    m.failed.labels(p.name, event_type, reason)


class DramatiqMetrics(_DramatiqPrometheus):
    """dramatiq's Prometheus middleware without its series that are wrong on alcyon's brokers.

    Kept: ``dramatiq_messages_total``, ``dramatiq_message_errors_total``,
    ``dramatiq_messages_inprogress`` and ``dramatiq_message_duration_milliseconds``. Not
    exported: ``dramatiq_message_retries_total`` (counted at the enqueue to the delay queue
    and again at its return: twice per retry; see ``alcyon_events_failed_total``),
    ``dramatiq_message_rejects_total`` (alcyon's consumers dead-letter and acknowledge, they
    never nack: see ``alcyon_dead_letters_total``) and
    ``dramatiq_delayed_messages_inprogress`` (incremented in the process that delays a
    message and decremented in whichever process handles it after the delay: phantom
    values of both signs).
    """

    def after_nack(self, broker: Any, message: Any) -> None:
        pass

    def after_enqueue(self, broker: Any, message: Any, delay: Any) -> None:
        pass

    def before_delay_message(self, broker: Any, message: Any) -> None:
        pass


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
        # CPU and memory of this process (the one serving: alcyon's processes are single, threaded)
        prometheus_client.ProcessCollector(registry=reg)
        return reg
    return prometheus_client.REGISTRY


def render() -> str:
    """The current exposition text (what a scrape would get)."""
    from prometheus_client import generate_latest

    return generate_latest(registry()).decode()
