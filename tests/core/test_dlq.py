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


def test_dlq_output_is_escaped_and_strict_json(alcyon_harness, broker_url, monkeypatch, capsys):
    # ESC/OSC and CR-LF in a message's id once injected a fake row into the operator's terminal,
    # and `dlq show` printed NaN (not JSON).
    import math

    import msgpack

    from alcyon.codec import batch_message

    flaky_plugin.BROKEN = True
    h = alcyon_harness(("flaky", flaky_plugin), broker_url=broker_url, fail_fast=False)
    nasty = "evil\x1b]0;pwned\x07\r\nfake-row  2026-01-01T00:00:00Z  handler_error\x1b[2K\u202e"
    message = batch_message([])
    message["args"][0].append({"id": nasty, "source": "s", "type": "test.reading", "subject": nasty, "time": "x\r\n"})
    h.send_raw("test.reading", msgpack.packb(message, use_bin_type=True))
    h.publish(Event(type="test.reading", source="test", subject="nan", data={"value": math.nan}))
    h.join()
    monkeypatch.setenv("ALCYON_BROKER_URL", broker_url)
    monkeypatch.setenv("ALCYON_EXCHANGE", h.runtime.config.exchange)
    monkeypatch.setenv("ALCYON_LOAD_PLUGINS", "tests.core.flaky_plugin")
    capsys.readouterr()
    assert main(["dlq", "list", "flaky"]) == 0
    out = capsys.readouterr().out
    assert "2 dead letter(s) for flaky" in out
    assert not any(c in out for c in "\x1b\x07\r\u202e")
    assert len([line for line in out.splitlines() if "attempts=" in line]) == 2
    assert "evil\\x1b]0;pwned\\x07\\r\\nfake-row" in out
    records = {r.reason: r for r in h.dead_letters("flaky")}
    assert main(["dlq", "show", "flaky", records["handler_error"].id]) == 0
    shown = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    assert shown["message"]["args"][0][0]["data"] == {"value": "nan"}
