"""`alcyon worker` as a real process: graceful SIGTERM without loss, metrics endpoint, JSON logs."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from alcyon import Event
from alcyon.config import load_config
from alcyon.plugins import PluginHost
from alcyon.runtime import Runtime

from . import slow_plugin

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def worker_env(broker_url, tmp_path):
    exchange = f"alcyon.test.{uuid.uuid4().hex[:12]}"
    env = {**os.environ, "ALCYON_BROKER_URL": broker_url, "ALCYON_EXCHANGE": exchange,
           "ALCYON_LOAD_PLUGINS": "tests.workers.slow_plugin", "PYTHONPATH": str(ROOT),
           "SLOW_JOURNAL": str(tmp_path / "journal"), "ALCYON_SHUTDOWN_GRACE_S": "2",
           "ALCYON_METRICS_PORT": str(free_port()), "ALCYON_WORKER_THREADS": "2",
           "ALCYON_METRICS_DIR": str(tmp_path / "metrics")}
    publisher_config = load_config(env={"ALCYON_BROKER_URL": broker_url, "ALCYON_EXCHANGE": exchange,
                                        "ALCYON_BATCH_MAX_EVENTS": "10"})
    host = PluginHost(publisher_config)
    host.register(slow_plugin, "slow_plugin")
    publisher = Runtime(publisher_config, host)
    with publisher.broker.admin_channel() as channel:
        for queue in ("alcyon.slow", "alcyon.slow.DQ", "alcyon.slow.XQ"):
            channel.queue_delete(queue)
    publisher.declare()
    yield env, publisher
    publisher.stop(grace_s=2)
    with publisher.broker.admin_channel() as channel:
        for queue in ("alcyon.slow", "alcyon.slow.DQ", "alcyon.slow.XQ"):
            channel.queue_delete(queue)
        channel.exchange_delete(exchange)


def start_worker(env, log_path: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "alcyon.cli", "worker"], env=env,
                            stdout=subprocess.DEVNULL, stderr=open(log_path, "ab"))


def journal(env) -> list[str]:
    path = Path(env["SLOW_JOURNAL"])
    return path.read_text().split() if path.exists() else []


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_sigterm_finishes_or_requeues_in_flight_work_without_loss(worker_env, tmp_path):
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


def test_worker_serves_dramatiq_and_alcyon_metrics_and_logs_json(worker_env, tmp_path):
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
