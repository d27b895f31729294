"""RabbitMQ restarts while events flow: publishers and workers reconnect, nothing confirmed is lost."""

from __future__ import annotations

import signal
import subprocess
import threading
import time

import pytest

from alcyon import Event

from .conftest import journal, wait_for

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow]


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


def test_broker_restart_loses_nothing_published_with_a_confirm(worker_env, start_worker, tmp_path):
    env, publisher = worker_env
    env = {**env, "SLOW_SECONDS": "0.001"}
    worker = start_worker(env, tmp_path / "worker.log")
    events = [Event(type="slow.job", source="test", subject=str(i), data={"n": i}) for i in range(3000)]

    def publish_steadily() -> None:
        for i, event in enumerate(events):
            publisher.publish(event)
            if i % 50 == 0:
                time.sleep(0.02)

    thread = threading.Thread(target=publish_steadily)
    try:
        thread.start()
        wait_for(lambda: len(journal(env)) >= 300, 30, "events to flow before the restart")
        rabbitmqctl("stop_app")
        time.sleep(2)
        rabbitmqctl("start_app")
        thread.join(timeout=120)
        publisher.flush(timeout=120)  # every event confirmed by the broker, after the restart
        wait_for(lambda: set(journal(env)) >= {e.id for e in events}, 120, "every event to be processed")
    finally:
        subprocess.run(["rabbitmqctl", "start_app"], capture_output=True, timeout=120)
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    assert set(journal(env)) == {e.id for e in events}
