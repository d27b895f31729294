"""The geofence state machine on the real French MPAs and on small hand-made zones."""

from __future__ import annotations

import copy
import json
import random

import msgpack
import numpy as np
import pytest
from shapely.geometry import Point

from alcyon.errors import ConfigError
from alcyon.events import derive, derived_id
from alcyon_geofence.ais import AisDecoder, Position, Rejection, StaticData, position_event
from alcyon_geofence.make_demo import DEMO_FILE
from alcyon_geofence.tracker import ALERT_KINDS, TrackerConfig, process_batch, step
from alcyon_geofence.zones import ZoneIndex, zones_from_geojson

CONFIG = TrackerConfig()
T0 = 1_750_000_000.0


def _ping(mmsi, time, lon, lat, sog=6.0):
    return Position(mmsi, time, lat, lon, sog, 90.0, 90, 7, 1, f"test {mmsi} {time} {lon} {lat} {sog}")


def _static(mmsi, time, name=None, ship_type=None):
    return StaticData(mmsi, time, 5, name, None, ship_type, None, None, None, None, None, f"static {mmsi} {time}")


def _route(waypoints, per_leg):
    """Evenly spaced points along straight legs between waypoints."""
    points = []
    for (x1, y1), (x2, y2) in zip(waypoints, waypoints[1:]):
        points += [(x1 + f * (x2 - x1), y1 + f * (y2 - y1)) for f in np.linspace(0, 1, per_leg, endpoint=False)]
    return points + [waypoints[-1]]


def _run(records, index, config=CONFIG, batch=50, states=None):
    states = dict(states or {})
    alerts = []
    for start in range(0, len(records), batch):
        chunk = records[start:start + batch]
        new, found = process_batch(chunk, {r.mmsi: states.get(r.mmsi) for r in chunk}, index, config)
        states.update(new)
        alerts += found
    return states, alerts


def _square_index(rules=None, size=0.1):
    square = [[[0.0, 0.0], [size, 0.0], [size, size], [0.0, size], [0.0, 0.0]]]
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "sq", "properties": {"name": "Square"},
         "geometry": {"type": "Polygon", "coordinates": square}}]}
    return ZoneIndex(zones_from_geojson(doc, rules))


def test_entering_then_leaving_quiberon(index, zone):
    points = _route([(-3.215, 47.548), (-3.150, 47.545), (-3.152, 47.520), (-3.200, 47.490)], 40)
    pings = [_ping("227000001", T0 + 30 * i, x, y) for i, (x, y) in enumerate(points)]
    inside = [zone("3").geometry.contains(Point(p.lon, p.lat)) for p in pings]
    first_in = inside.index(True)
    first_out = inside.index(False, first_in)
    assert not any(inside[first_out:]) and not any(inside[:first_in])  # one visit, decided by shapely
    assert pings[first_out].time - pings[first_in].time < 30 * 60  # shorter than the default dwell
    records = [_static("227000001", T0 - 60, name="BREIZH", ship_type=30)] + pings
    _, alerts = _run(records, index)
    assert [(a.kind, a.zone_id, a.zone_name, a.time) for a in alerts] == [
        ("entered", "3", "baie de Quiberon", pings[first_in].time),
        ("exited", "3", "baie de Quiberon", pings[first_out].time)]
    assert alerts[1].since == pings[first_in].time
    assert {a.vessel_name for a in alerts} == {"BREIZH"}
    assert [a.cause for a in alerts] == [pings[first_in], pings[first_out]]


def test_a_fast_leg_across_a_small_zone_is_a_crossing(index, zone, zones):
    centre = zone("16").geometry.representative_point()  # Nuarei, 1.4 x 0.7 km
    pings = [_ping("227000002", T0 + 120 * i, centre.x, centre.y + dy, sog=25.0)
             for i, dy in enumerate((0.0216, 0.0072, -0.0072, -0.0216))]
    assert not any(z.geometry.contains(Point(p.lon, p.lat)) for p in pings for z in zones)  # Bloom sees nothing
    _, alerts = _run(pings, index)
    assert [(a.kind, a.rule, a.zone_name, a.time, a.previous) for a in alerts] == [
        ("crossed", "geofence.crossed:16", "Nuarei", pings[2].time, (pings[1].time, pings[1].lat, pings[1].lon))]


def test_going_dark_inside_a_zone(index, zone):
    inside = zone("3").geometry.representative_point()
    pings = [_ping("227000003", T0, inside.x, inside.y), _ping("227000003", T0 + 60, inside.x, inside.y),
             _ping("227000003", T0 + 60 + 1801, -3.3, 47.4)]
    _, alerts = _run(pings, index)
    assert [(a.kind, a.zone_id, a.time) for a in alerts] == [
        ("entered", "3", T0), ("gap", None, T0 + 1861), ("exited", "3", T0 + 1861)]
    assert alerts[1].zones == ("3",) and alerts[1].previous == (T0 + 60, inside.y, inside.x)
    _, alerts = _run(pings, index, TrackerConfig.from_mapping({"gap_minutes": 60}))
    assert [a.kind for a in alerts] == ["entered", "exited"]


def test_a_silence_of_exactly_the_threshold_is_not_a_gap(index):
    pings = [_ping("227000015", T0, 0.0, 45.0), _ping("227000015", T0 + 1800, 0.0, 45.1),
             _ping("227000015", T0 + 3601, 0.0, 45.2)]
    _, alerts = _run(pings, index)
    assert [(a.kind, a.time) for a in alerts] == [("gap", T0 + 3601)]


def test_reports_with_the_same_time_are_settled_by_their_text_not_their_order(index, zone):
    inside = zone("3").geometry.representative_point()
    here = _ping("227000016", T0, inside.x, inside.y)
    there = _ping("227000016", T0, -3.3, 47.4)
    assert here.raw < there.raw  # "here" sorts first and wins; "there" is then stale
    for order in ([here, there], [there, here]):
        states, alerts = process_batch(order, {"227000016": None}, index, CONFIG)
        assert [a.kind for a in alerts] == ["entered"] and states["227000016"]["last"]["lon"] == inside.x


def test_a_gap_while_no_zone_still_reports_and_no_crossing_is_drawn_over_it(index, zone):
    centre = zone("16").geometry.representative_point()
    pings = [_ping("227000004", T0, centre.x, centre.y + 0.01),
             _ping("227000004", T0 + 3600, centre.x, centre.y - 0.01)]
    _, alerts = _run(pings, index)
    assert [(a.kind, a.zones) for a in alerts] == [("gap", ())]


def test_dwell_once_per_visit():
    index = _square_index({"dwell_minutes": 10})
    visit = [_ping("227000005", T0 + 60 * i, 0.05, 0.05) for i in range(15)]
    out = _ping("227000005", T0 + 60 * 15, 0.5, 0.5)
    again = [_ping("227000005", T0 + 60 * (16 + i), 0.05, 0.05) for i in range(11)]
    _, alerts = _run(visit + [out] + again, index)
    assert [(a.kind, a.time - T0, a.since) for a in alerts] == [
        ("entered", 0, None), ("dwell", 600, T0), ("exited", 900, T0),
        ("entered", 960, None), ("dwell", 1560, T0 + 960)]


def test_dwell_by_fishing_speed():
    speeds = [9.0, 8.0, 3.0, 2.5, 3.0]
    pings = [_ping("227000006", T0 + 60 * i, 0.05, 0.05, sog=s) for i, s in enumerate(speeds)]
    _, alerts = _run(pings, _square_index({"dwell_minutes": False, "fishing_speed_knots": [0.5, 4.0]}))
    assert [(a.kind, a.time - T0, a.sog) for a in alerts] == [("entered", 0, 9.0), ("dwell", 120, 3.0)]
    _, alerts = _run(pings, _square_index({"dwell_minutes": 3, "fishing_speed_knots": [0.5, 4.0]}))
    assert [(a.kind, a.time - T0) for a in alerts] == [("entered", 0), ("dwell", 180)]


def test_which_vessels_a_zone_concerns():
    index = _square_index({"vessels": {"ship_types": [30], "mmsi": ["227999999"], "include_unknown_type": False}})
    pings = lambda mmsi, t: [_ping(mmsi, t, 0.05, 0.05), _ping(mmsi, t + 60, 0.5, 0.5)]  # noqa: E731
    _, alerts = _run(pings("227000007", T0), index)  # type unknown: excluded
    assert alerts == []
    _, alerts = _run([_static("227000007", T0 - 1, ship_type=70)] + pings("227000007", T0), index)
    assert alerts == []
    _, alerts = _run([_static("227000007", T0 - 1, ship_type=30)] + pings("227000007", T0), index)
    assert [a.kind for a in alerts] == ["entered", "exited"]
    _, alerts = _run(pings("227999999", T0), index)  # on the watch list
    assert [a.kind for a in alerts] == ["entered", "exited"]


def test_stale_and_duplicate_positions_change_nothing(index):
    first, second = _ping("227000008", T0, 0.0, 45.0), _ping("227000008", T0 + 10, 0.1, 45.0)
    state, _ = step(None, first, index, frozenset(), CONFIG)
    state, _ = step(state, second, index, frozenset(), CONFIG)
    for late in (first, second, _ping("227000008", T0 + 10, 5.0, 45.0)):
        again, alerts = step(state, late, index, frozenset(), CONFIG)
        assert again is state and alerts == []


def test_step_is_pure_and_its_state_serialisable():
    index = _square_index({"dwell_minutes": 1})
    state = None
    for i in range(4):
        before = copy.deepcopy(state)
        new, _ = step(state, _ping("227000009", T0 + 60 * i, 0.05, 0.05), index, frozenset({"sq"}), CONFIG)
        assert state == before  # not modified in place
        state = new
    state, _ = process_batch([_static("227000009", T0 + 300, name="KORRIGAN", ship_type=30)],
                             {"227000009": state}, index, CONFIG)
    state = state["227000009"]
    assert state["zones"] == {"sq": {"since": T0, "dwell": True}} and state["name"] == "KORRIGAN"
    assert json.loads(json.dumps(state)) == state  # no tuples, no sets
    assert msgpack.unpackb(msgpack.packb(state)) == state


def test_batch_states_in_and_out(index):
    records = [_ping("227000010", T0, 1.0, 1.0), _ping("227000011", T0, 2.0, 2.0), _static("227000012", T0, "X")]
    states, alerts = process_batch(records, {"227000010": None, "227000011": None, "227000012": None}, index, CONFIG)
    assert sorted(states) == ["227000010", "227000011", "227000012"] and alerts == []
    assert states["227000010"]["last"] == {"time": T0, "lat": 1.0, "lon": 1.0, "sog": 6.0}
    assert states["227000012"]["name"] == "X" and states["227000012"]["last"] is None


def test_antimeridian_and_poles_do_not_crash_the_tracker(index):
    pings = [_ping("227000013", T0 + 60 * i, lon, lat) for i, (lon, lat) in
             enumerate([(179.9, -10.0), (-179.9, -10.0), (-179.9, 89.0), (0.0, 90.0), (180.0, -90.0)])]
    states, alerts = _run(pings, index)
    assert alerts == [] and states["227000013"]["last"]["lat"] == -90.0


def _demo_records():
    decoder = AisDecoder()
    records = []
    for i, line in enumerate(DEMO_FILE.read_text(encoding="ascii").splitlines()):
        records += [r for r in decoder.feed(line, received_at=T0 + i) if not isinstance(r, Rejection)]
    return records


def test_shuffled_and_duplicated_input_gives_the_same_alerts(index):
    records = _demo_records()
    batches = [records[i:i + 250] for i in range(0, len(records), 250)]
    clean_states, clean = {}, []
    for chunk in batches:
        new, found = process_batch(chunk, {r.mmsi: clean_states.get(r.mmsi) for r in chunk}, index, CONFIG)
        clean_states.update(new)
        clean += found
    assert {a.kind for a in clean} == set(ALERT_KINDS)

    rng = random.Random(5)
    dirty_states, dirty = {}, []
    shuffled_any = False
    for number, chunk in enumerate(batches):
        seen_before = [r for earlier in batches[:number] for r in earlier]
        messy = chunk + rng.sample(chunk, len(chunk) // 4) + rng.sample(seen_before, min(40, len(seen_before)))
        rng.shuffle(messy)
        shuffled_any |= any(b.time < a.time for a, b in zip(messy, messy[1:]))
        new, found = process_batch(messy, {r.mmsi: dirty_states.get(r.mmsi) for r in messy}, index, CONFIG)
        dirty_states.update(new)
        dirty += found
    assert shuffled_any
    assert dirty == clean
    assert dirty_states == clean_states


def test_alert_rules_give_distinct_deterministic_event_ids(index, zone):
    inside = zone("9").geometry.representative_point()  # inside both Gâvres (9) and rade de Lorient (17)
    ping = _ping("227000014", T0, inside.x, inside.y)
    _, alerts = _run([ping], index)
    assert [(a.kind, a.rule) for a in alerts] == [("entered", "geofence.entered:17"), ("entered", "geofence.entered:9")]
    assert all(a.cause == ping for a in alerts)
    cause = position_event(ping, "ais://test")
    events = [derive(cause, a.rule, a.event_type, a.to_data(), source="alcyon/geofence") for a in alerts]
    assert [e.id for e in events] == [derived_id(cause.id, a.rule) for a in alerts]
    assert len({e.id for e in events}) == 2
    assert events[0].type == "geofence.entered" and events[0].data["zone_name"] == "rade de Lorient"
    assert json.loads(json.dumps(events[0].data)) == events[0].data


@pytest.mark.parametrize("raw", [{"gap_minute": 3}, {"gap_minutes": 0}, {"gap_minutes": "30"}])
def test_bad_tracker_config(raw):
    with pytest.raises(ConfigError, match="gap_minute"):
        TrackerConfig.from_mapping(raw)
