"""A broker password never appears in a log line or an error, connection failures included."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .conftest import ROOT

SECRET = "Wr0ngS3cretPassw0rd"


def run_cli(*args: str, url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ALCYON_BROKER_URL": url, "ALCYON_METRICS_PORT": "0", "PYTHONPATH": str(ROOT),
           "ALCYON_LOAD_PLUGINS": "tests.workers.slow_plugin"}
    return subprocess.run([sys.executable, "-m", "alcyon.cli", *args], env=env, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.rabbitmq
@pytest.mark.parametrize("url,expected", [
    (f"amqp://guest:{SECRET}@127.0.0.1:5672/", "refused the login of user 'guest'"),  # wrong password, real broker
    (f"amqp://guest:{SECRET}@127.0.0.1:1/", "nothing accepts connections on 127.0.0.1:1"),  # nothing listening
])
def test_connection_failures_never_show_the_password(url, expected):
    result = run_cli("worker", url=url)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert expected in output
    assert SECRET not in output


def test_config_check_redacts_urls():
    result = run_cli("config", "check", url=f"amqp://alcyon:{SECRET}@rabbit:5672/")
    assert result.returncode == 0, result.stderr
    assert "amqp://alcyon:***@rabbit:5672/" in result.stdout and SECRET not in result.stdout + result.stderr
