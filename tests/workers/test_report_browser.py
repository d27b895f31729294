"""The demo's HTML report in headless Chromium (Debian's package): map, frames and chart render, no console error."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium(page: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: apt-get install -y chromium (.ci/run does it)")
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                           f"--user-data-dir={tmp / 'chromium-profile'}", "--enable-logging=stderr", "--v=0",
                           *args, page.as_uri()], capture_output=True, text=True, timeout=120)


def console_messages(stderr: str) -> list[str]:
    """What the page wrote to its console or threw (Chromium logs them as CONSOLE lines)."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


class Elements(HTMLParser):
    """Every element as (tag, attributes, index of the enclosing top-level svg or None)."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[tuple[str, dict[str, str], int | None]] = []
        self.svg: int | None = None
        self.depth = 0
        self.count = -1

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "svg":
            if self.depth == 0:
                self.count += 1
                self.svg = self.count
            self.depth += 1
        self.items.append((tag, a, self.svg if self.depth else None))

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.depth -= 1
            if self.depth == 0:
                self.svg = None

    def having(self, tag: str, css: str) -> list[tuple[str, dict[str, str], int | None]]:
        return [i for i in self.items if i[0] == tag and css in i[1].get("class", "").split()]


def path_bounds(d: str) -> tuple[float, float, float, float]:
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", d)]
    xs, ys = numbers[0::2], numbers[1::2]
    return min(xs), min(ys), max(xs), max(ys)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "run"
    env = {**os.environ, "ALCYON_METRICS_PORT": "0"}
    env.pop("ALCYON_BROKER_URL", None)
    result = subprocess.run([sys.executable, "-m", "alcyon.cli", "demo", "-o", str(out)], env=env,
                            capture_output=True, text=True, timeout=300, cwd=out.parent)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def test_the_console_check_sees_page_errors(tmp_path):
    """The check below could fail: a page that logs an error and throws is caught."""
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><script>console.error('boom-logged');"
                    "undefinedFunction();</script></body></html>")
    messages = console_messages(chromium(page, tmp_path, "--dump-dom").stderr)
    assert any("boom-logged" in m for m in messages) and any("undefinedFunction" in m for m in messages), messages


def test_report_renders_map_frames_and_chart_with_markers_where_the_alerts_are(demo_run, tmp_path):
    report = demo_run / "report.html"
    dom = chromium(report, tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert console_messages(dom.stderr) == []
    page = Elements()
    page.feed(dom.stdout)
    [body] = [a for t, a, _ in page.items if t == "body"]
    assert body.get("data-markers") == str(len(page.having("g", "marker")))  # the inline script ran

    # the map: zones, tracks, and one marker per geofence alert at its position, inside its zone when it is in one
    alerts = [(t, json.loads(d)) for t, d in sqlite3.connect(demo_run / "archive.sqlite").execute(
        "SELECT type, data FROM events WHERE type LIKE 'geofence.%'")]
    assert len(alerts) == 9
    maps = page.having("svg", "map")
    assert len(maps) >= 2
    overview = next(svg for tag, a, svg in page.items if tag == "svg" and "map" in a.get("class", ""))
    markers = [a for _, a, svg in page.having("g", "marker") if svg == overview]
    assert sorted((a["data-kind"], float(a["data-lat"]), float(a["data-lon"])) for a in markers) == \
        sorted((d["kind"], d["lat"], d["lon"]) for _, d in alerts)
    zones = {a["data-zone"]: path_bounds(a["d"]) for _, a, svg in page.having("path", "zone") if svg == overview}
    assert {"2", "3", "10"} <= set(zones)  # Cassidaigne, Quiberon, Houat-Hoedic
    for marker in markers:
        if marker["data-kind"] in ("entered", "dwell", "crossed"):
            x, y = float(marker["data-x"]), float(marker["data-y"])
            west, north, east, south = zones[marker["data-zone"]]
            assert west - 2 <= x <= east + 2 and north - 2 <= y <= south + 2, (marker, zones[marker["data-zone"]])
    assert len(page.having("polyline", "track")) >= 7  # the demo's seven vessels at least
    assert page.having("path", "land")  # Natural Earth's coastline (the report extra, in the test extra)

    # the fire alert's trigger frame and the sequence: inline JPEGs, boxes where the detections were
    frames = page.having("svg", "frame")
    detections = [json.loads(d) for (d,) in sqlite3.connect(demo_run / "archive.sqlite").execute(
        "SELECT data FROM events WHERE type = 'fire.detection' ORDER BY time")]
    assert len(frames) == len(detections) == 16
    boxes_by_frame = [sum(1 for _, a, svg in page.having("rect", "box") if svg == frame[2]) for frame in frames]
    assert boxes_by_frame == [len(d["boxes"]) for d in detections] and sum(boxes_by_frame) > 0
    [trigger] = page.having("svg", "trigger-frame")
    pictures = {trigger[2], *(f[2] for f in frames)}
    images = [a["href"] for tag, a, svg in page.items if tag == "image" and svg in pictures]
    assert len(images) == 17 and all(h.startswith("data:image/jpeg;base64,/9j/") for h in images)
    assert page.having("g", "seq-alert") and page.having("g", "seq-alert-end")

    # the emissions chart: a line per site, the gap shaded, the totals
    sites = sorted(a["data-site"] for _, a, _ in page.having("polyline", "series"))
    assert sites == ["asso-lorient", "nl-ams", "par-2"]
    assert len(page.having("rect", "gap")) == 1 and page.having("table", "totals")

    # what it looks like: the screenshot shows the markers, the boxes' red and the zones' green
    shot = tmp_path / "report.png"
    result = chromium(report, tmp_path, "--window-size=1000,5200", f"--screenshot={shot}")
    assert result.returncode == 0 and shot.is_file(), result.stderr[-2000:]
    assert console_messages(result.stderr) == []
    saved = Path(os.environ.get("ALCYON_TEST_ARTIFACTS", tmp_path)) / "demo-report.png"
    saved.parent.mkdir(parents=True, exist_ok=True)
    if saved != shot:
        shutil.copyfile(shot, saved)
    print(f"report screenshot: {saved}")
    from PIL import Image

    image = Image.open(shot).convert("RGB")
    colours = {rgb for _, rgb in image.getcolors(maxcolors=1 << 24)}
    for name, rgb in {"entered marker": (0x1B, 0x9E, 0x3E), "exited marker": (0x1F, 0x6F, 0xD1),
                      "map sea": (0xEA, 0xF3, 0xFB), "land": (0xF4, 0xF0, 0xE6)}.items():
        assert rgb in colours, f"no {name} pixel in the screenshot"
    assert sum(1 for r, g, b in colours if r > 200 and g < 80 and b < 100) > 0  # boxes' red
    assert len(colours) > 5000  # photographs, not a blank page
