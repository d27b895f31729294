"""The visual report of a run: one self-contained HTML file, rebuilt from the archive (``alcyon report``).

It reads the archive plugin's tables (``events``, ``emissions``; see ``alcyon_archive/schema.py``)
with ``sqlite3`` or psycopg, never the plugin's code, and draws with plain inline SVG: the
protected areas (the geofence plugin's bundled GeoJSON, or ``--zones``) with the vessel tracks
and the alert markers on an equirectangular projection scaled to fit (no tile server; the land
from Natural Earth when installed, see :mod:`.land`); the fire alerts' trigger frames (inline base64 JPEG) with their
boxes and the detection timeline; power over time per site with the totals.  No CDN, no
external request: the file opens offline.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

from alcyon.errors import ConfigError

from .land import SOURCE as LAND_SOURCE
from .land import load_land, package_file

#: Marker colour per geofence kind (also the legend).
COLOURS = {"entered": "#1b9e3e", "exited": "#1f6fd1", "crossed": "#e8760a", "dwell": "#8e3bc4", "gap": "#d11f3a"}
SITE_COLOURS = ("#1f6fd1", "#e8760a", "#1b9e3e", "#8e3bc4", "#d11f3a", "#6b6b6b")


# -- reading the archive ----------------------------------------------------------------------
class Archive:
    """The rows the report needs, from SQLite (``sqlite:///PATH`` or a path) or PostgreSQL."""

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith(("postgresql://", "postgres://")):
            try:
                import psycopg
            except ImportError:
                raise ConfigError("a PostgreSQL archive needs psycopg: pip install \"alcyon[archive]\"") from None
            self._conn: Any = psycopg.connect(url)
        else:
            import sqlite3

            path = Path(url[len("sqlite:///"):] if url.startswith("sqlite:///") else url)
            if not path.is_file():
                raise ConfigError(f"archive {url}: no such SQLite file (give --archive sqlite:///PATH or "
                                  "postgresql://...)")
            self._conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def events(self, pattern: str) -> list[dict[str, Any]]:
        """Events whose type is LIKE ``pattern``, in event time order: type, subject, time (s), data."""
        cur = self._conn.cursor()
        cur.execute("SELECT type, subject, time, data FROM events WHERE type LIKE %s ORDER BY time, id"
                    if not self._sqlite else
                    "SELECT type, subject, time, data FROM events WHERE type LIKE ? ORDER BY time, id", (pattern,))
        return [{"type": t, "subject": s, "time": _seconds(when),
                 "data": json.loads(d) if isinstance(d, str) else (d or {})} for t, s, when, d in cur.fetchall()]

    def emissions(self) -> list[tuple[str, str, float, float, float, float]]:
        """(kind, site, start s, end s, energy J, CO2e g) of every record and gap, by end time."""
        cur = self._conn.cursor()
        cur.execute("SELECT kind, site, start_time, end_time, energy_j, co2e_g FROM emissions ORDER BY end_time")
        return [(k, s, _seconds(a), _seconds(b), float(e), float(c)) for k, s, a, b, e, c in cur.fetchall()]

    @property
    def _sqlite(self) -> bool:
        return not self.url.startswith(("postgresql://", "postgres://"))

    def close(self) -> None:
        self._conn.close()


def _seconds(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def _utc(seconds: float, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime(fmt)


def bundled_zones() -> Path | None:
    """The geofence plugin's bundled protected areas, found without importing the plugin."""
    return package_file("alcyon_geofence", "data", "french_mpas.geojson")


def load_zones(path: Path | None) -> list[dict[str, Any]]:
    """Zones as ``{"id", "name", "polygons": [[ring (lon, lat)...]...]}``."""
    if path is None:
        return []
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"zones {path}: not a readable GeoJSON file ({exc})") from None
    zones = []
    for feature in document.get("features", []):
        geometry = feature.get("geometry") or {}
        polygons = ([geometry["coordinates"]] if geometry.get("type") == "Polygon"
                    else geometry.get("coordinates", []) if geometry.get("type") == "MultiPolygon" else [])
        props = feature.get("properties") or {}
        zones.append({"id": str(props.get("id", feature.get("id", ""))), "name": str(props.get("name", "")),
                      "polygons": polygons})
    return zones


# -- the map ----------------------------------------------------------------------------------
class Projection:
    """Equirectangular (longitudes shrunk by cos(mid latitude)) fitted into width x height pixels."""

    def __init__(self, bounds: tuple[float, float, float, float], width: int, height: int, pad: int = 12) -> None:
        west, south, east, north = bounds
        self.k = math.cos(math.radians((south + north) / 2))
        self.west, self.north = west, north
        span_x, span_y = max((east - west) * self.k, 1e-6), max(north - south, 1e-6)
        self.scale = min((width - 2 * pad) / span_x, (height - 2 * pad) / span_y)
        self.dx = (width - span_x * self.scale) / 2
        self.dy = (height - span_y * self.scale) / 2

    def extent(self, width: int, height: int, margin: float = 0.1) -> tuple[float, float, float, float]:
        """The (west, south, east, north) the whole drawing shows, ``margin`` wider each side."""
        west = self.west - self.dx / (self.k * self.scale)
        east = self.west + (width - self.dx) / (self.k * self.scale)
        north = self.north + self.dy / self.scale
        south = self.north - (height - self.dy) / self.scale
        mx, my = (east - west) * margin, (north - south) * margin
        return west - mx, south - my, east + mx, north + my

    def __call__(self, lon: float, lat: float) -> tuple[float, float]:
        return (round(self.dx + (lon - self.west) * self.k * self.scale, 1),
                round(self.dy + (self.north - lat) * self.scale, 1))


def _bounds(points: Iterable[tuple[float, float]], margin: float) -> tuple[float, float, float, float]:
    pts = list(points)
    lons, lats = [p[0] for p in pts], [p[1] for p in pts]
    return (min(lons) - margin, min(lats) - margin, max(lons) + margin, max(lats) + margin)


def _overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def _zone_bounds(zone: dict[str, Any]) -> tuple[float, float, float, float]:
    return _bounds(((x, y) for polygon in zone["polygons"] for ring in polygon for x, y, *_ in ring), 0)


def _path(rings: Iterable[Sequence[Sequence[float]]], project: Projection,
          clip: tuple[float, float, float, float] | None = None) -> str:
    """An SVG path of rings, points closer than half a pixel dropped (the GeoJSON has thousands).

    With ``clip`` (a box larger than the map), rings outside it are left out and points are
    pressed onto its edges: what is drawn inside the map is unchanged, the file much smaller.
    """
    parts = []
    for ring in rings:
        if clip is not None:
            lons, lats = [p[0] for p in ring], [p[1] for p in ring]
            if not _overlaps((min(lons), min(lats), max(lons), max(lats)), clip):
                continue
            ring = [(min(max(p[0], clip[0]), clip[2]), min(max(p[1], clip[1]), clip[3])) for p in ring]
        last, points = None, []
        for lon, lat, *_ in ring:
            xy = project(lon, lat)
            if last is None or abs(xy[0] - last[0]) + abs(xy[1] - last[1]) >= 0.5:
                points.append(f"{xy[0]},{xy[1]}")
                last = xy
        if len(points) >= 3:
            parts.append("M" + "L".join(points) + "Z")
    return "".join(parts)


def svg_map(title: str, bounds: tuple[float, float, float, float], zones: list[dict[str, Any]],
            tracks: dict[str, list[tuple[float, float]]], alerts: list[dict[str, Any]],
            land: Sequence[tuple[tuple[float, float, float, float], Sequence[Any]]] = (),
            width: int = 900, height: int = 560) -> str:
    project = Projection(bounds, width, height)
    out = [f'<svg class="map" role="img" aria-label="{html.escape(title)}" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
           f'<rect width="{width}" height="{height}" fill="#eaf3fb"/>', '<g class="land">']
    clip = project.extent(width, height)
    for box, rings in land:
        if _overlaps(box, clip):
            d = _path(rings, project, clip)
            if d:
                out.append(f'<path class="land" d="{d}" fill="#f4f0e6" stroke="#b9ad95" stroke-width="0.8" '
                           'fill-rule="evenodd"/>')
    out.append('</g><g class="zones">')
    for zone in zones:
        if _overlaps(_zone_bounds(zone), bounds):
            d = _path((ring for polygon in zone["polygons"] for ring in polygon), project)
            if d:
                out.append(f'<path class="zone" data-zone="{html.escape(zone["id"])}" d="{d}" fill="#7cc47f" '
                           f'fill-opacity="0.45" stroke="#2e7d32" stroke-width="1" fill-rule="evenodd">'
                           f'<title>{html.escape(zone["name"])} (zone {html.escape(zone["id"])})</title></path>')
    out.append('</g><g class="tracks">')
    for mmsi, points in tracks.items():
        inside = [p for p in points if bounds[0] <= p[0] <= bounds[2] and bounds[1] <= p[1] <= bounds[3]]
        if len(inside) >= 2:
            xy = " ".join(f"{x},{y}" for x, y in (project(*p) for p in points))
            out.append(f'<polyline class="track" data-mmsi="{html.escape(mmsi)}" points="{xy}" fill="none" '
                       f'stroke="#37474f" stroke-width="1.2" stroke-opacity="0.7"><title>MMSI {html.escape(mmsi)}'
                       f'</title></polyline>')
    out.append('</g><g class="markers">')
    for alert in alerts:
        d = alert["data"]
        if not isinstance(d.get("lat"), (int, float)) or not isinstance(d.get("lon"), (int, float)):
            continue
        kind = d.get("kind", alert["type"].split(".")[-1])
        x, y = project(d["lon"], d["lat"])
        label = (f'{kind}: {d.get("vessel_name") or "MMSI " + str(d.get("mmsi"))}'
                 f'{" - " + d["zone_name"] if d.get("zone_name") else ""}, {_utc(alert["time"])} UTC')
        out.append(f'<g class="marker marker-{kind}" data-kind="{kind}" data-lat="{d["lat"]}" data-lon="{d["lon"]}" '
                   f'data-zone="{html.escape(str(d.get("zone_id") or ""))}" data-x="{x}" data-y="{y}">'
                   f'{_shape(kind, x, y)}<title>{html.escape(label)}</title></g>')
    out.append(f'</g><text x="10" y="{height - 10}" font-size="11" fill="#555">{html.escape(title)} - '
               f'{bounds[1]:.2f}..{bounds[3]:.2f} N, {bounds[0]:.2f}..{bounds[2]:.2f} E (equirectangular)</text></svg>')
    return "".join(out)


def _shape(kind: str, x: float, y: float) -> str:
    """A gap is a ring (it shares its place with the exit it often causes), a dwell a square, others a dot."""
    colour = COLOURS.get(kind, "#000")
    if kind == "gap":
        return f'<circle cx="{x}" cy="{y}" r="12" fill="none" stroke="{colour}" stroke-width="3"/>'
    if kind == "dwell":
        return (f'<rect x="{x - 7}" y="{y - 7}" width="14" height="14" fill="{colour}" stroke="#fff" '
                f'stroke-width="2"/>')
    return f'<circle cx="{x}" cy="{y}" r="7" fill="{colour}" stroke="#fff" stroke-width="2"/>'


def regions(alerts: list[dict[str, Any]], radius: float = 1.5) -> list[list[dict[str, Any]]]:
    """Alerts grouped by place (greedy: within ``radius`` degrees of a group's first alert)."""
    groups: list[list[dict[str, Any]]] = []
    for alert in alerts:
        d = alert["data"]
        if not isinstance(d.get("lat"), (int, float)):
            continue
        for group in groups:
            first = group[0]["data"]
            if abs(first["lat"] - d["lat"]) <= radius and abs(first["lon"] - d["lon"]) <= radius:
                group.append(alert)
                break
        else:
            groups.append([alert])
    return groups


def maps_section(archive: Archive, zones: list[dict[str, Any]], zones_note: str,
                 land: Sequence[tuple[tuple[float, float, float, float], Sequence[Any]]] = ()) -> str:
    alerts = archive.events("geofence.%")
    tracks: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for position in archive.events("ais.position"):
        tracks[position["subject"]].append((position["data"]["lon"], position["data"]["lat"]))
    points = [(a["data"]["lon"], a["data"]["lat"]) for a in alerts if isinstance(a["data"].get("lat"), (int, float))]
    legend = " ".join(f'<span class="key"><svg width="26" height="26">{_shape(k, 13, 13)}</svg> {k}</span>'
                      for k in COLOURS)
    out = ['<section id="map"><h2>Protected areas, vessel tracks and alerts</h2>',
           f'<p>{zones_note} Tracks: {len(tracks)} vessels (positions kept by the archive). {legend}</p>']
    if not points:
        out.append("<p>No geofence alert in this archive.</p></section>")
        return "".join(out)
    out.append(svg_map("All alerts", _bounds(points, 0.6), zones, tracks, alerts, land))
    for group in regions(alerts):
        names = sorted({a["data"].get("zone_name") for a in group if a["data"].get("zone_name")})
        title = ", ".join(names) or "alerts"
        out.append(f"<h3>{html.escape(title)}</h3>")
        out.append(svg_map(title, _bounds([(a["data"]["lon"], a["data"]["lat"]) for a in group], 0.12),
                           zones, tracks, group, land, height=480))
    out.append(_alert_table(alerts))
    out.append("</section>")
    return "".join(out)


def _alert_table(alerts: list[dict[str, Any]]) -> str:
    rows = "".join(f'<tr><td>{_utc(a["time"])}</td><td>{html.escape(a["type"])}</td>'
                   f'<td>{html.escape(str(a["data"].get("vessel_name") or ""))} {html.escape(a["subject"])}</td>'
                   f'<td>{html.escape(str(a["data"].get("zone_name") or ""))}</td></tr>' for a in alerts)
    return f'<table class="alerts"><tr><th>time (UTC)</th><th>alert</th><th>vessel</th><th>zone</th></tr>{rows}</table>'


# -- fire -------------------------------------------------------------------------------------
def _blob(value: Any) -> bytes | None:
    ref = value.get("dataref") if isinstance(value, dict) else None
    try:
        return Path(ref).read_bytes() if ref else None
    except OSError:
        return None


def framed(jpeg: bytes | None, width: int, height: int, boxes: Sequence[Sequence[float]], shown: int,
           css: str) -> str:
    """A frame as an inline SVG: the JPEG (base64) with its boxes drawn over it."""
    if jpeg is None:
        return '<p class="missing">frame not kept (no blobs directory for this archive)</p>'
    h = round(shown * height / width)
    rects = "".join(f'<rect class="box" x="{x1}" y="{y1}" width="{x2 - x1}" height="{y2 - y1}" fill="none" '
                    f'stroke="#ff1744" stroke-width="{max(1.5, width / 300):.1f}"/>' for x1, y1, x2, y2 in boxes)
    return (f'<svg class="{css}" viewBox="0 0 {width} {height}" width="{shown}" height="{h}" '
            f'xmlns="http://www.w3.org/2000/svg"><image width="{width}" height="{height}" '
            f'href="data:image/jpeg;base64,{base64.b64encode(jpeg).decode()}"/>{rects}</svg>')


def fire_section(archive: Archive) -> str:
    alerts = archive.events("fire.alert%")
    detections = archive.events("fire.detection")
    out = ['<section id="fire"><h2>Smoke alerts</h2>']
    starts = [a for a in alerts if a["type"] == "fire.alert"]
    if not starts:
        out.append("<p>No fire alert in this archive.</p>")
    for alert in starts:
        d = alert["data"]
        where = d["camera"] + (f" / {d['pose']}" if d.get("pose") else "")
        out.append(f'<div class="fire-alert"><h3>{html.escape(where)}'
                   f' - smoke at {_utc(alert["time"])} UTC, bearing {d.get("bearing", 0):.1f} deg '
                   f'(camera azimuth {d.get("azimuth", 0):.0f}, field of view {d.get("fov", 0):.0f})</h3>')
        # the trigger image carries its boxes, drawn by the fire plugin
        out.append(framed(_blob(d.get("image")), d.get("width", 1), d.get("height", 1), [], 640, "trigger-frame"))
        out.append(f'<p>confidence {d.get("confidence", 0):.2f}, {d.get("frames_with_smoke", 0)} frames with smoke '
                   f'in the window; model {html.escape(str(d.get("model", "")))}</p></div>')
    by_camera: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for detection in detections:
        by_camera[detection["subject"]].append(detection)
    for camera, frames in by_camera.items():
        out.append(f'<h3>Sequence of {html.escape(camera)}: {len(frames)} frames</h3>')
        out.append(_timeline(frames, [a for a in alerts if a["subject"] == camera]))
        out.append('<div class="frames">')
        for frame in frames:
            d = frame["data"]
            picture = framed(_blob(d.get("jpeg")), d.get("width", 1), d.get("height", 1), d.get("boxes", []), 180,
                             "frame")
            out.append(f'<figure>{picture}'
                       f'<figcaption>{_utc(frame["time"], "%H:%M:%S")} - {len(d.get("boxes", []))} box(es)'
                       f'</figcaption></figure>')
        out.append("</div>")
    out.append("</section>")
    return "".join(out)


def _timeline(frames: list[dict[str, Any]], alerts: list[dict[str, Any]], width: int = 900) -> str:
    """One cell per frame (darker: more confident smoke), the alert, updates and end marked above."""
    start, end = frames[0]["time"], frames[-1]["time"]
    span = max(end - start, 1.0)
    cell = max(4.0, (width - 40) / len(frames) - 2)

    def x(t: float) -> float:
        return round(20 + (t - start) / span * (width - 40 - cell), 1)

    out = [f'<svg class="timeline" viewBox="0 0 {width} 90" width="{width}" height="90" '
           'xmlns="http://www.w3.org/2000/svg">']
    for frame in frames:
        scores = frame["data"].get("scores", [])
        level = max(scores) if scores else 0.0
        colour = f"rgb({255},{round(235 - 200 * level)},{round(235 - 200 * level)})" if scores else "#dfe6ea"
        out.append(f'<rect class="tick" x="{x(frame["time"])}" y="40" width="{cell:.1f}" height="30" fill="{colour}" '
                   f'stroke="#90a4ae"><title>{_utc(frame["time"])}: {len(scores)} box(es)</title></rect>')
    for alert in alerts:
        kind = alert["type"].split(".", 1)[1]
        colour = {"alert": "#d11f3a", "alert.update": "#e8760a", "alert.end": "#1b9e3e"}.get(kind, "#000")
        ax = x(alert["time"]) + cell / 2
        out.append(f'<g class="seq-{kind.replace(".", "-")}"><line x1="{ax}" y1="14" x2="{ax}" y2="74" '
                   f'stroke="{colour}" stroke-width="2"/><text x="{ax + 3}" y="24" font-size="12" fill="{colour}">'
                   f'{html.escape(alert["type"])}'
                   f'</text></g>')
    out.append(f'<text x="20" y="86" font-size="11" fill="#555">{_utc(start, "%H:%M:%S")}</text>'
               f'<text x="{width - 20}" y="86" font-size="11" fill="#555" text-anchor="end">'
               f'{_utc(end, "%H:%M:%S")} UTC</text>'
               '</svg>')
    return "".join(out)


# -- emissions --------------------------------------------------------------------------------
def emissions_section(archive: Archive, width: int = 900, height: int = 320) -> str:
    rows = archive.emissions()
    out = ['<section id="emissions"><h2>What the monitoring cost: power and CO2e per site</h2>']
    records = [r for r in rows if r[0] == "record" and r[3] > r[2]]
    if not records:
        out.append("<p>No emissions record in this archive.</p></section>")
        return "".join(out)
    # mean power per site over each end time (several devices of a site add up)
    series: dict[str, dict[float, float]] = defaultdict(lambda: defaultdict(float))
    totals_j: dict[str, float] = defaultdict(float)
    totals_g: dict[str, float] = defaultdict(float)
    for _, site, start, end, energy, co2e in records:
        series[site][end] += energy / (end - start)
        totals_j[site] += energy
        totals_g[site] += co2e
    gaps = [r for r in rows if r[0] == "gap"]
    t0, t1 = min(r[2] for r in records), max(r[3] for r in records)
    top = max(w for s in series.values() for w in s.values()) * 1.1
    left, bottom = 60, 30

    def x(t: float) -> float:
        return round(left + (t - t0) / max(t1 - t0, 1) * (width - left - 20), 1)

    def y(w: float) -> float:
        return round(height - bottom - w / top * (height - bottom - 20), 1)

    out.append(f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
               'xmlns="http://www.w3.org/2000/svg"><rect width="100%" height="100%" fill="#fff"/>')
    for i in range(5):
        w = top * i / 4
        out.append(f'<line x1="{left}" x2="{width - 20}" y1="{y(w)}" y2="{y(w)}" stroke="#eceff1"/>'
                   f'<text x="{left - 6}" y="{y(w) + 4}" font-size="11" text-anchor="end" fill="#555">{w:.0f} W</text>')
    for i in range(5):
        t = t0 + (t1 - t0) * i / 4
        out.append(f'<text x="{x(t)}" y="{height - 10}" font-size="11" text-anchor="middle" fill="#555">'
                   f'{_utc(t, "%H:%M")}</text>')
    for start, end in ((r[2], r[3]) for r in gaps):
        out.append(f'<rect class="gap" x="{x(start)}" y="20" width="{max(x(end) - x(start), 2)}" '
                   f'height="{height - bottom - 20}" fill="#d11f3a" fill-opacity="0.12"><title>gap {_utc(start)} - '
                   f'{_utc(end)} (not counted)</title></rect>')
    for i, (site, points) in enumerate(sorted(series.items())):
        colour = SITE_COLOURS[i % len(SITE_COLOURS)]
        xy = " ".join(f"{x(t)},{y(w)}" for t, w in sorted(points.items()))
        out.append(f'<polyline class="series" data-site="{html.escape(site)}" points="{xy}" fill="none" '
                   f'stroke="{colour}" stroke-width="1.5"><title>{html.escape(site)}</title></polyline>'
                   f'<text x="{left + 10 + 150 * i}" y="14" font-size="12" fill="{colour}">{html.escape(site)}</text>')
    out.append(f'<text x="4" y="{height - 10}" font-size="11" fill="#555">UTC</text></svg>')
    body = "".join(f"<tr><td>{html.escape(site)}</td><td>{totals_j[site] / 3.6e6:.4f}</td>"
                   f"<td>{totals_j[site] / 1000:.1f}"
                   f"</td><td>{totals_g[site]:.3f}</td></tr>" for site in sorted(totals_j))
    out.append(f'<table class="totals"><tr><th>site</th><th>kWh</th><th>kJ</th><th>g CO2e</th></tr>{body}'
               f'<tr class="total"><td>total</td><td>{sum(totals_j.values()) / 3.6e6:.4f}</td>'
               f'<td>{sum(totals_j.values()) / 1000:.1f}</td><td>{sum(totals_g.values()):.3f}</td></tr></table>'
               f'<p>{len(records)} records, {len(gaps)} gap(s) (shaded: readings too far apart, not interpolated).</p>'
               '</section>')
    return "".join(out)


# -- the page ---------------------------------------------------------------------------------
def counts_from_archive(archive: Archive) -> dict[str, Any]:
    """The summary's figures the archive can give (a distributed run's report has no process to ask)."""
    alerts = Counter(e["type"] for e in archive.events("%") if e["type"].startswith("geofence.")
                     or ".alert" in e["type"])
    detections = archive.events("fire.detection")
    energy = archive.emissions()
    return {"alerts": dict(sorted(alerts.items())),
            "vessels_seen": len({e["subject"] for e in archive.events("ais.position")}),
            "frames": len(detections),
            "frames_with_smoke": sum(1 for d in detections if d["data"].get("boxes")),
            "energy_j": _by_site(energy, 4), "co2e_g": _by_site(energy, 5)}


def _by_site(rows: list[tuple], column: int) -> dict[str, float]:
    totals: Counter[str] = Counter()
    for row in rows:
        totals[row[1]] += row[column]
    return dict(sorted(totals.items()))


def counts_section(f: dict[str, Any]) -> str:
    cells = [("alerts", sum(f["alerts"].values())), ("vessels seen", f["vessels_seen"]), ("frames", f["frames"]),
             ("frames with smoke", f["frames_with_smoke"]),
             ("energy (kWh)", f"{sum(f['energy_j'].values()) / 3.6e6:.3f}"),
             ("CO2e (g)", f"{sum(f['co2e_g'].values()):.1f}")]
    if "rejected" in f:
        cells.append(("inputs rejected", sum(f["rejected"].values())))
    tiles = "".join(f'<div class="tile"><b>{html.escape(str(v))}</b><span>{html.escape(k)}</span></div>'
                    for k, v in cells)
    kinds = ", ".join(f"{html.escape(k)} {v}" for k, v in f["alerts"].items()) or "none"
    rejected = (", ".join(f"{html.escape(k)} {v}" for k, v in f["rejected"].items()) or "none") if "rejected" in f \
        else "not in the archive (see the run's summary)"
    return (f'<section id="counts"><div class="tiles">{tiles}</div><p>Alerts by kind: {kinds}.</p>'
            f'<p>Inputs rejected by reason (each kept as a dead letter): {rejected}.</p></section>')


STYLE = """body{font:15px/1.45 system-ui,sans-serif;margin:24px auto;max-width:940px;color:#263238}
h1{margin-bottom:0}h2{border-bottom:1px solid #cfd8dc;margin-top:36px}.tiles{display:flex;flex-wrap:wrap;gap:10px}
.tile{background:#eceff1;border-radius:6px;padding:10px 14px;min-width:110px}.tile b{display:block;font-size:24px}
.tile span{font-size:12px;color:#546e7a}
svg.map,svg.chart,svg.timeline{border:1px solid #cfd8dc;max-width:100%;height:auto}
.frames{display:flex;flex-wrap:wrap;gap:6px}figure{margin:0;font-size:11px;text-align:center}
table{border-collapse:collapse;
margin:10px 0}td,th{border-bottom:1px solid #eceff1;padding:3px 10px;text-align:left}.key{margin-right:10px}
.marker{cursor:pointer}.marker.selected circle{stroke:#000;stroke-width:3}.note{color:#546e7a;font-size:13px}"""

#: The page's only script: clicking a marker outlines every marker of the same kind.
SCRIPT = """document.querySelectorAll('.marker').forEach(function(m){m.addEventListener('click',function(){
var k=m.getAttribute('data-kind');document.querySelectorAll('.marker').forEach(function(o){
o.classList.toggle('selected',o.getAttribute('data-kind')===k);});});});
document.body.setAttribute('data-markers',String(document.querySelectorAll('.marker').length));"""


def write_report(archive_url: str, out: Path, *, summary: dict[str, Any] | None = None,
                 zones: Path | None = None) -> Path:
    """Write the report of the run kept in ``archive_url`` to ``out``; ``summary`` (the demo's figures)
    replaces the counts the archive gives."""
    archive = Archive(archive_url)
    try:
        zones_path = zones or bundled_zones()
        zone_list = load_zones(zones_path)
        land = load_land()
        zones_note = (f"Protected areas: {len(zone_list)} from {zones_path.name}." if zone_list and zones_path
                      else "No zones file found (give --zones FILE): tracks and markers only.")
        zones_note += (f" The {LAND_SOURCE}." if land else
                       " No coastline (pip install \"alcyon[report]\" for Natural Earth's): the zones alone.")
        beside = Path(archive_url.removeprefix("sqlite:///")).with_name("summary.json")  # the demo's
        if summary is None and not archive_url.startswith("postgres") and beside.is_file():
            summary = json.loads(beside.read_text())
        figures = summary or counts_from_archive(archive)
        generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        page = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>alcyon report</title>"
                f"<style>{STYLE}</style></head><body><h1>alcyon report</h1>"
                f'<p class="note">Generated {generated} from the archive {html.escape(_shown(archive_url))}. '
                "Alerts, positions, detections and emissions records as the archive kept them.</p>"
                f"{counts_section(figures)}{maps_section(archive, zone_list, zones_note, land)}{fire_section(archive)}"
                f"{emissions_section(archive)}<script>{SCRIPT}</script></body></html>\n")
    finally:
        archive.close()
    out.write_text(page, encoding="utf-8")
    return out


def _shown(url: str) -> str:
    from alcyon.redact import redact_url

    return redact_url(url)
