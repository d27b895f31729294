"""The committed demo recording: reproducible, labelled, and it plays the scenarios it claims."""

from __future__ import annotations

from alcyon_geofence.ais import AisDecoder, Rejection
from alcyon_geofence.make_demo import DEMO_FILE, REAL_SAMPLE, START, generate, main
from alcyon_geofence.tracker import TrackerConfig, process_batch


def test_regenerating_gives_the_same_bytes(tmp_path):
    assert generate().encode("ascii") == DEMO_FILE.read_bytes()
    assert main(["--out", str(tmp_path / "demo.nmea")]) == 0
    assert (tmp_path / "demo.nmea").read_bytes() == DEMO_FILE.read_bytes()
    assert generate(seed=1) != generate()


def test_small_labelled_and_real_lines_unchanged():
    data = DEMO_FILE.read_bytes()
    assert len(data) < 300_000
    lines = data.decode("ascii").splitlines()
    assert lines[0].startswith("#") and "SYNTHETIC" in lines[0]
    real = [line for line in lines if line.startswith("!")]
    assert real == [line for line in REAL_SAMPLE.read_text(encoding="ascii").splitlines() if line]
    synthetic = [line for line in lines if line.startswith("\\")]
    assert synthetic and all(line.startswith("\\s:alcyon-demo,c:") for line in synthetic)


def test_the_scenarios_happen(index):
    decoder = AisDecoder()
    records = []
    for i, line in enumerate(DEMO_FILE.read_text(encoding="ascii").splitlines()):
        # received_at far from the tag-block times: synthetic lines must use their c: time.
        records += [r for r in decoder.feed(line, received_at=float(i)) if not isinstance(r, Rejection)]
    assert decoder.counts["rejected:bad_checksum"] == decoder.counts["rejected:malformed"] == 0
    states, alerts = {}, []
    for start in range(0, len(records), 500):
        chunk = records[start:start + 500]
        new, found = process_batch(chunk, {r.mmsi: states.get(r.mmsi) for r in chunk}, index, TrackerConfig())
        states.update(new)
        alerts += found
    by_vessel = {}
    for alert in alerts:
        by_vessel.setdefault(alert.mmsi, []).append((alert.kind, alert.zone_id))
    assert by_vessel == {
        "200000001": [("entered", "3"), ("exited", "3")],
        "200000002": [("entered", "3"), ("gap", None), ("exited", "3")],
        "200000003": [("crossed", "10")],
        "200000004": [("entered", "2"), ("dwell", "2"), ("exited", "2")],
    }
    assert all(START <= alert.time <= START + 4 * 3600 for alert in alerts)
    assert {alert.vessel_name for alert in alerts} == {"DEMO TRAWLER ONE", "DEMO TRAWLER TWO", "DEMO FAST THREE",
                                                       "DEMO TRAWLER FOUR"}
    gap = next(a for a in alerts if a.kind == "gap")
    assert gap.zones == ("3",) and gap.time - gap.previous[0] > 45 * 60
