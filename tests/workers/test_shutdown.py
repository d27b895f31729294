"""SIGTERM stops a worker within shutdown_grace_s whatever mix of processors it runs; nothing is lost."""

from __future__ import annotations

import signal
import time

import pytest

from alcyon import Event

from . import mixed_plugin
from .conftest import journal, wait_for

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow]

GRACE_S = 3.0
#: Closing connections and the interpreter's exit, on top of the grace (a loaded 2-core machine).
EXIT_ALLOWANCE_S = 2.0


def test_ordered_and_concurrent_processors_stop_within_the_grace(make_worker_env, start_worker, tmp_path):
    """Handlers slower than the grace in both the ordered thread and the pool: the worker still exits in time."""
    env, publisher = make_worker_env(mixed_plugin, ALCYON_SHUTDOWN_GRACE_S=str(GRACE_S), SLOW_SECONDS="1.5",
                                     ALCYON_WORKER_THREADS="3")
    events = [Event(type="mixed.job", source="test", subject=str(i), data={"n": i}) for i in range(12)]
    for event in events:
        publisher.publish(event)
    publisher.flush()

    worker = start_worker(env, tmp_path / "worker1.log")
    wait_for(lambda: any(line.startswith("mixed_ordered:") for line in journal(env)), 30,
             "both processors to be busy")
    worker.send_signal(signal.SIGTERM)
    stopped_at = time.monotonic()
    assert worker.wait(timeout=30) == 0
    took = time.monotonic() - stopped_at
    assert took < GRACE_S + EXIT_ALLOWANCE_S, f"stopped in {took:.1f} s with shutdown_grace_s={GRACE_S}"
    expected = {f"{p}:{e.id}" for p in ("mixed_ordered", "mixed_free") for e in events}
    assert set(journal(env)) < expected, "the test must interrupt work in progress"

    # what the first worker did not finish comes back to the next one
    second = start_worker({**env, "SLOW_SECONDS": "0"}, tmp_path / "worker2.log")
    try:
        wait_for(lambda: set(journal(env)) >= expected, 60, "every event to be handled by both processors")
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0
    assert set(journal(env)) == expected
