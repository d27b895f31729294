"""End to end on RabbitMQ and Redis: `alcyon ingest camera` + `alcyon worker` give the embedded mode's alerts."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.distributed import alcyon, alerts, wait_for_alerts, worker_on_rabbitmq

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


def test_ingest_camera_and_worker_yield_the_same_alerts_as_the_embedded_mode(tmp_path, broker_url):
    base = {**os.environ, "ALCYON_METRICS_PORT": "0"}
    embedded_dir, distributed_dir = tmp_path / "embedded", tmp_path / "distributed"
    for directory in (embedded_dir, distributed_dir):
        directory.mkdir()
        (directory / "alcyon.toml").write_text(CONFIG)
    done = subprocess.run([sys.executable, "-m", "alcyon.cli", "run", "--until-idle"], env=base, cwd=embedded_dir,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    expected = alerts(embedded_dir / "alerts.jsonl", "fire.")
    assert sorted(expected.values()) == ["fire.alert", "fire.alert.end"], done.stdout + done.stderr[-3000:]

    with worker_on_rabbitmq(base, distributed_dir, broker_url, REDIS_URL, QUEUES) as env:
        ingest = alcyon("ingest", "camera", "--until-idle", env=env, cwd=distributed_dir)
        assert ingest.wait(timeout=120) == 0, (distributed_dir / "ingest.log").read_text()[-2000:]
        found = wait_for_alerts(lambda: alerts(distributed_dir / "alerts.jsonl", "fire."), expected, 120)
        assert found == expected, (distributed_dir / "worker.log").read_text()[-3000:]
