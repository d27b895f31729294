"""A worker SIGKILLed mid-stream: after a restart every alert reaches the webhook, no state update is
lost or applied twice (real RabbitMQ, real Redis, real HTTP)."""

from __future__ import annotations

import collections
import signal
import time
import uuid

import pytest
import redis

from alcyon import Event, derived_id
from alcyon.state import KEY_PREFIX

from ..plugins.notify.conftest import WebhookServer
from .conftest import wait_for

pytestmark = [pytest.mark.rabbitmq, pytest.mark.redis, pytest.mark.slow]


def test_sigkill_mid_stream_loses_nothing_and_applies_nothing_twice(worker_env, start_worker, tmp_path, redis_url):
    env, publisher = worker_env
    run = uuid.uuid4().hex[:8]
    server = WebhookServer()
    server.thread.start()
    server.route("/alerts")
    env = {**env, "ALCYON_LOAD_PLUGINS": "counter=tests.workers.counter_plugin,notify=alcyon_notify.plugin",
           "ALCYON_STATE_URL": redis_url, "ALCYON_NOTIFY__WEBHOOKS": server.url("/alerts"),
           "ALCYON_NOTIFY__JSONL_PATH": "", "ALCYON_NOTIFY__SUBSCRIBE": "count.alert",
           "ALCYON_NOTIFY__RETRY_MIN_BACKOFF_MS": "200", "ALCYON_NOTIFY__RETRY_MAX_BACKOFF_MS": "5000",
           "ALCYON_NOTIFY__MAX_RETRIES": "40"}
    subjects = [f"{run}-{k}" for k in range(10)]
    events = [Event(type="count.tick", source="test", subject=subjects[i % 10], data={"i": i}) for i in range(500)]
    expected = {derived_id(e.id, "counter/tick") for e in events}
    client = redis.Redis.from_url(redis_url)

    def received() -> list[str]:
        return [r.json()["id"] for r in server.delivered("/alerts")]

    try:
        first = start_worker(env, tmp_path / "worker1.log")  # declares its queues and bindings
        wait_for(lambda: "worker_started" in (tmp_path / "worker1.log").read_text(), 30, "the worker to start")
        for event in events:
            publisher.publish(event)
        publisher.flush()
        wait_for(lambda: len(received()) >= 60, 60, "alerts to flow before the kill")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        assert len(set(received())) < len(expected), "the kill must land mid-stream"

        second = start_worker(env, tmp_path / "worker2.log")
        try:
            wait_for(lambda: set(received()) >= expected, 180, "every alert to reach the webhook")
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=30)

        ids = received()
        assert set(ids) == expected
        repeats = sum(n - 1 for n in collections.Counter(ids).values())
        # A repeat is only possible for an alert whose POST was in flight at the kill (the sink dedupes by id).
        assert repeats <= 8, f"{repeats} repeated deliveries"
        # State: each subject counted each of its events exactly once...
        from alcyon.state import KeyedState, open_state_store

        state = KeyedState(open_state_store(redis_url), "counter")
        assert {s: state.get(s).value for s in subjects} == {s: 50 for s in subjects}
        # ...and the alerts carry each count 1..50 exactly once per subject.
        counts = collections.defaultdict(set)
        for r in server.delivered("/alerts"):
            counts[r.json()["data"]["subject"]].add(r.json()["data"]["n"])
        assert all(counts[s] == set(range(1, 51)) for s in subjects)
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        for key in client.scan_iter(match=f"{KEY_PREFIX}:*{run}*"):
            client.delete(key)


def test_sigkills_with_a_slow_webhook_give_each_alert_once_to_the_jsonl_sink(worker_env, start_worker, tmp_path,
                                                                           redis_url):
    # The ledger once recorded every sink of an alert only after the last one returned: a worker killed
    # while a slow webhook was busy had written the alert to the JSONL file unrecorded, and its retry
    # wrote it again (44 repeats in 584 lines for 11 kills).
    env, publisher = worker_env
    run = uuid.uuid4().hex[:8]
    server = WebhookServer()
    server.thread.start()
    server.route("/alerts", delay_s=0.5)
    jsonl = tmp_path / "alerts.jsonl"
    env = {**env, "ALCYON_LOAD_PLUGINS": "counter=tests.workers.counter_plugin,notify=alcyon_notify.plugin",
           "ALCYON_STATE_URL": redis_url, "ALCYON_NOTIFY__WEBHOOKS": server.url("/alerts"),
           "ALCYON_NOTIFY__JSONL_PATH": str(jsonl), "ALCYON_NOTIFY__SUBSCRIBE": "count.alert",
           "ALCYON_NOTIFY__RETRY_MIN_BACKOFF_MS": "500", "ALCYON_NOTIFY__RETRY_MAX_BACKOFF_MS": "5000",
           "ALCYON_NOTIFY__MAX_RETRIES": "60", "ALCYON_WORKER_THREADS": "4",
           "COUNTER_SLEEP_S": "0"}
    events = [Event(type="count.tick", source="test", subject=f"{run}-{i % 10}", data={"i": i}) for i in range(60)]
    expected = {derived_id(e.id, "counter/tick") for e in events}
    client = redis.Redis.from_url(redis_url)

    from alcyon.state import open_state_store
    from alcyon_notify.ledger import DeliveryLedger

    ledger = DeliveryLedger(open_state_store(redis_url), ttl_s=60, lease_s=60)

    def lines() -> list[str]:
        import json

        return [json.loads(line)["id"] for line in jsonl.read_text().splitlines()] if jsonl.exists() else []

    def posted() -> list[str]:
        return [r.json()["id"] for r in server.requests("/alerts")]

    try:
        kills = 0
        for kills in range(1, 12):
            log = tmp_path / f"worker{kills}.log"
            worker = start_worker(env, log)  # the first declares its queues
            wait_for(lambda log=log: "worker_started" in log.read_text(), 30, "the worker to start")
            if kills == 1:
                for event in events:
                    publisher.publish(event)
                publisher.flush()
            wait_for(lambda kills=kills: len(server.requests("/alerts")) >= 4 * kills, 30,
                     "deliveries before the kill")
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
        assert set(lines()) < expected, "the kills must land mid-stream"
        last = start_worker(env, tmp_path / "last.log")
        try:
            # Settled, not only seen: an alert cut by a kill is retried once its claim's lease (~1 min) ends.
            wait_for(lambda: all(ledger.delivered(sink, alert) for sink in ("jsonl", "webhook1")
                                 for alert in expected), 240, "every alert settled in both sinks")
            time.sleep(2)  # a late repeat would show now
        finally:
            last.send_signal(signal.SIGTERM)
            last.wait(timeout=30)
        counted = collections.Counter(lines())
        assert set(counted) == expected and max(counted.values()) == 1, \
            f"{sum(counted.values()) - len(counted)} repeated JSONL lines after {kills} kills"
        # The webhook may see again only a POST cut by a kill (its receiver had it; no reply came back):
        # at most one per delivering thread per kill, each with the same Idempotency-Key.
        webhook = collections.Counter(posted())
        assert set(webhook) == expected
        assert sum(webhook.values()) - len(webhook) <= kills * 4
        assert all(r.headers["Idempotency-Key"] == r.json()["id"] for r in server.requests("/alerts"))
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        for key in client.scan_iter(match=f"{KEY_PREFIX}:*{run}*"):
            client.delete(key)
