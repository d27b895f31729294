"""The body sinks receive: CloudEvents JSON that any JSON parser reads, whatever the data holds."""

from __future__ import annotations

import base64
import json
import math
from datetime import datetime, timezone

from alcyon import Event
from alcyon_notify.payload import envelope, to_json

from .conftest import T0, alert


def test_the_envelope_is_cloudevents_structured_json():
    event = alert()
    body = json.loads(to_json(event))
    assert body == {"specversion": "1.0", "id": event.id, "source": "alcyon/fire", "type": "fire.alert",
                    "subject": "tower-3/pose-2", "time": "2026-07-14T12:00:00Z",
                    "datacontenttype": "application/json", "data": {"score": 0.91, "boxes": [[0.1, 0.2, 0.3, 0.4]]},
                    "causeid": "frame-1", "rule": "fire/smoke"}


def test_values_json_cannot_carry_are_made_explicit():
    data = {"nan": math.nan, "inf": -math.inf, "pair": (1, 2), "at": datetime(2026, 7, 14, tzinfo=timezone.utc),
            1: "int key", "nested": [{"b": b"\x00\x01"}], "text": "line\nbreak \u2028 é"}
    event = Event(type="fire.alert", source="t", subject="s", id="x", time=T0, data=data)
    raw = to_json(event)
    assert b"\n" not in raw, "one line, for the JSON-lines file"
    body = json.loads(raw)["data"]
    assert body["nan"] is None and body["inf"] is None and body["pair"] == [1, 2]
    assert body["at"] == "2026-07-14T00:00:00Z" and body["1"] == "int key" and body["text"] == "line\nbreak \u2028 é"
    assert base64.b64decode(body["nested"][0]["b"]["$binary"]["base64"]) == b"\x00\x01"


def test_empty_data_and_digest_mode():
    assert envelope(Event(type="fire.alert", source="t", subject="s", id="x", time=T0))["data"] is None
    raw = Event(type="fire.alert", source="t", subject="s", id="x", time=T0, data=b"")
    assert envelope(raw)["data_base64"] == ""
    assert envelope(raw, "digest")["data"]["$binary"]["size"] == 0
