"""`alcyon worker`'s /readyz and /livez, and fail-fast start-up, against real RabbitMQ and Redis processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest

from alcyon.services import check_state

from . import counter_plugin
from .conftest import ROOT, free_port, wait_for

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow]


def probe(env, path: str) -> tuple[int, str]:
    url = f"http://127.0.0.1:{env['ALCYON_METRICS_PORT']}{path}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError as error:
        return 0, str(error)


def rabbitmqctl(*args: str) -> str:
    return subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, text=True, timeout=120).stdout


def vhost_of(url: str) -> str:
    return url.rsplit("/", 1)[1] or "/"


@pytest.fixture
def broker_user(broker_url):
    """A RabbitMQ user of its own (so the test can lock it out without touching anyone else's connections)."""
    user, password = f"alcyon-health-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    rabbitmqctl("add_user", user, password)
    rabbitmqctl("set_permissions", "-p", vhost_of(broker_url), user, ".*", ".*", ".*")
    scheme, _, rest = broker_url.partition("://")
    yield user, password, f"{scheme}://{user}:{password}@{rest.rpartition('@')[2]}"
    subprocess.run(["rabbitmqctl", "delete_user", user], capture_output=True, timeout=120)


def close_connections_of(user: str) -> None:
    for line in rabbitmqctl("list_connections", "-q", "--no-table-headers", "pid", "user").splitlines():
        pid, _, owner = line.partition("\t")
        if owner.strip() == user:
            subprocess.run(["rabbitmqctl", "close_connection", pid.strip(), "health test"], capture_output=True,
                           timeout=120)


def test_ready_only_while_consumers_are_connected_live_throughout(worker_env, start_worker, broker_user, tmp_path):
    env, _ = worker_env
    user, password, url = broker_user
    env = {**env, "ALCYON_BROKER_URL": url}
    worker = start_worker(env, tmp_path / "worker.log")
    try:
        wait_for(lambda: probe(env, "/readyz")[0] == 200, 30, "the worker to become ready")
        assert probe(env, "/livez") == (200, "ok\n")

        rabbitmqctl("change_password", user, "locked-out-" + password)
        close_connections_of(user)
        wait_for(lambda: "consumer of alcyon.slow not connected" in probe(env, "/readyz")[1], 30,
                 "readiness to drop with the consumer's connection")
        status, body = probe(env, "/readyz")
        assert status == 503 and "publisher not connected to RabbitMQ" in body, body
        assert probe(env, "/livez")[0] == 200, "a broker outage is not cured by a restart: still live"
        assert worker.poll() is None

        rabbitmqctl("change_password", user, password)
        wait_for(lambda: probe(env, "/readyz")[0] == 200, 60, "readiness to come back after reconnection")
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
    assert password not in (tmp_path / "worker.log").read_text()


@pytest.mark.redis
def test_not_ready_while_the_state_store_is_down(make_worker_env, start_worker, tmp_path):
    port = free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    try:
        env, _ = make_worker_env(counter_plugin, ALCYON_STATE_URL=f"redis://127.0.0.1:{port}/0")
        wait_for(lambda: check_state(f"redis://127.0.0.1:{port}/0", timeout=1).ok, 10, "the private Redis to start")
        worker = start_worker(env, tmp_path / "worker.log")
        try:
            wait_for(lambda: probe(env, "/readyz")[0] == 200, 30, "the worker to become ready")
            redis.terminate()
            redis.wait(timeout=10)
            status, body = probe(env, "/readyz")
            assert status == 503 and f"Redis at redis://127.0.0.1:{port}/0: cannot reach Redis" in body, body
            assert probe(env, "/livez")[0] == 200
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
    finally:
        if redis.poll() is None:
            redis.kill()


def run_cli(env, *args: str, timeout: float = 30) -> tuple[int, str, float]:
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "alcyon.cli", *args], env=env, capture_output=True, text=True,
                            timeout=timeout, input="")
    return result.returncode, result.stderr, time.monotonic() - started


@pytest.mark.parametrize("command", [("worker",), ("ingest", "ais", "-i", "demo"), ("publish", "-")])
def test_wrong_broker_password_fails_fast_naming_service_url_and_fix(broker_url, command):
    scheme, _, rest = broker_url.partition("://")
    secret = f"not-{uuid.uuid4().hex[:10]}"
    url = f"{scheme}://guest:{secret}@{rest.rpartition('@')[2]}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ALCYON_BROKER_URL": url, "ALCYON_METRICS_PORT": "0",
           "ALCYON_LOAD_PLUGINS": "alcyon_geofence.plugin"}
    code, stderr, took = run_cli(env, *command)
    assert code == 2, stderr
    assert took < 15, f"{command[0]} took {took:.1f} s to fail"
    assert "RabbitMQ at" in stderr and "refused the login of user 'guest'" in stderr and "fix:" in stderr
    assert secret not in stderr


@pytest.mark.redis
def test_unreachable_redis_fails_worker_start_up(broker_url):
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ALCYON_BROKER_URL": broker_url, "ALCYON_METRICS_PORT": "0",
           "ALCYON_STATE_URL": f"redis://:hidden-pw@127.0.0.1:{port}/0",
           "ALCYON_LOAD_PLUGINS": "tests.workers.slow_plugin"}
    code, stderr, took = run_cli(env, "worker")
    assert code == 2 and took < 15
    assert f"Redis at redis://:***@127.0.0.1:{port}/0: cannot reach Redis" in stderr and "ALCYON_STATE_URL" in stderr
    assert "hidden-pw" not in stderr
