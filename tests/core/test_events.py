from datetime import datetime, timedelta, timezone

import pytest

from alcyon import Event, InvalidEvent, derive, derived_id


def test_envelope_uses_cloudevents_names_and_round_trips():
    e = Event(type="ais.position", source="udp:10110", subject="227006760", data={"lat": 47.5},
              time=datetime(2026, 7, 14, 12, tzinfo=timezone(timedelta(hours=2))))
    d = e.to_dict()
    assert set(d) == {"id", "source", "type", "specversion", "time", "subject", "datacontenttype", "data"}
    assert d["time"] == "2026-07-14T10:00:00Z" and d["specversion"] == "1.0"
    assert Event.from_dict(d) == e


def test_binary_data_is_marked_as_octet_stream():
    assert Event(type="camera.frame", source="cam", subject="tower1/p0", data=b"\xff\xd8").datacontenttype \
        == "application/octet-stream"


@pytest.mark.parametrize("raw,message", [
    ({"id": "", "source": "s", "type": "t", "time": 0}, r"missing required attribute\(s\) id, subject"),
    ({"id": "1", "source": "s", "type": "t", "subject": "x", "time": "yesterday"}, "not RFC 3339"),
    ({"id": "1", "source": "s", "type": "t", "subject": "x", "time": "2026-01-01T00:00:00"}, "no UTC offset"),
    ({"id": "1", "source": "s", "type": "t", "subject": "x", "time": 0, "specversion": "0.3"}, "specversion"),
    ([1, 2], "mapping"),
    ({"id": "1", "source": "s", "type": "t", "subject": "x", "time": float("nan")}, "not a representable epoch"),
    ({"id": "1", "source": "s", "type": "t", "subject": "x", "time": float("inf")}, "not a representable epoch"),
    ({"id": "1", "source": "s", "type": "t", "subject": "x", "time": 1e20}, "not a representable epoch"),
    ({"id": "1", "source": "s", "type": "t", "subject": "x", "time": -9e15}, "not a representable epoch"),
    ({"id": "1", "source": "s", "type": "t", "subject": "x", "time": "0001-01-01T00:00:00+01:00"}, "out of range"),
    ({"id": "1", "source": "s", "type": "t", "subject": "x", "time": "9999-12-31T23:00:00-05:00"}, "out of range"),
])
def test_bad_envelopes_say_what_is_wrong(raw, message):
    with pytest.raises(InvalidEvent, match=message):
        Event.from_dict(raw)


def test_derived_ids_are_deterministic_per_cause_and_rule():
    cause = Event(type="ais.position", source="s", subject="227006760")
    a = derive(cause, "entered:FR1", "geofence.entered", {}, source="alcyon/geofence")
    b = derive(cause, "entered:FR1", "geofence.entered", {"other": 1}, source="alcyon/geofence")
    c = derive(cause, "entered:FR2", "geofence.entered", {}, source="alcyon/geofence")
    assert a.id == b.id == derived_id(cause.id, "entered:FR1") != c.id
    assert a.time == cause.time and a.subject == cause.subject and a.extensions["causeid"] == cause.id


@pytest.mark.parametrize("name", ["", "a", "é\x1frule", "x" * 500])
def test_fast_uuid5_is_uuid5(name):
    import uuid

    from alcyon.events import DERIVED_ID_NAMESPACE, uuid5_str

    assert uuid5_str(DERIVED_ID_NAMESPACE, name) == str(uuid.uuid5(DERIVED_ID_NAMESPACE, name))


def test_an_event_without_an_id_gets_one_derived_from_its_content():
    raw = {"source": "s", "type": "t.x", "subject": "x", "time": 0, "data": {"v": 1}}
    first, again = Event.from_dict(raw), Event.from_dict(dict(raw))
    other = Event.from_dict({**raw, "data": {"v": 2}})
    assert first.id == again.id != other.id
