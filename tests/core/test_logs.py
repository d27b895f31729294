"""JSON logs: alcyon's lines and the standard library's, one object per line, credentials masked."""

from __future__ import annotations

import io
import json
import logging
import re

from alcyon.logs import configure_logging, get_logger


def _lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_alcyon_and_stdlib_lines_are_json_with_logger_level_and_masked_urls() -> None:
    log = get_logger("alcyon.test", processor="p")  # created before configuration, as modules do
    stream = io.StringIO()
    configure_logging("info", "json", stream)
    log.info("hello", url="amqp://user:s3cret@rabbit/")
    log.debug("not shown at info")
    logging.getLogger("dramatiq.test").warning("from %s", "dramatiq")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    first, second, third = _lines(stream)
    assert first["event"] == "hello" and first["logger"] == "alcyon.test" and first["level"] == "info"
    assert first["processor"] == "p" and first["url"] == "amqp://user:***@rabbit/" and first["timestamp"]
    assert second == {**second, "event": "from dramatiq", "logger": "dramatiq.test", "level": "warning"}
    assert third["level"] == "error" and "ValueError: boom" in third["exception"]


def test_reconfiguring_applies_to_loggers_already_used() -> None:
    log = get_logger("alcyon.test")
    first, second = io.StringIO(), io.StringIO()
    configure_logging("info", "json", first)
    log.info("one")
    configure_logging("debug", "json", second)
    log.debug("two")
    assert [line["event"] for line in _lines(first)] == ["one"]
    assert [line["event"] for line in _lines(second)] == ["two"]



class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_auto_format_is_json_at_info_for_machines_and_console_at_warning_for_people() -> None:
    log = get_logger("alcyon.test")
    piped, terminal = io.StringIO(), _Terminal()
    configure_logging("auto", "auto", piped)
    log.info("for a machine", n=1)
    assert _lines(piped)[0]["event"] == "for a machine"
    configure_logging("auto", "auto", terminal)
    log.info("not shown to a person")
    log.warning("shown to a person", zone="quiberon")
    text = re.sub(r"\x1b\[[0-9;]*m", "", terminal.getvalue())  # colours on a terminal
    assert "not shown" not in text and "shown to a person" in text and "zone=quiberon" in text
    assert not text.lstrip().startswith("{")
    configure_logging("info", "json", terminal)  # the settings win over the terminal
    log.info("forced json")
    assert json.loads(terminal.getvalue().splitlines()[-1])["event"] == "forced json"


def test_an_identical_warning_is_said_once_then_with_its_repeat_count(monkeypatch) -> None:
    from alcyon import logs

    clock = [1000.0]
    monkeypatch.setattr(logs, "_clock", lambda: clock[0])
    log = get_logger("alcyon.test")
    stream = io.StringIO()
    configure_logging("info", "json", stream)
    for _ in range(3):
        log.warning("zone_skipped", zone="z1")
        logging.getLogger("dramatiq.test").warning("same warning from the standard library")
    log.warning("zone_skipped", zone="z2")  # other fields: another warning
    log.info("info lines are never held back")
    log.info("info lines are never held back")
    clock[0] += 61
    log.warning("zone_skipped", zone="z1")
    events = [(line["event"], line.get("zone"), line.get("repeated")) for line in _lines(stream)]
    assert events == [("zone_skipped", "z1", None), ("same warning from the standard library", None, None),
                      ("zone_skipped", "z2", None), ("info lines are never held back", None, None),
                      ("info lines are never held back", None, None), ("zone_skipped", "z1", 2)]


def test_dramatiqs_warning_about_one_worker_middleware_per_worker_is_dropped_and_no_other() -> None:
    """alcyon starts several dramatiq Workers on one broker: each adds its own _WorkerMiddleware (harmless)."""
    import dramatiq
    from dramatiq.brokers.stub import StubBroker

    stream = io.StringIO()
    configure_logging("info", "json", stream)
    said: list[str] = []
    recorder = logging.Handler()
    recorder.emit = lambda record: said.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("dramatiq").addHandler(recorder)
    try:
        broker = StubBroker()
        workers = [dramatiq.Worker(broker, worker_threads=1, worker_timeout=10) for _ in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.stop()
        logging.getLogger("dramatiq.broker.StubBroker").warning(
            "You're adding a middleware of the same type twice: %r. It may have unexpected results.", object())
    finally:
        logging.getLogger("dramatiq").removeHandler(recorder)
    assert any("_WorkerMiddleware" in m for m in said)  # dramatiq said it...
    shown = [line["event"] for line in _lines(stream)]
    assert not any("_WorkerMiddleware" in e for e in shown)  # ...and it is not shown
    assert [e for e in shown if "same type twice" in e] == [next(m for m in said if "<object object" in m)]


def test_no_log_line_carries_a_whole_batch() -> None:
    # dramatiq logs a failed message with its arguments: a batch of 500 events made 175 KB lines.
    stream = io.StringIO()
    configure_logging("info", "json", stream)
    batch = [{"id": str(i), "data": "x" * 300} for i in range(500)]
    logging.getLogger("dramatiq.worker").error("Failed to process message %s with unhandled exception.", batch)
    get_logger("alcyon.test").warning("dead_lettered", error="E" * 100_000)
    first, second = _lines(stream)
    assert len(first["event"]) < 4100 and "chars left out" in first["event"]
    assert first["event"].startswith("Failed to process message [{'id': '0'")
    assert len(second["error"]) < 4100 and second["error"].endswith("E" * 100)
