"""`alcyon run --until-idle` on the embedded default: the AIS replay alone (the quick start is `alcyon demo`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

EXPECTED = {  # the scenarios of the bundled demo recording (see alcyon_geofence.make_demo)
    ("geofence.entered", "200000001", "3"), ("geofence.exited", "200000001", "3"),
    ("geofence.entered", "200000002", "3"), ("geofence.gap", "200000002", None),
    ("geofence.exited", "200000002", "3"), ("geofence.crossed", "200000003", "10"),
    ("geofence.entered", "200000004", "2"), ("geofence.dwell", "200000004", "2"),
    ("geofence.exited", "200000004", "2"),
}


def run_demo(cwd, **env) -> tuple[subprocess.CompletedProcess, list[dict]]:
    result = subprocess.run([sys.executable, "-m", "alcyon.cli", "run", "--until-idle"], cwd=cwd,
                            env={**os.environ, "ALCYON_METRICS_PORT": "0", **env},
                            capture_output=True, text=True, timeout=120)
    alerts_file = cwd / "alerts.jsonl"
    alerts = [json.loads(line) for line in alerts_file.read_text().splitlines()] if alerts_file.exists() else []
    return result, alerts


def test_embedded_run_replays_the_demo_and_writes_every_alert_once(tmp_path):
    result, alerts = run_demo(tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert {(a["type"], a["subject"], a["data"]["zone_id"]) for a in alerts} == EXPECTED
    assert len(alerts) == len(EXPECTED) == len({a["id"] for a in alerts})
    logs = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    done = next(line for line in logs if line["event"] == "ais_input_done")
    # the real sample's 100 empty payloads and 20 orphan fragments are rejected, and kept
    assert done["rejected_empty_payload"] == 100 and done["rejected_orphan_fragment"] == 20
    assert sum(1 for line in logs if line["event"] == "input_rejected") == 124
    assert ("derived 9 event(s): geofence.crossed 1, geofence.dwell 1, geofence.entered 3, geofence.exited 3, "
            "geofence.gap 1") in result.stdout
    assert "124 input(s) rejected, kept as dead letters" in result.stdout


def test_a_bad_zone_file_stops_the_start_with_the_fix(tmp_path):
    zones = tmp_path / "zones.geojson"
    zones.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "id": "z1", '
                     '"properties": {"name": "Line"}, "geometry": {"type": "LineString", '
                     '"coordinates": [[0, 0], [1, 1]]}}]}')
    result, alerts = run_demo(tmp_path, ALCYON_GEOFENCE__ZONES=str(zones))
    assert result.returncode == 2 and alerts == []
    assert "feature #0 (id 'z1', name 'Line')" in result.stderr and "must be Polygon or MultiPolygon" in result.stderr


def test_each_plugin_starts_up_once_per_run(tmp_path):
    """The hooks describing what plugins provide are called once: zones read once, sinks built once."""
    result, _ = run_demo(tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    events = [json.loads(line)["event"] for line in result.stderr.splitlines() if line.startswith("{")]
    assert events.count("zones_loaded") == 1
    assert events.count("notify_sink") == 1


def test_on_a_terminal_the_run_speaks_to_a_person(tmp_path):
    """Under a pseudo-terminal: readable lines from warning up, one line per rejection reason, counts at the end."""
    import pty
    import re

    main, child = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "alcyon.cli", "run", "--until-idle"], cwd=tmp_path,
                               env={**os.environ, "ALCYON_METRICS_PORT": "0"}, stdin=subprocess.DEVNULL,
                               stdout=child, stderr=child)
    os.close(child)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert process.wait(timeout=120) == 0
    os.close(main)
    text = re.sub(r"\x1b\[[0-9;]*m", "", b"".join(chunks).decode())
    lines = text.splitlines()
    assert not any(line.startswith("{") for line in lines), "JSON on a terminal"
    rejections = [line for line in lines if "] input_rejected" in line]
    assert len(rejections) == 3 and all("[warning" in line for line in rejections)  # one per reason, not 124
    assert not any("[info" in line for line in lines)
    assert "124 input(s) rejected, kept as dead letters" in text
    assert "rejected by reason: ais empty_payload 100, ais orphan_fragment 20, ais position_unavailable 4" in text
