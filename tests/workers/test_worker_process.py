"""`alcyon worker` as a real process: graceful SIGTERM without loss, metrics endpoint, JSON logs."""

from __future__ import annotations

import json
import signal
import time
import urllib.request

import pytest

from alcyon import Event

from .conftest import journal, wait_for

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow]


def test_sigterm_finishes_or_requeues_in_flight_work_without_loss(worker_env, start_worker, tmp_path):
    env, publisher = worker_env
    events = [Event(type="slow.job", source="test", subject=str(i), data={"n": i}) for i in range(120)]
    for event in events:
        publisher.publish(event)
    publisher.flush()

    first = start_worker(env, tmp_path / "worker1.log")
    wait_for(lambda: len(journal(env)) >= 10, 30, "the first worker to start processing")
    first.send_signal(signal.SIGTERM)
    stopped_at = time.monotonic()
    assert first.wait(timeout=15) == 0
    assert time.monotonic() - stopped_at < 2 + 5, "stops within the grace period"
    done_by_first = len(journal(env))
    assert done_by_first < len(events), "the test must interrupt work in progress"

    second = start_worker(env, tmp_path / "worker2.log")
    try:
        wait_for(lambda: set(journal(env)) >= {e.id for e in events}, 60, "every event to be processed")
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=15) == 0
    assert set(journal(env)) == {e.id for e in events}  # nothing lost, nothing foreign


def test_worker_serves_dramatiq_and_alcyon_metrics_and_logs_json(worker_env, start_worker, tmp_path):
    env, publisher = worker_env
    env = {**env, "SLOW_SECONDS": "0"}
    for i in range(30):
        publisher.publish(Event(type="slow.job", source="test", subject=str(i), data={"n": i}))
    publisher.flush()
    log_path = tmp_path / "worker.log"
    worker = start_worker(env, log_path)
    try:
        wait_for(lambda: len(journal(env)) >= 30, 30, "the events to be processed")
        url = f"http://127.0.0.1:{env['ALCYON_METRICS_PORT']}/metrics"
        text = urllib.request.urlopen(url, timeout=5).read().decode()
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=15)
    assert 'alcyon_events_processed_total{processor="slow",type="slow.job"} 30.0' in text
    assert 'dramatiq_messages_total{actor_name="slow",queue_name="alcyon.slow"}' in text
    assert "alcyon_event_lag_seconds_bucket" in text and "alcyon_handler_duration_seconds_bucket" in text
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    events = {line["event"] for line in lines}
    assert {"worker_started", "worker_stopping", "worker_stopped"} <= events
    done = [line for line in lines if line["event"] == "slow_done"]
    assert len(done) == 30
    # per-event context is bound on every line a handler logs
    assert all(line["processor"] == "slow" and line["event_type"] == "slow.job" and line["event_id"]
               for line in done)
    # the standard library's loggers (dramatiq's) are rendered as JSON too
    assert any(line.get("logger", "").startswith("dramatiq") for line in lines)
    assert env["ALCYON_BROKER_URL"].split("@")[0].split(":")[-1] not in log_path.read_text()
