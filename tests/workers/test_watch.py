"""The demo's live display: a bar for a source that reports progress, a count for one that cannot."""

from __future__ import annotations

import io
import re
from types import SimpleNamespace

from alcyon import Event
from alcyon_workers.watch import Figures, LiveDisplay


def test_a_source_without_progress_shows_its_count_and_alerts_scroll_above_the_block() -> None:
    figures = Figures()
    stream = io.StringIO()
    display = LiveDisplay(figures, stream, every_s=60)  # drawn by hand below
    display.start([SimpleNamespace(name="ais", publishes=("ais.position",)),
                   SimpleNamespace(name="udp-camera", publishes=("camera.frame",))])
    display.progress("ais", 50, 200)
    figures.count("camera.frame", [Event("camera.frame", "t", "cam", {}) for _ in range(7)])
    figures.count("geofence.entered", [Event("geofence.entered", "t", "200000001",
                                             {"mmsi": "200000001", "zone_name": "baie de Quiberon", "lat": 47.5,
                                              "lon": -3.1})])
    display.stop()
    text = stream.getvalue()
    assert re.search(r"source ais +\[######\.{18}\]  25%", text)
    assert re.search(r"source udp-camera +7 events", text)  # no progress: its pipeline's count
    assert text.index("ALERT geofence.entered") < text.index("source ais")
    assert "MMSI 200000001 baie de Quiberon  (47.500, -3.100)" in text
    assert re.search(r"maritime 1 events, [\d,]+/s +fire 7 events", text)
