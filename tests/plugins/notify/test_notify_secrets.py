"""Tokens are sent to the webhook and nowhere else: not in logs, errors, dead letters or reprs."""

from __future__ import annotations

import io
import json
import logging
import uuid

import structlog
from structlog.testing import capture_logs

import alcyon_notify.plugin
from alcyon.logs import configure_logging, get_logger
from alcyon_notify.settings import OPTIONS, parse

from .conftest import alert

NOTIFY = ("notify", alcyon_notify.plugin)


def _defaults(**options):
    return {**{o.name: o.default for o in OPTIONS}, **options}


def test_the_token_never_appears_in_any_log_line_nor_error(alcyon_harness, webhooks, notify_config, monkeypatch,
                                                           caplog, capsys, tmp_path):
    token = f"tok-{uuid.uuid4().hex}"
    url_secret = f"k{uuid.uuid4().hex[:12]}"
    file_secret = f"fs-{uuid.uuid4().hex}"
    monkeypatch.setenv("NOTIFY_TEST_TOKEN", token)
    (tmp_path / "key").write_text(file_secret + "\n")
    # Servers that echo the credentials back in their error bodies, as some do.
    echo_401 = webhooks.route("/auth", then=401, body="bad credentials: {authorization}")
    echo_500 = webhooks.route("/flaky", 500, body="upstream refused {authorization}")
    ok = webhooks.route("/ok", then=200, body="thanks {authorization}")
    auth = {"Authorization": "Bearer ${env:NOTIFY_TEST_TOKEN}"}
    caplog.set_level(logging.DEBUG)
    with capture_logs() as entries:
        h = alcyon_harness(NOTIFY, fail_fast=False, plugin_config={"notify": notify_config(webhooks={
            "auth": {"url": echo_401, "headers": auth},
            "flaky": {"url": echo_500, "headers": {"X-Api-Key": "${file:%s}" % (tmp_path / "key")}},
            "ok": {"url": ok + "?key=" + url_secret, "headers": auth},
            "user": {"url": ok.replace("http://", f"http://alcyon:{url_secret}@"), "headers": auth},
        }, max_retries=1)})
        event = alert()
        h.publish(event)
        h.join()
        h.close()
    # The credentials did reach the webhooks...
    assert {r.headers["Authorization"] for r in webhooks.requests("/auth")} == {f"Bearer {token}"}
    assert {r.headers["X-Api-Key"] for r in webhooks.requests("/flaky")} == {file_secret}
    # ...and nothing else.
    [dead] = h.dead_letters("notify")
    assert "HTTP 401" in dead.error and "DeliveryFailed" in dead.error
    seen = "\n".join([repr(entries), caplog.text, *capsys.readouterr(), dead.error, dead.traceback, repr(dead),
                      json.dumps(dead.summary(), default=str)])
    assert entries, "the logs were captured"
    assert any(e.get("event") == "alert_delivery_failed" for e in entries)
    for secret in (token, file_secret, url_secret):
        assert secret not in seen
    assert "bad credentials: Bearer ***" in dead.error
    assert repr(h.runtime.processors[0]).count(token) == 0


def test_resolved_secrets_are_masked_in_every_log_line(monkeypatch, tmp_path):
    token = f"tok-{uuid.uuid4().hex}"
    monkeypatch.setenv("NOTIFY_TEST_TOKEN2", token)
    settings = parse(_defaults(webhooks={"a": {"url": "https://example.org/hook",
                                               "headers": {"Authorization": "Bearer ${env:NOTIFY_TEST_TOKEN2}",
                                                           "X-Literal-Token": "literal-secret-value"}}}))
    assert token not in repr(settings) and "literal-secret-value" not in repr(settings)
    stream = io.StringIO()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    structlog_config = structlog.get_config()
    try:
        configure_logging("info", "json", stream)
        get_logger("test.notify").info("careless", header=f"Bearer {token}", other="literal-secret-value")
    finally:
        structlog.configure(**structlog_config)
        root.handlers[:] = handlers
        root.setLevel(level)
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["header"] == "Bearer ***" and line["other"] == "***"
