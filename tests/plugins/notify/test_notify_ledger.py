"""The delivery ledger on both state stores, and concurrent deliveries of the same alert."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Iterator

import pytest
import redis

from alcyon.state import MemoryStateStore, RedisStateStore, StateStore
from alcyon_notify.errors import DeliveryInProgress
from alcyon_notify.ledger import NAMESPACE, Claim, DeliveryLedger
from alcyon_notify.notifier import Notifier
from alcyon_notify.plugin import build_sinks
from alcyon_notify.settings import OPTIONS, parse

from .conftest import alert


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def store(request: pytest.FixtureRequest) -> Iterator[StateStore]:
    if request.param == "memory":
        yield MemoryStateStore()
        return
    url = request.getfixturevalue("redis_url")
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"no Redis at {url} ({exc}): start one or deselect with -m 'not redis'")
    store = RedisStateStore(client)
    yield store
    store.close()


def test_a_claim_skips_done_sinks_and_reports_busy_ones(store):
    ledger = DeliveryLedger(store, ttl_s=60, lease_s=30)
    alert_id = f"alert-{uuid.uuid4()}"
    assert ledger.claim(alert_id, ["a", "b", "c"], "w1") == {"a": Claim.CLAIMED, "b": Claim.CLAIMED,
                                                             "c": Claim.CLAIMED}
    assert ledger.claim(alert_id, ["a", "b"], "w1") == {"a": Claim.CLAIMED, "b": Claim.CLAIMED}, \
        "re-claiming one's own claim (a commit whose reply was lost) is fine"
    assert ledger.claim(alert_id, ["a"], "w2") == {"a": Claim.BUSY}
    ledger.settle(alert_id, "w1", delivered=["a"], released=["b", "c"])
    assert ledger.delivered("a", alert_id) and not ledger.delivered("b", alert_id)
    assert ledger.claim(alert_id, ["a", "b", "c"], "w2") == {"a": Claim.DONE, "b": Claim.CLAIMED,
                                                             "c": Claim.CLAIMED}
    ledger.settle(alert_id, "w1", delivered=[], released=["b"])  # not w1's claim any more: kept
    assert ledger.claim(alert_id, ["b"], "w3") == {"b": Claim.BUSY}


def test_records_expire_after_the_ttl_and_claims_after_the_lease(store, request):
    ledger = DeliveryLedger(store, ttl_s=1.5, lease_s=0.3)
    alert_id = f"alert-{uuid.uuid4()}"
    ledger.claim(alert_id, ["a", "b"], "dead-worker")
    ledger.settle(alert_id, "dead-worker", delivered=["a"], released=[])
    if isinstance(store, RedisStateStore):
        ttl_ms = redis.Redis.from_url(request.getfixturevalue("redis_url")).pttl(
            f"alcyon:state:{NAMESPACE}:a:{alert_id}")
        assert 0 < ttl_ms <= 1500
    time.sleep(0.5)
    assert ledger.claim(alert_id, ["a", "b"], "w2") == {"a": Claim.DONE, "b": Claim.CLAIMED}, \
        "a worker that died mid-delivery leaves a claim that expires after the lease"
    time.sleep(1.1)
    assert ledger.claim(alert_id, ["a"], "w3") == {"a": Claim.CLAIMED}, "forgotten after the ttl"


def test_the_same_alert_handled_twice_at_once_is_delivered_once(webhooks, tmp_path):
    url = webhooks.route("/slow", delay_s=0.5)
    settings = parse({**{o.name: o.default for o in OPTIONS}, "jsonl_path": str(tmp_path / "a.jsonl"),
                      "webhooks": {"slow": {"url": url}}})
    notifier = Notifier(build_sinks(settings), ledger_ttl_s=60, lease_s=30)
    event = alert()
    first = threading.Thread(target=notifier.handle, args=(event,))
    first.start()
    deadline = time.monotonic() + 5
    while not webhooks.requests("/slow") and time.monotonic() < deadline:
        time.sleep(0.01)  # until the first delivery is on the wire (the server holds it 0.5 s)
    with pytest.raises(DeliveryInProgress, match="'slow'"):
        notifier.handle(event)  # the same alert, redelivered to another worker thread meanwhile
    first.join()
    notifier.handle(event)  # the framework's retry: finds it delivered
    assert len(webhooks.requests("/slow")) == 1
    assert len((tmp_path / "a.jsonl").read_text().splitlines()) == 1
