"""What ``alcyon demo`` shows while it runs and prints when it ends.

:class:`Figures` counts what the run published (a :attr:`Runtime.listeners` entry): events per
pipeline, alerts by kind, vessels, frames and detections, energy and CO2e.  :class:`LiveDisplay`
draws them on a terminal a few times a second (events/s per pipeline, a progress bar per source,
or its count when the source cannot say how far it is) with the alerts printed as they fire.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter, deque
from datetime import datetime
from typing import Any, Sequence, TextIO

from alcyon.events import Event
from alcyon.topics import matches

#: The three pipelines of the demo, by the first word of their event types.
PIPELINES = {"maritime": ("ais", "geofence"), "fire": ("camera", "fire"), "emissions": ("power", "emissions")}
#: Alert types (notify's default subscription): a person wants to see each as it fires.
ALERT_PATTERNS = ("geofence.*", "*.alert", "*.alert.#")


def pipeline_of(event_type: str) -> str:
    first = event_type.partition(".")[0]
    return next((name for name, prefixes in PIPELINES.items() if first in prefixes), "other")


def is_alert(event_type: str) -> bool:
    return any(matches(pattern, event_type) for pattern in ALERT_PATTERNS)


def alert_line(event: Event) -> str:
    """One line a person reads: what, who, where, when (event time)."""
    d = event.data if isinstance(event.data, dict) else {}
    when = event.time.strftime("%Y-%m-%d %H:%M:%S") if isinstance(event.time, datetime) else str(event.time)
    if event.type.startswith("geofence."):
        vessel = d.get("vessel_name") or f"MMSI {d.get('mmsi', event.subject)}"
        zone = f" {d['zone_name']}" if d.get("zone_name") else ""
        return f"{event.type:<18} {vessel}{zone}  ({d.get('lat', 0):.3f}, {d.get('lon', 0):.3f})  {when}"
    if event.type.startswith("fire."):
        bearing = f" bearing {d['bearing']:.1f} deg" if isinstance(d.get("bearing"), (int, float)) else ""
        return f"{event.type:<18} camera {d.get('camera', event.subject)}{bearing}  {when}"
    return f"{event.type:<18} {event.subject}  {when}"


class Figures:
    """Counts of what a run published, updated by :meth:`count` (a runtime listener)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_type: Counter[str] = Counter()
        self.by_pipeline: Counter[str] = Counter()
        self.vessels: set[str] = set()
        self.frames_with_smoke = 0
        self.boxes = 0
        self.energy_j: Counter[str] = Counter()  # by site
        self.co2e_g: Counter[str] = Counter()
        self.alerts: deque[Event] = deque()  # not yet shown by the display

    def count(self, event_type: str, events: Sequence[Event]) -> None:
        with self.lock:
            self.by_type[event_type] += len(events)
            self.by_pipeline[pipeline_of(event_type)] += len(events)
            if event_type == "ais.position":
                self.vessels.update(e.subject for e in events)
            elif event_type == "fire.detection":
                for e in events:
                    boxes = len(e.data.get("boxes", ()))
                    self.boxes += boxes
                    self.frames_with_smoke += boxes > 0
            elif event_type == "emissions.record":
                for e in events:
                    self.energy_j[e.data["site"]] += e.data["energy_j"]
                    self.co2e_g[e.data["site"]] += e.data["co2e_g"]
            elif is_alert(event_type):
                self.alerts.extend(events)

    def take_alerts(self) -> list[Event]:
        with self.lock:
            taken = list(self.alerts)
            self.alerts.clear()
        return taken

    def as_dict(self, rejected: Counter[tuple[str, str]]) -> dict[str, Any]:
        """The summary's figures (also written as ``summary.json`` beside the report)."""
        with self.lock:
            alerts = {t: n for t, n in sorted(self.by_type.items()) if is_alert(t)}
            return {
                "events": dict(sorted(self.by_type.items())),
                "alerts": alerts,
                "vessels_seen": len(self.vessels),
                "ais_positions": self.by_type["ais.position"],
                "frames": self.by_type["camera.frame"],
                "frames_with_smoke": self.frames_with_smoke,
                "smoke_boxes": self.boxes,
                "power_samples": self.by_type["power.sample"],
                "emissions_records": self.by_type["emissions.record"],
                "emissions_gaps": self.by_type["emissions.gap"],
                "energy_j": dict(sorted(self.energy_j.items())),
                "co2e_g": dict(sorted(self.co2e_g.items())),
                "rejected": {f"{source} {reason}": n for (source, reason), n in sorted(rejected.items())},
            }


def _bar(done: int, total: int, width: int = 24) -> str:
    fraction = min(1.0, done / total) if total else 0.0
    filled = int(round(fraction * width))
    return f"[{'#' * filled}{'.' * (width - filled)}] {fraction * 100:3.0f}%"


class LiveDisplay:
    """A block of lines redrawn in place on a terminal (ANSI cursor moves), alerts scrolling above it."""

    def __init__(self, figures: Figures, stream: TextIO | None = None, every_s: float = 0.25) -> None:
        self.figures, self.stream, self.every_s = figures, stream or sys.stderr, every_s
        self.sources: dict[str, tuple[int, int] | None] = {}
        self.source_events: dict[str, str] = {}  # source -> pipeline whose count it shows without progress
        self._drawn = 0
        self._rates: dict[str, float] = {}
        self._last: tuple[float, Counter[str]] = (time.monotonic(), Counter())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="alcyon-demo-display", daemon=True)
        self._lock = threading.Lock()

    def start(self, sources: Sequence[Any]) -> None:
        for source in sources:
            self.sources[source.name] = None
            self.source_events[source.name] = pipeline_of(source.publishes[0]) if source.publishes else "other"
        self._thread.start()

    def progress(self, source: str, done: int, total: int) -> None:
        self.sources[source] = (done, total)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        with self._lock:
            self._draw(final=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            with self._lock:
                self._draw()

    def _draw(self, final: bool = False) -> None:
        now = time.monotonic()
        with self.figures.lock:
            counts = Counter(self.figures.by_pipeline)
        then, before = self._last
        if now - then >= 0.5 or final:
            self._rates = {p: (counts[p] - before[p]) / (now - then) for p in PIPELINES}
            self._last = (now, counts)
        out = [f"\x1b[{self._drawn}F\x1b[J" if self._drawn else ""]
        for event in self.figures.take_alerts():
            out.append(f"  ALERT {alert_line(event)}\n")
        lines = []
        for name, state in self.sources.items():
            shown = _bar(*state) if state else f"{counts[self.source_events[name]]} events"
            lines.append(f"  source {name:<10} {shown}")
        lines.append("  " + "   ".join(f"{p} {counts[p]} events, {self._rates.get(p, 0.0):,.0f}/s" for p in PIPELINES))
        out.extend(line + "\n" for line in lines)
        self._drawn = 0 if final else len(lines)
        self.stream.write("".join(out))
        self.stream.flush()
