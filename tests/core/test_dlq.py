"""`alcyon dlq list|show|replay|purge` on real RabbitMQ dead letters."""

from __future__ import annotations

import json

import pytest

from alcyon import Event
from alcyon.cli import main

from . import flaky_plugin

pytestmark = pytest.mark.rabbitmq


def test_dead_letters_are_listed_shown_replayed_once_fixed_and_purged(alcyon_harness, broker_url, monkeypatch,
                                                                        capsys):
    flaky_plugin.BROKEN = True
    flaky_plugin.handled.clear()
    h = alcyon_harness(("flaky", flaky_plugin), broker_url=broker_url, fail_fast=False)
    events = [Event(type="test.reading", source="test", subject=f"s{i}", data={"value": i}) for i in range(3)]
    h.publish(events)
    h.join()
    monkeypatch.setenv("ALCYON_BROKER_URL", broker_url)
    monkeypatch.setenv("ALCYON_EXCHANGE", h.runtime.config.exchange)
    monkeypatch.setenv("ALCYON_LOAD_PLUGINS", "tests.core.flaky_plugin")

    def cli(*args: str) -> tuple[int, str]:
        code = main(list(args))
        return code, capsys.readouterr().out

    code, out = cli("dlq", "list", "flaky")
    assert code == 0 and "3 dead letter(s) for flaky" in out
    records = {r.event_id: r for r in h.dead_letters("flaky")}
    assert set(records) == {e.id for e in events}
    for e in events:
        assert records[e.id].id in out and "ValueError: cannot handle reading" in out

    target = records[events[1].id]
    code, out = cli("dlq", "show", "flaky", target.id)
    shown = json.loads(out)
    assert code == 0 and shown["reason"] == "handler_error" and shown["attempts"] == 1
    assert shown["error"] == "ValueError: cannot handle reading 1" and "Traceback" in shown["traceback"]
    assert shown["message"]["args"][0][0]["id"] == events[1].id

    flaky_plugin.BROKEN = False  # the bug is fixed
    code, out = cli("dlq", "replay", "flaky", "--id", target.id)
    assert code == 0 and "replayed 1 dead letter(s)" in out
    h.join()
    assert flaky_plugin.handled == [events[1].id]
    assert {r.event_id for r in h.dead_letters("flaky")} == {events[0].id, events[2].id}

    code, out = cli("dlq", "purge", "flaky", "--all")
    assert code == 0 and "purged 2 dead letter(s)" in out
    assert h.dead_letters("flaky") == []
    code, out = cli("dlq", "replay", "flaky", "--id", "no-such-id")
    assert code == 1 and "not found: no-such-id" in out
