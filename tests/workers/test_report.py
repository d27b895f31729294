"""`alcyon report` from a PostgreSQL archive: any run's, not only the demo's SQLite one."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.slow
@pytest.mark.postgres
def test_report_from_a_postgresql_archive_of_an_ordinary_run(tmp_path, postgres_url):
    config = tmp_path / "alcyon.toml"
    config.write_text(f"""
[alcyon]
metrics_port = 0
[plugins.fire.cameras.tower-1]
input = "demo"
[plugins.emissions]
inputs = ["demo"]
[plugins.archive]
url = "{postgres_url}"
subscribe = ["geofence.*", "*.alert", "*.alert.#", "emissions.record", "emissions.gap", "ais.position",
             "fire.detection"]
blobs_dir = "{tmp_path / 'blobs'}"
[plugins.notify]
jsonl_path = "{tmp_path / 'alerts.jsonl'}"
""")
    env = {**os.environ}
    for key in ("ALCYON_BROKER_URL", "ALCYON_ARCHIVE_URL", "ALCYON_STATE_URL"):
        env.pop(key, None)
    run = subprocess.run([sys.executable, "-m", "alcyon.cli", "-c", str(config), "run", "--until-idle"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    report = subprocess.run([sys.executable, "-m", "alcyon.cli", "report", "--archive", postgres_url,
                             "-o", str(tmp_path / "report.html")], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=120)
    assert report.returncode == 0, report.stderr[-3000:]
    html = (tmp_path / "report.html").read_text()
    overview = html.split('<svg class="map"')[1]
    assert overview.count('class="marker marker-') == 9  # the recording's nine geofence alerts
    assert html.count("data:image/jpeg;base64,") == 17  # 16 frames and the trigger frame
    assert html.count('class="series"') == 3 and 'class="gap"' in html
    assert "<b>170</b><span>vessels seen" in html and "<b>11</b><span>alerts" in html
    assert "Inputs rejected by reason (each kept as a dead letter): not in the archive" in html  # no summary.json
