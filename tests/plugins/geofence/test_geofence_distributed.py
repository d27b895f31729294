"""End to end on RabbitMQ and Redis: `alcyon ingest ais` + `alcyon worker` give the embedded mode's alerts."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.distributed import alcyon, alerts, wait_for_alerts, worker_on_rabbitmq

pytestmark = [pytest.mark.rabbitmq, pytest.mark.redis, pytest.mark.slow]

QUEUES = [f"alcyon.{p}{s}" for p in ("geofence", "notify") for s in ("", ".DQ", ".XQ")] + ["alcyon.source.ais.XQ"]


def test_ingest_and_worker_yield_the_same_alerts_as_the_embedded_mode(tmp_path, broker_url):
    base = {**os.environ, "ALCYON_METRICS_PORT": "0"}
    embedded_dir, distributed_dir = tmp_path / "embedded", tmp_path / "distributed"
    embedded_dir.mkdir()
    distributed_dir.mkdir()
    done = subprocess.run([sys.executable, "-m", "alcyon.cli", "run", "--until-idle"], env=base, cwd=embedded_dir,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    expected = alerts(embedded_dir / "alerts.jsonl")
    assert len(expected) == 9

    state_url = "redis://127.0.0.1:6379/14"  # this test's own database: its keys are deleted before and after
    with worker_on_rabbitmq(base, distributed_dir, broker_url, state_url, QUEUES, start_timeout=30) as env:
        ingest = alcyon("ingest", "ais", "--input", "demo", "--until-idle", env=env, cwd=distributed_dir)
        assert ingest.wait(timeout=60) == 0, (distributed_dir / "ingest.log").read_text()[-2000:]
        assert wait_for_alerts(lambda: alerts(distributed_dir / "alerts.jsonl"), expected, 60) == expected
