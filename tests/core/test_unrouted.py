"""Derived events nobody subscribes to: warned with their type, counted, kept, listed and replayed."""

from __future__ import annotations

import json

import pika
import pytest
from structlog.testing import capture_logs

from alcyon import Event
from alcyon.cli import main
from alcyon.metrics import metrics
from alcyon.topology import UNROUTED

from . import derived_sink_plugin
from .plugins_for_tests import Recorder


def test_unrouted_events_are_warned_with_their_type_and_counted_embedded(alcyon_harness):
    h = alcyon_harness(("rec", Recorder({"proc": ("test.reading",)}, derive="test.derived")))
    before = metrics().unrouted.labels("test.derived")._value.get()
    with capture_logs() as logs:
        h.publish(Event(type="test.reading", source="t", subject="s1", data={"value": 1}))
        h.join()
    [warning] = [line for line in logs if line["event"] == "events_unrouted"]
    assert warning["log_level"] == "warning" and warning["event_type"] == "test.derived" and warning["events"] == 1
    assert "alcyon dlq list unrouted" in warning["hint"]
    assert metrics().unrouted.labels("test.derived")._value.get() == before + 1
    assert [e.type for e in h.unrouted()] == ["test.derived"]


@pytest.mark.rabbitmq
def test_unrouted_events_are_listed_shown_and_replayed_once_a_processor_subscribes(alcyon_harness, broker_url,
                                                                                   monkeypatch, capsys):
    with pika.BlockingConnection(pika.URLParameters(broker_url)) as connection:
        connection.channel().queue_purge(UNROUTED) if _exists(broker_url) else None
    h = alcyon_harness(("rec", Recorder({"proc": ("test.reading",)}, derive="test.derived")), broker_url=broker_url)
    cause = Event(type="test.reading", source="t", subject="s1", data={"value": 1})
    with capture_logs() as logs:
        h.publish(cause)
        h.join()
    assert any(line["event"] == "events_unrouted" and line["event_type"] == "test.derived" for line in logs)
    [derived] = h.unrouted()
    monkeypatch.setenv("ALCYON_BROKER_URL", broker_url)
    monkeypatch.setenv("ALCYON_EXCHANGE", h.runtime.config.exchange)

    def cli(*args: str) -> tuple[int, str]:
        code = main(list(args))
        return code, capsys.readouterr().out

    monkeypatch.setenv("ALCYON_LOAD_PLUGINS", "")
    code, out = cli("dlq", "list", "unrouted")
    assert code == 0 and "test.derived" in out and derived.id in out and "1 unrouted message(s), 1 event(s)" in out
    message_id = out.split()[0]
    code, out = cli("dlq", "show", "unrouted", message_id)
    assert code == 0 and json.loads(out)["events"][0]["id"] == derived.id
    code, out = cli("dlq", "replay", "unrouted", "--all")  # still nobody subscribes: kept, said so
    assert code == 1 and "replayed 0" in out and "kept (no installed processor subscribes to them yet): test.derived" \
        in out

    derived_sink_plugin.handled.clear()
    sink = alcyon_harness(("sink", derived_sink_plugin), broker_url=broker_url,
                          settings={"exchange": h.runtime.config.exchange})
    monkeypatch.setenv("ALCYON_LOAD_PLUGINS", "tests.core.derived_sink_plugin")
    code, out = cli("dlq", "replay", "unrouted", "--all")
    assert code == 0 and "replayed 1 unrouted message(s)" in out
    sink.join()
    assert derived_sink_plugin.handled == [derived.id]  # the same event, the same id
    code, out = cli("dlq", "list", "unrouted")
    assert "0 unrouted message(s)" in out


def _exists(broker_url: str) -> bool:
    with pika.BlockingConnection(pika.URLParameters(broker_url)) as connection:
        try:
            connection.channel().queue_declare(UNROUTED, passive=True)
            return True
        except pika.exceptions.ChannelClosedByBroker:
            return False


@pytest.mark.rabbitmq
def test_a_queue_declared_with_other_arguments_is_a_start_up_error_with_the_fix(alcyon_harness, broker_url):
    from alcyon import BrokerError

    h = alcyon_harness(("rec", Recorder({"proc": ("test.reading",)})), broker_url=broker_url, start=False)
    with pika.BlockingConnection(pika.URLParameters(broker_url)) as connection:
        connection.channel().queue_declare("alcyon.proc", durable=True, arguments={"x-max-length": 5})
    with pytest.raises(BrokerError, match=r"cannot declare the topology on RabbitMQ \(exchange alcyon\.test\.\w+, "
                                          r"queues alcyon\.proc\): PRECONDITION_FAILED.*already exists with other "
                                          r"arguments.*then run `alcyon topology --apply`"):
        h.runtime.start()
