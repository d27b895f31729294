"""End to end on RabbitMQ and Redis: `alcyon ingest camera` + `alcyon worker` give the embedded mode's alerts."""

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

from ...conftest import REDIS_URL
from .conftest import FRAMES

pytestmark = [pytest.mark.rabbitmq, pytest.mark.redis, pytest.mark.slow]

QUEUES = [f"alcyon.{p}{s}" for p in ("fire-detect", "fire-alert", "notify") for s in ("", ".DQ", ".XQ")] \
    + ["alcyon.source.camera.XQ"]

CONFIG = f"""
[plugins]
disabled = ["geofence"]

[plugins.fire]
end_after = 3

[plugins.fire.cameras.tower-1]
input = "dir:{FRAMES}"
azimuth = 135.0
fov = 54.2
"""


def alcyon(*args: str, env: dict, cwd, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "alcyon.cli", *args], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=open(cwd / f"{args[0]}.log", "ab"), text=True, **kwargs)


def fire_alerts(path) -> dict[str, str]:
    if not path.exists():
        return {}
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return {a["id"]: a["type"] for a in lines if a["type"].startswith("fire.")}


def test_ingest_camera_and_worker_yield_the_same_alerts_as_the_embedded_mode(tmp_path, broker_url):
    base = {**os.environ, "ALCYON_METRICS_PORT": "0"}
    embedded_dir, distributed_dir = tmp_path / "embedded", tmp_path / "distributed"
    for directory in (embedded_dir, distributed_dir):
        directory.mkdir()
        (directory / "alcyon.toml").write_text(CONFIG)
    done = subprocess.run([sys.executable, "-m", "alcyon.cli", "run", "--until-idle"], env=base, cwd=embedded_dir,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    expected = fire_alerts(embedded_dir / "alerts.jsonl")
    assert sorted(expected.values()) == ["fire.alert", "fire.alert.end"], done.stdout + done.stderr[-3000:]

    client = redis.Redis.from_url(REDIS_URL)
    exchange = f"alcyon.test.{uuid.uuid4().hex[:12]}"
    env = {**base, "ALCYON_BROKER_URL": broker_url, "ALCYON_STATE_URL": REDIS_URL, "ALCYON_EXCHANGE": exchange}

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
        deadline = time.monotonic() + 60
        while "worker_started" not in (distributed_dir / "worker.log").read_text():
            assert time.monotonic() < deadline and worker.poll() is None, "the worker did not start"
            time.sleep(0.1)
        ingest = alcyon("ingest", "camera", "--until-idle", env=env, cwd=distributed_dir)
        assert ingest.wait(timeout=120) == 0, (distributed_dir / "ingest.log").read_text()[-2000:]
        deadline = time.monotonic() + 120
        while set(fire_alerts(distributed_dir / "alerts.jsonl")) != set(expected) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)  # anything extra would show up now
        assert fire_alerts(distributed_dir / "alerts.jsonl") == expected, \
            (distributed_dir / "worker.log").read_text()[-3000:]
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
        clean()
