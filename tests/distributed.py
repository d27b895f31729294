"""The shared steps of the end-to-end tests: the same input through `alcyon run` (embedded) and through
`alcyon ingest` + `alcyon worker` on RabbitMQ and Redis must give the same alerts."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pika
import redis


def alcyon(*args: str, env: dict, cwd: Path, **kwargs) -> subprocess.Popen:
    """An `alcyon` command in ``cwd``, its log lines in ``cwd/<command>.log``."""
    return subprocess.Popen([sys.executable, "-m", "alcyon.cli", *args], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=open(cwd / f"{args[0]}.log", "ab"), text=True, **kwargs)


def alerts(path: Path, prefix: str = "") -> dict[str, str]:
    """The alerts of a JSON-lines sink, id -> type (those whose type starts with ``prefix``)."""
    if not path.exists():
        return {}
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return {a["id"]: a["type"] for a in lines if a["type"].startswith(prefix)}


@contextmanager
def worker_on_rabbitmq(base: dict, cwd: Path, broker_url: str, state_url: str, queues: list[str],
                       start_timeout: float = 60) -> Iterator[dict]:
    """A started `alcyon worker` on an exchange of its own, queues and keyed state cleaned before and
    after; yields the environment for the other commands (`alcyon ingest`)."""
    client = redis.Redis.from_url(state_url)
    exchange = f"alcyon.test.{uuid.uuid4().hex[:12]}"
    env = {**base, "ALCYON_BROKER_URL": broker_url, "ALCYON_STATE_URL": state_url, "ALCYON_EXCHANGE": exchange}

    def clean() -> None:
        for key in client.scan_iter(match="alcyon:state:*"):
            client.delete(key)
        connection = pika.BlockingConnection(pika.URLParameters(broker_url))
        channel = connection.channel()
        for queue in queues:
            channel.queue_delete(queue)
        channel.exchange_delete(exchange)
        connection.close()

    clean()
    worker = alcyon("worker", env=env, cwd=cwd)
    try:
        deadline = time.monotonic() + start_timeout
        while "worker_started" not in (cwd / "worker.log").read_text():
            assert time.monotonic() < deadline and worker.poll() is None, "the worker did not start"
            time.sleep(0.1)
        yield env
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
        clean()


def wait_for_alerts(found: Callable[[], dict[str, str]], expected: dict[str, str], timeout: float) -> dict[str, str]:
    """``found()`` once it holds the expected alerts (or the timeout passed), a second later: anything
    extra would show up by then."""
    deadline = time.monotonic() + timeout
    while set(found()) != set(expected) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1)
    return found()
