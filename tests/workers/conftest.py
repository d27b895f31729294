"""Fixtures for tests that run `alcyon worker` as a real process against RabbitMQ."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from alcyon.config import load_config
from alcyon.plugins import PluginHost
from alcyon.runtime import Runtime

from . import slow_plugin

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


