"""notify on the distributed stack: real RabbitMQ (queues, retries, dead letters) and Redis (the ledger)."""

from __future__ import annotations

import uuid

import pytest
import redis

import alcyon_notify.plugin
from alcyon import Event, derive
from alcyon_notify.ledger import NAMESPACE

from .conftest import T0, read_jsonl

NOTIFY = ("notify", alcyon_notify.plugin)


@pytest.mark.rabbitmq
@pytest.mark.redis
def test_deliveries_survive_workers_with_the_ledger_in_redis(alcyon_harness, broker_url, redis_url, webhooks,
                                                             notify_config, jsonl_path):
    client = redis.Redis.from_url(redis_url)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"no Redis at {redis_url} ({exc}): start one or deselect with -m 'not redis'")
    run = uuid.uuid4().hex[:8]
    cause = Event(type="ais.position", source="test/ais", subject="227006760", id=f"pos-{run}", time=T0)
    entered = derive(cause, "geofence.entered:FR-MPA-12", "geofence.entered",
                     {"zone_id": "FR-MPA-12", "mmsi": "227006760"}, source="alcyon/geofence")
    smoke = derive(cause, "fire/smoke", "fire.alert", {"score": 0.8}, source="alcyon/fire")
    config = notify_config(webhooks={
        "flaky": {"url": webhooks.route("/flaky", 503, 503), "types": ["geofence.*"]},
        "strict": {"url": webhooks.route("/strict", then=403), "types": ["fire.*"]},
    }, ledger_ttl_s=3600)
    try:
        first = alcyon_harness(NOTIFY, broker_url=broker_url, state_url=redis_url, fail_fast=False,
                              plugin_config={"notify": config})
        first.publish(entered, smoke)
        first.join(timeout=30)
        assert [r.status for r in webhooks.requests("/flaky")] == [503, 503, 200]
        assert [r.json()["id"] for r in webhooks.delivered("/flaky")] == [entered.id]
        assert len(webhooks.requests("/strict")) == 1, "a 403 is not retried"
        [dead] = first.dead_letters("notify")
        assert dead.reason == "delivery_failed" and dead.event_id == smoke.id and dead.attempts == 1
        assert "webhook 'strict'" in dead.error and "HTTP 403" in dead.error
        key = f"alcyon:state:{NAMESPACE}:flaky:{entered.id}"
        assert 0 < client.pttl(key) <= 3_600_000, "the ledger lives in Redis, with its TTL"
        first.close()

        # Another worker process (fresh memory), same Redis: the redelivered alert is not sent again.
        second = alcyon_harness(NOTIFY, broker_url=broker_url, state_url=redis_url, fail_fast=False,
                              plugin_config={"notify": config})
        second.publish(entered)
        second.join(timeout=30)
        assert len(webhooks.requests("/flaky")) == 3
        assert sorted(line["id"] for line in read_jsonl(jsonl_path)) == sorted([entered.id, smoke.id])
        assert second.dead_letters("notify") == []
    finally:
        for alert_id in (entered.id, smoke.id):
            for key in client.scan_iter(match=f"alcyon:state:{NAMESPACE}:*:{alert_id}"):
                client.delete(key)
        client.close()
