"""The geofence state machine on the real French MPAs and on small hand-made zones."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import random

import msgpack
import numpy as np
import pytest
from shapely.geometry import LineString, Point

from alcyon.errors import ConfigError
from alcyon.events import derive, derived_id
from alcyon_geofence.ais import AisDecoder, Position, Rejection, StaticData, position_event
from alcyon_geofence.make_demo import DEMO_FILE
from alcyon_geofence.tracker import ALERT_KINDS, TrackerConfig, apply_static, process_batch, step
from alcyon_geofence.zones import ZoneIndex, parse_rules, zones_from_geojson

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


def test_reports_with_the_same_time_the_first_delivered_counts_whatever_the_batch_boundaries(index, zone):
    inside = zone("3").geometry.representative_point()
    here = _ping("227000016", T0, inside.x, inside.y)
    there = _ping("227000016", T0, -3.3, 47.4)
    earlier = _ping("227000016", T0 - 60, -3.3, 47.4)
    filler = [_ping(f"22700{n:04d}", T0, -3.3, 47.4) for n in range(20)]  # big batches take the batch path
    for first, second, kinds in ((here, there, ["entered"]), (there, here, [])):
        outcomes = set()
        for records in ([earlier, first, second], [earlier, first, second, *filler]):
            for batch in (1, 2, 3, 50):
                states, alerts = _run(records, index, batch=batch)
                assert [a.kind for a in alerts] == kinds
                outcomes.add(states["227000016"]["last"]["lon"])
        assert outcomes == {first.lon}


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


def test_a_ship_type_revealed_inside_a_zone_that_does_not_watch_it_gives_no_false_exit():
    """Static data arriving while a vessel is inside: the open visit lasts until it really leaves,
    with no `exited` before, and no dwell for a type the zone does not watch."""
    index = _square_index({"vessels": {"ship_types": [30], "include_unknown_type": True}, "dwell_minutes": 2})
    mmsi = "227000017"
    inside = [_ping(mmsi, T0 + 60 * i, 0.05, 0.05) for i in range(5)]
    records = [inside[0], _static(mmsi, T0 + 30, ship_type=70), *inside[1:], _ping(mmsi, T0 + 300, 0.5, 0.5)]
    for batch in (1, 2, 50):  # whatever the batch boundaries (and both the stepwise and the batch path)
        states, alerts = _run(records, index, batch=batch)
        assert [(a.kind, a.time - T0) for a in alerts] == [("entered", 0), ("exited", 300)], batch
        assert states[mmsi]["zones"] == {} and states[mmsi]["ship_type"] == 70
    # a vessel of that type entering afterwards is not concerned at all
    _, alerts = _run([_static("227000018", T0 - 1, ship_type=70), _ping("227000018", T0, 0.05, 0.05)], index)
    assert alerts == []


def test_a_zone_removed_by_a_reload_ends_its_visits_with_the_zone_name_kept():
    square, elsewhere = _square_index(), _square_index(size=0.01)
    mmsi = "227000019"
    state, alerts = step(None, _ping(mmsi, T0, 0.05, 0.05), square, frozenset({"sq"}), CONFIG)
    assert [(a.kind, a.zone_name) for a in alerts] == [("entered", "Square")]
    gone = ZoneIndex([])  # the reloaded file no longer has the zone
    state, alerts = step(state, _ping(mmsi, T0 + 60, 0.05, 0.05), gone, frozenset(), CONFIG)
    assert [(a.kind, a.zone_id, a.zone_name, a.since) for a in alerts] == [("exited", "sq", "Square", T0)]
    assert state["zones"] == {} and elsewhere.get("sq") is not None


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
    assert state["zones"] == {"sq": {"since": T0, "dwell": True, "name": "Square"}} and state["name"] == "KORRIGAN"
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


def _stepwise(records, states, index, config):
    """process_batch the plain way: each vessel's records in order through apply_static or step,
    which finds the zones crossed by each leg itself."""
    by_vessel = {}
    for record in records:
        by_vessel.setdefault(record.mmsi, []).append(record)
    new_states, alerts = {}, []
    for mmsi in sorted(by_vessel):
        state = states.get(mmsi) or {}
        for record in sorted(by_vessel[mmsi], key=lambda r: (r.time, isinstance(r, Position))):
            if isinstance(record, StaticData):
                state = apply_static(state, record)
            else:
                state, found = step(state, record, index, index.containing([record.lon], [record.lat])[0], config)
                alerts += found
        new_states[mmsi] = state
    return new_states, alerts


def _random_tracks(rng, zones, config, vessels=30, pings=60):
    """Vessels around real zones: drifting in and out, dwelling, going dark, reporting twice in a
    second, with static data now and then; every third starts in both Gâvres (9) and rade de
    Lorient (17), every fifth heads off in a straight line."""
    centres = [z.geometry.representative_point() for z in zones]
    both = next(z for z in zones if z.id == "9").geometry.representative_point()
    records = []
    for v in range(vessels):
        mmsi = f"2271{v:05d}"
        centre = both if v % 3 == 0 else rng.choice(centres)
        x, y = centre.x + rng.uniform(-0.005, 0.005), centre.y + rng.uniform(-0.005, 0.005)
        t = T0 + rng.uniform(0, 600)
        spread = rng.choice([0.001, 0.005, 0.02])
        heading = (rng.uniform(-0.03, 0.03), rng.uniform(-0.03, 0.03)) if v % 5 == 1 else (0.0, 0.0)
        for _ in range(pings):
            t += rng.choices([0.0, 30.0, 60.0, 240.0, config.gap_seconds, config.gap_seconds + 1],
                             [2, 40, 30, 10, 3, 3])[0]
            x, y = x + heading[0] + rng.gauss(0, spread), y + heading[1] + rng.gauss(0, spread)
            if rng.random() < 0.04:
                x, y = centre.x, centre.y  # back inside
            if rng.random() < 0.05:
                records.append(_static(mmsi, t + rng.choice([-5.0, 0.0, 5.0]),
                                       name=rng.choice([None, "ALPHA", "BRAVO"]), ship_type=rng.choice([None, 30, 70])))
            records.append(_ping(mmsi, t, x, y, sog=rng.choice([None, 0.0, 2.5, 6.0, 14.0])))
    return records


def _across_9_inside_17(zone):
    """Two points of rade de Lorient (17) outside Gâvres (9) whose leg crosses Gâvres."""
    g9, g17 = zone("9").geometry, zone("17").geometry
    near = [Point(x, y) for x in np.linspace(-3.343, -3.251, 40) for y in np.linspace(47.678, 47.736, 30)
            if g17.contains(Point(x, y)) and not g9.contains(Point(x, y)) and Point(x, y).distance(g9) < 0.005]
    return next((a, b) for a in near for b in near if LineString([a, b]).intersects(g9))


def _corner_cases(zone, config):
    """Hand-made vessels for the cases random tracks seldom hit: (records in time order, stored states)."""
    both = zone("9").geometry.representative_point()
    west, east = _across_9_inside_17(zone)
    # shuttling inside rade de Lorient across Gâvres, some legs lasting exactly the gap threshold,
    # and named at the second of one crossing
    times = np.cumsum([60.0, config.gap_seconds, 60.0, config.gap_seconds + 1] * 10).tolist()
    records = [_ping("227200001", T0 + t, *((west.x, west.y) if i % 2 else (east.x, east.y)))
               for i, t in enumerate(times)]
    records.append(_static("227200001", T0 + times[10], name="SHUTTLE"))
    records += [_ping("227200002", T0 + 60 * i, -8.0 + 0.001 * i, 46.0) for i in range(40)]  # offshore
    records += [_ping("227200003", T0 + 60 * i, both.x, both.y + 0.0001 * (i % 2)) for i in range(40)]  # moored
    records += [_ping("227200004", T0 + 60, 0.5, 45.0), _ping("227200004", T0 + 60, 0.6, 45.0)]  # one second, twice
    records += [_static("227200005", T0 + 4000, name="DARK"), _ping("227200005", T0 + 4000, 0.0, 44.0)]  # after a gap
    records += [_ping("227200006", T0 - 60, 1.0, 44.0), _ping("227200006", T0, 1.1, 44.0)]  # late: its last second
    quiberon = zone("3").geometry.representative_point()
    records += [_ping("227200007", T0 + 10, quiberon.x, quiberon.y)]  # back from a gap, in a zone
    records += [_ping("227200008", T0, 0.0, 43.0), _ping("227200008", T0 + 4000, 0.1, 43.0)]  # a gap after a ping
    visit = {"since": T0 - 7200, "dwell": True}

    def state(time, lon, lat, zones):
        return {"last": {"time": time, "lat": lat, "lon": lon, "sog": 1.0}, "zones": zones, "name": None,
                "ship_type": None, "static_time": None}

    states = {"227200002": state(T0 - 60, -8.0, 46.0, {"x": visit}),  # in a zone since removed
              "227200003": state(T0 - 60, both.x, both.y, {"9": visit, "17": visit}),  # not in sorted order
              "227200005": state(T0, 0.1, 44.0, {}),
              "227200006": state(T0 - 60, 0.9, 44.0, {}),
              "227200007": state(T0 - 7200, -3.3, 47.4, {}),
              "227200008": state(T0 - 100, 0.0, 43.1, {})}
    return sorted(records, key=lambda r: r.time), states


@pytest.mark.parametrize("shuffle", [False, True])
def test_corner_cases_of_the_batch_path_are_step_on_every_record(index, zone, shuffle):
    records, states = _corner_cases(zone, CONFIG)
    if shuffle:
        random.Random(3).shuffle(records)
    given = {r.mmsi: copy.deepcopy(states.get(r.mmsi)) for r in records}
    new, alerts = process_batch(records, given, index, CONFIG)
    expected_states, expected_alerts = _stepwise(records, given, index, CONFIG)
    assert alerts == expected_alerts
    assert msgpack.packb(new) == msgpack.packb(expected_states)
    kinds = {(a.mmsi, a.kind, a.zone_id, a.vessel_name) for a in alerts}
    assert {("227200001", "crossed", "9", "SHUTTLE"), ("227200002", "exited", "x", None),
            ("227200005", "gap", None, "DARK"), ("227200007", "gap", None, None),
            ("227200007", "entered", "3", None)} <= kinds


def test_process_batch_is_step_on_every_record_in_order(index, zones, zone):
    """The batch path (fast for big batches, stepwise for small ones) against the straightforward
    one: same new states, byte for byte once packed, and the same alerts in the same order,
    whatever the batching, the order, the repeats and late reports."""
    rules, per_zone = parse_rules({
        "vessels": {"ship_types": [30], "mmsi": ["227100003"], "include_unknown_type": False}, "dwell_minutes": 5,
        "zones": {"3": {"dwell_minutes": False, "fishing_speed_knots": [0.5, 4.0]},
                  "9": {"vessels": "all", "dwell_minutes": 0}}})
    ruled = ZoneIndex([dataclasses.replace(z, rules=per_zone.get(z.id, rules)) for z in zones])
    reloaded = ZoneIndex([z for z in zones if z.id not in ("3", "9", "17")])  # visits in the states outlive them
    both = zone("9").geometry.representative_point()
    rng = random.Random(20)
    kinds = set()
    for zone_index, config in ((index, CONFIG), (ruled, TrackerConfig(gap_seconds=900.0))):
        records, states = _corner_cases(zone, config)
        records += _random_tracks(rng, zones, config)
        records.sort(key=lambda r: r.time // 3600)  # roughly in time order, as received
        # stored visits: the zones out of sorted order, then also a zone since removed
        visit = {"since": T0 - 600, "dwell": False}
        for v in range(0, 30, 3):
            states[f"2271{v:05d}"] = {"last": {"time": T0 - 60, "lat": both.y, "lon": both.x, "sog": 1.0},
                                      "zones": {"9": visit, "17": visit} | ({} if v % 2 else {"x": visit}),
                                      "name": "OLD", "ship_type": None, "static_time": T0 - 3600}
        previous: list = []
        start = 0
        for number, size in enumerate([400, 16, 60, 1, 400, 15, 120, 7, 400, 60] * 10):
            if start >= len(records):
                break
            chunk = records[start:start + size]
            start += size
            # replays of earlier records, and late reports of a vessel's last second that say otherwise
            chunk += rng.sample(previous, min(len(previous), 6))
            last_of = {r.mmsi: r for r in sorted(previous, key=lambda r: r.time) if isinstance(r, Position)}
            chunk += [_ping(p.mmsi, p.time, p.lon + 0.01, p.lat, p.sog)
                      for p in rng.sample(list(last_of.values()), min(len(last_of), 3))]
            if number % 2:
                rng.shuffle(chunk)
            previous = chunk
            current = reloaded if number % 4 == 3 else zone_index
            given = {r.mmsi: states.get(r.mmsi) for r in chunk}
            kept = copy.deepcopy(given)
            new, alerts = process_batch(chunk, given, current, config)
            assert given == kept  # the stored states are not modified
            expected_states, expected_alerts = _stepwise(chunk, kept, current, config)
            assert alerts == expected_alerts
            assert msgpack.packb(new) == msgpack.packb(expected_states)
            states.update(new)
            kinds.update(a.kind for a in alerts)
    assert kinds == set(ALERT_KINDS)


def test_times_that_are_not_numbers_take_the_stepwise_path(index, zone):
    """The fast path orders times with numpy, which cannot tell where Python's sort puts a NaN."""
    inside = zone("3").geometry.representative_point()
    records = [_ping("227000017", T0 + i, inside.x, inside.y) for i in range(20)]
    records[5] = _ping("227000017", math.nan, inside.x, inside.y)
    stored = {"227000017": {"last": {"time": T0 - 60, "lat": 47.4, "lon": -3.3, "sog": None}, "zones": {},
                            "name": None, "ship_type": None, "static_time": None}}
    assert process_batch(records, stored, index, CONFIG) == _stepwise(records, stored, index, CONFIG)


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
