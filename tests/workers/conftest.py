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
def make_worker_env(broker_url, tmp_path):
    """Factory: (worker environment, publisher runtime) for a test plugin module, on a private exchange."""
    made = []

    def make(plugin, **extra: str):
        exchange = f"alcyon.test.{uuid.uuid4().hex[:12]}"
        env = {**os.environ, "ALCYON_BROKER_URL": broker_url, "ALCYON_EXCHANGE": exchange,
               "ALCYON_LOAD_PLUGINS": plugin.__name__, "PYTHONPATH": str(ROOT),
               "SLOW_JOURNAL": str(tmp_path / "journal"), "ALCYON_SHUTDOWN_GRACE_S": "2",
               "ALCYON_METRICS_PORT": str(free_port()), "ALCYON_WORKER_THREADS": "2",
               "ALCYON_METRICS_DIR": str(tmp_path / "metrics"), **extra}
        publisher_config = load_config(env={"ALCYON_BROKER_URL": broker_url, "ALCYON_EXCHANGE": exchange,
                                            "ALCYON_BATCH_MAX_EVENTS": "10"})
        host = PluginHost(publisher_config)
        host.register(plugin, plugin.__name__.rpartition(".")[2])
        publisher = Runtime(publisher_config, host)
        delete_queues(publisher)
        publisher.declare()
        made.append((publisher, exchange))
        return env, publisher

    yield make
    for publisher, exchange in made:
        publisher.stop(grace_s=2)
        delete_queues(publisher)
        with publisher.broker.admin_channel() as channel:
            channel.exchange_delete(exchange)


@pytest.fixture
def worker_env(make_worker_env):
    return make_worker_env(slow_plugin)


#: Processors that the worker-process tests run (their queues are deleted before and after each test).
PROCESSORS = ("slow", "counter", "notify", "mixed_ordered", "mixed_free")


def delete_queues(runtime) -> None:
    with runtime.broker.admin_channel() as channel:
        for name in PROCESSORS:
            for suffix in ("", ".DQ", ".XQ"):
                channel.queue_delete(f"alcyon.{name}{suffix}")


@pytest.fixture
def start_worker():
    """Factory: start `alcyon worker` with ``env``, logging to ``log_path``; any still running is killed after."""
    started: list[subprocess.Popen] = []

    def start(env, log_path: Path) -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, "-m", "alcyon.cli", "worker"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=open(log_path, "ab"))
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


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


