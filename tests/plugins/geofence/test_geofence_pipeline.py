"""The geofence plugin as it runs: through the runtime, embedded and on RabbitMQ + Redis."""

from __future__ import annotations

import random
from pathlib import Path

import alcyon_geofence.plugin
from alcyon_geofence.ais import position_event, static_event

from .test_geofence_tracker import T0, _demo_records, _ping, _route, _static

GEOFENCE = ("geofence", alcyon_geofence.plugin)
ROOT = Path(__file__).resolve().parents[3]


def alerts_of(harness):
    return [(e.type, e.subject, e.data["zone_id"], e.data["time"]) for e in harness.published("geofence.*")]


def test_entering_then_leaving_quiberon_through_the_runtime(alcyon_harness, mode_url):
    points = _route([(-3.215, 47.548), (-3.150, 47.545), (-3.152, 47.520), (-3.200, 47.490)], 40)
    pings = [_ping("227000001", T0 + 30 * i, x, y) for i, (x, y) in enumerate(points)]
    h = alcyon_harness(GEOFENCE, broker_url=mode_url, threads=1,
                       plugin_config={"geofence": {"inputs": []}})
    h.publish(static_event(_static("227000001", T0 - 60, name="BREIZH", ship_type=30), "test"))
    h.join()
    h.publish(position_event(p, "test") for p in pings)
    h.join()
    found = alerts_of(h)
    assert [(kind, zone) for kind, _, zone, _ in found] == [("geofence.entered", "3"), ("geofence.exited", "3")]
    entered, exited = h.published("geofence.*")
    assert entered.data["vessel_name"] == "BREIZH" and entered.data["zone_name"] == "baie de Quiberon"
    assert entered.time.timestamp() < exited.time.timestamp() == exited.data["time"]
    assert exited.data["since"] == entered.data["time"]
    assert entered.extensions["causeid"] in {position_event(p, "test").id for p in pings}


def test_shuffled_and_duplicated_events_give_the_same_alerts(alcyon_harness):
    records = _demo_records()
    statics = [static_event(r, "demo") for r in records if type(r).__name__ == "StaticData"]
    positions = [position_event(r, "demo") for r in records if type(r).__name__ == "Position"]
    chunks = [positions[i:i + 200] for i in range(0, len(positions), 200)]
    # each chunk is flushed by join() as ONE broker message (no size or linger cut inside it)
    settings = {"batch_max_events": 100_000, "batch_linger_ms": 60_000}

    def run(messy: bool):
        h = alcyon_harness(GEOFENCE, threads=1, settings=settings, plugin_config={"geofence": {"inputs": []}})
        h.publish(statics)
        h.join()
        rng = random.Random(7)
        for number, chunk in enumerate(chunks):
            batch = list(chunk)
            if messy:  # shuffled, with repeats from this batch and from earlier ones
                earlier = [e for c in chunks[:number] for e in c]
                batch += rng.sample(chunk, 30) + rng.sample(earlier, min(20, len(earlier)))
                rng.shuffle(batch)
            h.publish(batch)
            h.join()
        # a repeated input that had raised an alert re-publishes that same alert (same id): sinks
        # deduplicate by id, so the alerts are the distinct ones
        return sorted({(e.id, e.type, e.subject, e.data["zone_id"]) for e in h.published("geofence.*")})

    clean = run(messy=False)
    assert {t for _, t, _, _ in clean} == {"geofence.entered", "geofence.exited", "geofence.crossed",
                                           "geofence.dwell", "geofence.gap"}
    assert run(messy=True) == clean


def test_positions_with_bad_motion_fields_are_dead_lettered_as_schema_errors(alcyon_harness, mode_url):
    from alcyon import Event

    h = alcyon_harness(GEOFENCE, broker_url=mode_url, threads=1, plugin_config={"geofence": {"inputs": []}})
    good = position_event(_ping("227000002", T0, -3.2, 47.5), "test")
    bad_values = {"sog": "fast", "cog": 400.0, "heading": True, "nav_status": float("nan")}
    bad = [Event(type=good.type, source="test", subject=f"22700001{i}", time=good.time,
                 data={**good.data, name: value}) for i, (name, value) in enumerate(bad_values.items())]
    h.publish([good, *bad])
    h.join()
    dead = {d.event_id: d for d in h.dead_letters("geofence")}
    assert set(dead) == {e.id for e in bad}
    assert all(d.reason == "schema_error" and d.attempts == 1 for d in dead.values())
    assert "data.sog must be null or a number in [0.0, 102.3), got 'fast'" in dead[bad[0].id].error
