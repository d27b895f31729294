"""The JSON-lines file under concurrent writers, and when it cannot be written."""

from __future__ import annotations

import json
import threading

import pytest

from alcyon_notify.errors import SinkError
from alcyon_notify.jsonl import JsonLinesSink
from alcyon_notify.payload import to_json

from .conftest import alert


def test_concurrent_appends_never_interleave(tmp_path):
    sink = JsonLinesSink(tmp_path / "alerts.jsonl", fsync=False)
    big = "x" * 20_000  # lines larger than a pipe buffer

    def write(worker: int) -> None:
        for n in range(40):
            event = alert(worker * 1000 + n, data={"pad": big})
            sink.deliver(event, to_json(event, "digest"))

    threads = [threading.Thread(target=write, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = (tmp_path / "alerts.jsonl").read_text().splitlines()
    assert len(lines) == 240 and len({json.loads(line)["id"] for line in lines}) == 240


def test_an_unwritable_file_is_a_retryable_failure(tmp_path):
    sink = JsonLinesSink(tmp_path / "missing-dir" / "alerts.jsonl")
    with pytest.raises(SinkError) as info:
        sink.deliver(alert(), b"{}")
    assert info.value.retryable and "No such file or directory" in str(info.value)
