"""Delivery through the real embedded runtime: retries, dead letters, deduplication, the JSON-lines file."""

from __future__ import annotations

import base64
import hashlib

import pytest

import alcyon_notify.plugin
from alcyon import Event

from .conftest import alert, read_jsonl

NOTIFY = ("notify", alcyon_notify.plugin)


def test_a_webhook_that_fails_three_times_then_succeeds_gets_the_alert_exactly_once(
        alcyon_harness, webhooks, notify_config, jsonl_path):
    url = webhooks.route("/flaky", 503, 503, 503)
    h = alcyon_harness(NOTIFY, fail_fast=False,
                       plugin_config={"notify": notify_config(webhooks={"flaky": {"url": url}})})
    event = alert()
    h.publish(event)
    h.join()
    attempts = webhooks.requests("/flaky")
    assert [r.status for r in attempts] == [503, 503, 503, 200]
    assert len(webhooks.delivered("/flaky")) == 1
    assert {r.json()["id"] for r in attempts} == {event.id}, "every attempt carries the alert's stable id"
    assert {r.headers["Idempotency-Key"] for r in attempts} == {event.id}
    assert h.dead_letters("notify") == []
    assert [line["id"] for line in read_jsonl(jsonl_path)] == [event.id], "the file is not re-appended on retries"


def test_a_webhook_that_always_fails_ends_in_the_dead_letters_with_its_last_error(
        alcyon_harness, webhooks, notify_config):
    url = webhooks.route("/down", then=500, body="database is down (failure {n})")
    h = alcyon_harness(NOTIFY, fail_fast=False, plugin_config={"notify": notify_config(webhooks={"down": {"url": url}},
                                                                      max_retries=2)})
    event = alert()
    h.publish(event)
    h.join()
    assert len(webhooks.requests("/down")) == 3  # first attempt + max_retries
    [dead] = h.dead_letters("notify")
    assert dead.reason == "delivery_failed" and dead.attempts == 3
    assert dead.event_id == event.id and dead.event_type == "fire.alert"
    port = webhooks.httpd.server_address[1]
    assert dead.error == f"DeliveryFailed: webhook 'down' (127.0.0.1:{port}) answered HTTP 500: database is down " \
                         "(failure 3)"


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_a_4xx_is_not_retried(alcyon_harness, webhooks, notify_config, status):
    url = webhooks.route("/strict", then=status, body="no such hook")
    h = alcyon_harness(NOTIFY, fail_fast=False,
                       plugin_config={"notify": notify_config(webhooks={"strict": {"url": url}})})
    h.publish(alert())
    h.join()
    assert len(webhooks.requests("/strict")) == 1
    [dead] = h.dead_letters("notify")
    assert dead.reason == "delivery_failed" and dead.attempts == 1
    assert dead.error.startswith("DeliveryRejected: webhook 'strict' (127.0.0.1:") and f"HTTP {status}" in dead.error


@pytest.mark.parametrize("status", [408, 429, 502])
def test_408_429_and_5xx_are_retried(alcyon_harness, webhooks, notify_config, status):
    url = webhooks.route("/busy", status, status)
    h = alcyon_harness(NOTIFY, fail_fast=False,
                       plugin_config={"notify": notify_config(webhooks={"busy": {"url": url}})})
    h.publish(alert())
    h.join()
    assert [r.status for r in webhooks.requests("/busy")] == [status, status, 200]
    assert h.dead_letters("notify") == []


def test_a_redirect_is_not_followed_and_not_retried(alcyon_harness, webhooks, notify_config):
    target = webhooks.route("/elsewhere")
    url = webhooks.route("/moved", then=302, headers={"Location": target})
    h = alcyon_harness(NOTIFY, fail_fast=False,
                       plugin_config={"notify": notify_config(webhooks={"moved": {"url": url}})})
    h.publish(alert())
    h.join()
    assert len(webhooks.requests("/moved")) == 1 and webhooks.requests("/elsewhere") == []
    [dead] = h.dead_letters("notify")
    assert "HTTP 302 (a redirect; not followed" in dead.error


def test_a_redelivered_alert_is_delivered_once(alcyon_harness, webhooks, notify_config, jsonl_path):
    url = webhooks.route("/hook")
    h = alcyon_harness(NOTIFY, fail_fast=False,
                       plugin_config={"notify": notify_config(webhooks={"hook": {"url": url}})})
    first = alert(1)
    h.publish(first)
    h.join()
    again = alert(1)  # the detector handled the same frame again: same derived id
    assert again.id == first.id
    h.publish(again, again)  # ...and twice in one batch
    h.join()
    other = alert(2)
    h.publish(other)
    h.join()
    assert [r.json()["id"] for r in webhooks.requests("/hook")] == [first.id, other.id]
    assert [line["id"] for line in read_jsonl(jsonl_path)] == [first.id, other.id]
    assert h.dead_letters("notify") == []


def test_one_failing_webhook_does_not_redeliver_to_the_others(alcyon_harness, webhooks, notify_config, jsonl_path):
    good = webhooks.route("/good")
    flaky = webhooks.route("/flaky", 500, 500)
    h = alcyon_harness(NOTIFY, fail_fast=False, plugin_config={"notify": notify_config(
        webhooks={"good": {"url": good}, "flaky": {"url": flaky}})})
    event = alert()
    h.publish(event)
    h.join()
    assert len(webhooks.requests("/good")) == 1
    assert [r.status for r in webhooks.requests("/flaky")] == [500, 500, 200]
    assert len(read_jsonl(jsonl_path)) == 1
    assert h.dead_letters("notify") == []


def test_a_permanent_and_a_temporary_failure_are_retried_then_dead_lettered_with_both_errors(
        alcyon_harness, webhooks, notify_config):
    strict = webhooks.route("/strict", then=404)
    down = webhooks.route("/down", then=503)
    good = webhooks.route("/good")
    h = alcyon_harness(NOTIFY, fail_fast=False, plugin_config={"notify": notify_config(
        webhooks={"good": {"url": good}, "strict": {"url": strict}, "down": {"url": down}}, max_retries=1)})
    h.publish(alert())
    h.join()
    assert len(webhooks.requests("/good")) == 1
    assert len(webhooks.requests("/down")) == 2
    [dead] = h.dead_letters("notify")
    assert dead.error.startswith("DeliveryFailed:") and "HTTP 404" in dead.error and "HTTP 503" in dead.error


def test_the_jsonl_file_gets_each_alert_once(alcyon_harness, notify_config, jsonl_path):
    h = alcyon_harness(NOTIFY, fail_fast=False, plugin_config={"notify": notify_config()})
    alerts = [alert(n) for n in range(20)]
    geofence = Event(type="geofence.entered", source="alcyon/geofence", subject="227006760", id="gf-1",
                     data={"zone_id": "FR-MPA-12", "lat": 47.5, "lon": -3.1})
    h.publish(alerts, geofence, alerts[:5])
    h.join()
    h.publish(alerts[10:], geofence)
    h.join()
    lines = read_jsonl(jsonl_path)
    assert sorted(line["id"] for line in lines) == sorted([a.id for a in alerts] + ["gf-1"])
    line = next(line for line in lines if line["id"] == alerts[0].id)
    assert line["type"] == "fire.alert" and line["subject"] == "tower-3/pose-2" and line["source"] == "alcyon/fire"
    assert line["specversion"] == "1.0" and line["time"] == "2026-07-14T12:00:00Z"
    assert line["data"] == {"score": 0.91, "boxes": [[0.1, 0.2, 0.3, 0.4]]}
    assert line["causeid"] == "frame-0"


def test_types_that_are_not_alerts_are_not_subscribed(alcyon_harness, notify_config, jsonl_path):
    h = alcyon_harness(NOTIFY, fail_fast=False, plugin_config={"notify": notify_config()})
    h.publish(Event(type="camera.frame", source="t", subject="s", id="frame"),
              Event(type="fire.smoke.alert", source="t", subject="s", id="deep"),
              Event(type="fire.alert.smoke", source="t", subject="s", id="kind"),
              Event(type="geofence.crossed", source="t", subject="s", id="crossed"))
    h.join()
    assert sorted(line["id"] for line in read_jsonl(jsonl_path)) == ["crossed", "kind"]


def test_a_webhook_takes_only_its_types(alcyon_harness, webhooks, notify_config):
    url = webhooks.route("/rangers")
    h = alcyon_harness(NOTIFY, fail_fast=False, plugin_config={"notify": notify_config(
        webhooks={"rangers": {"url": url, "types": ["geofence.*"]}})})
    h.publish(alert(), Event(type="geofence.entered", source="t", subject="227006760", id="gf-1"))
    h.join()
    assert [r.json()["id"] for r in webhooks.requests("/rangers")] == ["gf-1"]


def test_binary_evidence_is_base64_in_webhooks_and_a_digest_in_the_file(
        alcyon_harness, webhooks, notify_config, jsonl_path):
    crop = bytes(range(256)) * 10
    frame = b"\xff\xd8\xff\xe0 a jpeg"
    url = webhooks.route("/hook")
    h = alcyon_harness(NOTIFY, fail_fast=False,
                       plugin_config={"notify": notify_config(webhooks={"hook": {"url": url}})})
    with_crop = alert(1, data={"score": 0.9, "crop": crop})
    whole = Event(type="fire.alert", source="t", subject="s", id="whole", data=frame,
                  datacontenttype="image/jpeg")
    h.publish(with_crop, whole)
    h.join()
    bodies = {r.json()["id"]: r for r in webhooks.requests("/hook")}
    assert bodies[with_crop.id].headers["Content-Type"] == "application/cloudevents+json; charset=utf-8"
    described = bodies[with_crop.id].json()["data"]["crop"]["$binary"]
    assert base64.b64decode(described["base64"]) == crop
    assert described["size"] == len(crop) and described["sha256"] == hashlib.sha256(crop).hexdigest()
    whole_body = bodies["whole"].json()
    assert "data" not in whole_body and base64.b64decode(whole_body["data_base64"]) == frame
    assert whole_body["datacontenttype"] == "image/jpeg"
    lines = {line["id"]: line for line in read_jsonl(jsonl_path)}
    assert lines[with_crop.id]["data"]["crop"] == {"$binary": {"size": len(crop),
                                                               "sha256": hashlib.sha256(crop).hexdigest()}}
    assert lines["whole"]["data"] == {"$binary": {"size": len(frame), "sha256": hashlib.sha256(frame).hexdigest(),
                                                  "contenttype": "image/jpeg"}}
    assert lines["whole"]["datacontenttype"] == "application/json"


def test_no_sink_means_no_processor(alcyon_harness):
    h = alcyon_harness(NOTIFY, fail_fast=False, plugin_config={"notify": {"jsonl_path": ""}})
    assert h.runtime.processors == []


def test_deliveries_are_counted_by_sink_and_outcome(alcyon_harness, webhooks, notify_config):
    from alcyon.metrics import render

    def value(sink: str, outcome: str) -> float:
        prefix = f'alcyon_notify_deliveries_total{{outcome="{outcome}",sink="{sink}"}} '
        return sum(float(line[len(prefix):]) for line in render().splitlines() if line.startswith(prefix))

    url = webhooks.route("/counted", 500)
    h = alcyon_harness(NOTIFY, fail_fast=False,
                       plugin_config={"notify": notify_config(webhooks={"counted": {"url": url}})})
    before = {o: value("counted", o) for o in ("delivered", "failed", "duplicate")}
    event = alert()
    h.publish(event)
    h.join()
    h.publish(event)
    h.join()
    assert value("counted", "failed") - before["failed"] == 1
    assert value("counted", "delivered") - before["delivered"] == 1
    assert value("counted", "duplicate") - before["duplicate"] == 1
    text = render()
    assert 'alcyon_notify_delivery_duration_seconds_count{outcome="delivered",sink="counted"}' in text
    assert event.id not in text and webhooks.base not in text
