"""End to end on RabbitMQ and Redis: `alcyon ingest ais` + `alcyon worker` give the embedded mode's alerts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import pika
import pytest
import redis

pytestmark = [pytest.mark.rabbitmq, pytest.mark.redis, pytest.mark.slow]

QUEUES = [f"alcyon.{p}{s}" for p in ("geofence", "notify") for s in ("", ".DQ", ".XQ")] + ["alcyon.source.ais.XQ"]


def alcyon(*args: str, env: dict, cwd, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "alcyon.cli", *args], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=open(cwd / f"{args[0]}.log", "ab"), text=True, **kwargs)


def alert_ids(path) -> dict[str, str]:
    if not path.exists():
        return {}
    return {a["id"]: a["type"] for a in map(json.loads, path.read_text().splitlines())}


def test_ingest_and_worker_yield_the_same_alerts_as_the_embedded_mode(tmp_path, broker_url):
    base = {**os.environ, "ALCYON_METRICS_PORT": "0"}
    embedded_dir, distributed_dir = tmp_path / "embedded", tmp_path / "distributed"
    embedded_dir.mkdir()
    distributed_dir.mkdir()
    done = subprocess.run([sys.executable, "-m", "alcyon.cli", "run", "--until-idle"], env=base, cwd=embedded_dir,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    expected = alert_ids(embedded_dir / "alerts.jsonl")
    assert len(expected) == 9

    state_url = "redis://127.0.0.1:6379/14"  # this test's own database: its keys are deleted before and after
    client = redis.Redis.from_url(state_url)
    exchange = f"alcyon.test.{uuid.uuid4().hex[:12]}"
    env = {**base, "ALCYON_BROKER_URL": broker_url, "ALCYON_STATE_URL": state_url, "ALCYON_EXCHANGE": exchange}

    def clean() -> None:
        for key in client.scan_iter(match="alcyon:state:*"):
            client.delete(key)
        connection = pika.BlockingConnection(pika.URLParameters(broker_url))
        channel = connection.channel()
        for queue in QUEUES:
            channel.queue_delete(queue)
        channel.exchange_delete(exchange)
        connection.close()

    clean()
    worker = alcyon("worker", env=env, cwd=distributed_dir)
    try:
        deadline = time.monotonic() + 30
        while "worker_started" not in (distributed_dir / "worker.log").read_text():
            assert time.monotonic() < deadline and worker.poll() is None, "the worker did not start"
            time.sleep(0.1)
        ingest = alcyon("ingest", "ais", "--input", "demo", "--until-idle", env=env, cwd=distributed_dir)
        assert ingest.wait(timeout=60) == 0, (distributed_dir / "ingest.log").read_text()[-2000:]
        deadline = time.monotonic() + 60
        while set(alert_ids(distributed_dir / "alerts.jsonl")) != set(expected) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)  # anything extra would show up now
        assert alert_ids(distributed_dir / "alerts.jsonl") == expected
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        clean()
