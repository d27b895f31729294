"""JSON-lines inputs: all or nothing, every bad line named with its fix, stable ids.

(``alcyon publish``, ``run --input``)
"""

from __future__ import annotations

import io
import json
import uuid

import pika
import pytest

from alcyon import Event, EventType, InvalidEvent
from alcyon.cli import main
from alcyon.inputs import read_events

GOOD = b'{"type": "demo.reading", "subject": "s1", "data": {"value": 3}}\n'
TYPES = {"demo.reading": EventType("demo.reading", fields={"value": (int, float)}, plugin="demo")}


def read(data: bytes) -> list[Event]:
    return read_events(io.BytesIO(data), "in.jsonl", TYPES)


# issue #14 item 8: each of these was a Python traceback
BAD_LINES = {
    "invalid_utf8": (b'{"type": "demo.reading", "subject": "caf\xe9"}\n', r"in.jsonl:2: not valid UTF-8 \(byte 0xe9 "
                     r"at column 41\): save the file as UTF-8"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\n", r"in.jsonl:4: binary data \(a NUL byte\), not text, nothing "
               r"was published: give a JSON-lines file"),
    "json_array": (b'[{"type": "demo.reading"}]\n', r"in.jsonl:2: JSON an array, not an object: each line is one "
                   r"event object, e.g. \{\"type\""),
    "json_string": (b'"demo.reading"\n', r"in.jsonl:2: JSON a string, not an object: each line is one event object"),
    "json_null": (b"null\n", r"in.jsonl:2: JSON null, not an object: each line is one event object"),
    "time_1e400": (b'{"type": "demo.reading", "subject": "s1", "time": 1e400, "data": {"value": 1}}\n',
                   r"in.jsonl:2: 1e400 is out of range for a number \(over 1.8e308\): give a finite number"),
    "time_nan": (b'{"type": "demo.reading", "subject": "s1", "time": NaN, "data": {"value": 1}}\n',
                 r"in.jsonl:2: NaN is not a JSON number: give a finite number"),
    "time_year_1": (b'{"type": "demo.reading", "subject": "s1", "time": "0001-01-01T00:00:00Z", '
                    b'"data": {"value": 1}}\n',
                    r"in.jsonl:2: time 0001-01-01T00:00:00Z is before 1970: give the UTC time of the reading "
                    r"\(2026-07-14T12:00:00Z\) or seconds since 1970"),
}


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_a_bad_line_is_named_with_its_fix_and_nothing_is_read(case):
    line, message = BAD_LINES[case]
    with pytest.raises(InvalidEvent, match=message) as caught:
        read(GOOD + line + GOOD)
    assert "nothing was published" in str(caught.value)


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_publish_of_a_bad_file_exits_2_with_the_error_and_no_traceback(case, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ALCYON_LOAD_PLUGINS", "")
    path = tmp_path / "in.jsonl"
    path.write_bytes(GOOD + BAD_LINES[case][0] + GOOD)
    assert main(["publish", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"alcyon: error: {path}:") and "nothing was published" in err and "Traceback" not in err


def test_every_bad_line_is_listed_and_schemas_of_installed_types_are_checked():
    data = GOOD + b'{"type": "demo.reading", "subject": "s2", "data": {"value": "high"}}\n' + b"{oops\n" + \
        b'{"type": "demo.reading", "data": {}}\n'
    with pytest.raises(InvalidEvent) as caught:
        read(data)
    message = str(caught.value)
    assert "3 bad line(s)" in message
    assert "in.jsonl:2: demo.reading event" in message and "data.value must be int or float, got str" in message
    assert "(schema of demo.reading from plugin demo: data {value: int or float})" in message
    assert "in.jsonl:3: not JSON (Expecting property name enclosed in double quotes at column 2)" in message
    assert "in.jsonl:4: event is missing required attribute(s) subject" in message


def test_lines_without_an_id_get_the_same_id_on_every_read_and_blank_and_comment_lines_are_skipped():
    data = b"# readings\n\n" + GOOD + GOOD.replace(b"s1", b"s2") + GOOD
    first, second = read(data), read(data)
    assert [e.id for e in first] == [e.id for e in second]
    assert len({e.id for e in first}) == 3, "same content on another line is another event"
    assert all(e.source == "alcyon-publish:in.jsonl" for e in first)
    given = read(b'{"id": "mine", "type": "demo.reading", "subject": "s1", "data": {"value": 1}}\n')
    assert given[0].id == "mine"


def test_publish_dry_run_validates_and_sends_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ALCYON_LOAD_PLUGINS", "")
    path = tmp_path / "in.jsonl"
    path.write_bytes(GOOD * 2)
    assert main(["publish", "--dry-run", str(path)]) == 0
    assert capsys.readouterr().out.strip() == "2 event(s) valid (demo.reading 2); nothing published (--dry-run)"


@pytest.mark.parametrize("command", [["publish"], ["run", "--input"]])
def test_embedded_publish_and_run_input_process_the_file_until_idle(command, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ALCYON_LOAD_PLUGINS", "notify=alcyon_notify.plugin")
    monkeypatch.setenv("ALCYON_BROKER_URL", "")
    monkeypatch.setenv("ALCYON_METRICS_PORT", "0")
    alerts = tmp_path / "alerts.jsonl"
    monkeypatch.setenv("ALCYON_NOTIFY__JSONL_PATH", str(alerts))
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"type": "fire.alert", "subject": "tower-3/pose-1", "time": "2026-07-14T12:00:00Z",
                                "data": {"score": 0.9}}) + "\n")
    assert main([*command, str(path)]) == 0
    assert "published 1 event(s): fire.alert 1" in capsys.readouterr().out
    [line] = alerts.read_text().splitlines()
    assert json.loads(line)["id"] == read_events(path.open("rb"), str(path))[0].id


@pytest.mark.rabbitmq
def test_publish_to_rabbitmq_is_all_or_nothing_and_a_rerun_sends_the_same_ids(tmp_path, capsys, monkeypatch,
                                                                              broker_url):
    exchange = f"alcyon.test.{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("ALCYON_LOAD_PLUGINS", "")
    monkeypatch.setenv("ALCYON_BROKER_URL", broker_url)
    monkeypatch.setenv("ALCYON_EXCHANGE", exchange)
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    channel = connection.channel()
    try:
        channel.exchange_declare(exchange, "topic", durable=True, arguments={"alternate-exchange": "alcyon.unrouted"})
        queue = channel.queue_declare("", exclusive=True).method.queue
        channel.queue_bind(queue, exchange, "#")
        bad = tmp_path / "bad.jsonl"
        bad.write_bytes(GOOD * 2 + b'{"type": "demo.reading"\n')
        assert main(["publish", str(bad)]) == 2
        assert "bad.jsonl:3: not JSON" in capsys.readouterr().err
        assert channel.queue_declare(queue, passive=True).method.message_count == 0, "lines 1-2 were not sent"
        good = tmp_path / "good.jsonl"
        good.write_bytes(GOOD + GOOD.replace(b"s1", b"s2"))
        ids = []
        for _ in range(2):
            assert main(["publish", str(good)]) == 0
            assert "published 2 event(s), confirmed by the broker" in capsys.readouterr().out
            method, _, body = channel.basic_get(queue, auto_ack=True)
            import msgpack

            ids.append([e["id"] for e in msgpack.unpackb(body)["args"][0]])
        assert ids[0] == ids[1] and len(set(ids[0])) == 2
    finally:
        channel.exchange_delete(exchange)
        connection.close()


def test_stdin_is_read_whole_and_validated_like_a_file():
    import os
    import subprocess
    import sys

    env = {**os.environ, "ALCYON_LOAD_PLUGINS": "", "ALCYON_BROKER_URL": "", "ALCYON_METRICS_PORT": "0"}
    ok = subprocess.run([sys.executable, "-m", "alcyon.cli", "publish", "--dry-run", "-"], input=GOOD * 3,
                        capture_output=True, timeout=60, env=env)
    assert ok.returncode == 0 and b"3 event(s) valid (demo.reading 3)" in ok.stdout, ok.stderr
    bad = subprocess.run([sys.executable, "-m", "alcyon.cli", "run", "--input", "-"], input=GOOD + b"[1]\n",
                         capture_output=True, timeout=60, env=env)
    assert bad.returncode == 2 and bad.stdout == b""
    assert bad.stderr.decode().startswith("alcyon: error: <stdin>: 1 bad line(s), nothing was published:\n"
                                          "  <stdin>:2: JSON an array, not an object")
