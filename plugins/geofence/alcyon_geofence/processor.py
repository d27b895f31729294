"""The ``geofence`` processor: AIS records in, alerts out, vessel state in the keyed store.

A batch is handled at once: one read of the states of every vessel in it, one vectorised
containment pass and one leg-crossing pass (:func:`tracker.process_batch`), one write.  The
tracker ignores positions not newer than a vessel's last one, so only the events that
raised alerts need remembering for redeliveries (``state_remember="derived"``).

Zones come from a file or URL and are reloaded without a restart: a file when its
modification time changes, a URL every ``zones_reload_s`` seconds.  A reload that fails
keeps the zones in force and says why.
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from typing import Any, Mapping, Sequence, cast

from alcyon import Context, Event, KeyedState

from .ais import Position, record_from_event
from .metrics import geofence_metrics
from .tracker import TrackerConfig, process_batch
from .zones import BUNDLED_MPAS, ZoneError, ZoneIndex, load_zones, load_zones_from_url


class ZoneSource:
    """The current :class:`ZoneIndex`, reloaded when its file changes (or a URL is due)."""

    def __init__(self, location: str, rules: Mapping[str, Any], invalid: str, reload_s: float, log: Any) -> None:
        self.location = location or str(BUNDLED_MPAS)
        # the bundled file has one feature that is invalid as published (see data/ATTRIBUTION.md)
        self.invalid = "repair" if not location else invalid
        self.rules = rules
        self.reload_s = reload_s
        self.log = log
        self._lock = threading.Lock()
        self._stamp = self._current_stamp()
        self.index = self._load()
        self._checked = time.monotonic()

    @property
    def is_url(self) -> bool:
        return self.location.startswith(("http://", "https://", "file:"))

    def _current_stamp(self) -> Any:
        if self.is_url:
            return None
        try:
            return os.stat(self.location).st_mtime_ns
        except OSError:
            return None

    def _load(self) -> ZoneIndex:
        zones = (load_zones_from_url(self.location, self.rules, invalid=self.invalid) if self.is_url
                 else load_zones(self.location, self.rules, invalid=self.invalid))
        for zone in zones:
            if zone.repaired:
                self.log.warning("zone_geometry_repaired", zone_id=zone.id, zone_name=zone.name, why=zone.repaired)
        self.log.info("zones_loaded", location=self.location, zones=len(zones))
        geofence_metrics().zones.set(len(zones))
        return ZoneIndex(zones)

    def current(self) -> ZoneIndex:
        if self.reload_s <= 0 or time.monotonic() - self._checked < self.reload_s:
            return self.index
        with self._lock:
            if time.monotonic() - self._checked < self.reload_s:
                return self.index
            self._checked = time.monotonic()
            stamp = self._current_stamp()
            if self.is_url or stamp != self._stamp:
                try:
                    self.index = self._load()
                    self._stamp = stamp
                except ZoneError as exc:
                    self.log.error("zones_reload_failed", location=self.location, error=str(exc),
                                   kept="the zones loaded before")
        return self.index


class Geofence:
    """The handler of the ``geofence`` processor."""

    def __init__(self, zones: ZoneSource, config: TrackerConfig) -> None:
        self.zones = zones
        self.config = config

    def handle_batch(self, events: Sequence[Event], ctx: Context) -> list[Event]:
        index = self.zones.current()
        # vessel -> +1 went inside a zone, -1 left the last one; per vessel, so that a transition
        # re-run after a write conflict overwrites rather than adds (applied after the commit)
        inside_change: dict[str, int] = {}

        def transition(states: dict[str, Any], fresh: list[Event]) -> tuple[dict[str, Any], dict[str, list[Event]]]:
            cause_of = {record_from_event(event): event for event in fresh}
            new_states, alerts = process_batch(cause_of, states, index, self.config)
            derived: dict[str, list[Event]] = defaultdict(list)
            for alert in alerts:
                cause = cause_of[cast(Position, alert.cause)]  # process_batch's alerts all have a cause
                derived[cause.id].append(ctx.derive(cause, alert.rule, alert.event_type, alert.to_data()))
            for mmsi, new in new_states.items():
                inside_change[mmsi] = bool(new.get("zones")) - bool((states.get(mmsi) or {}).get("zones"))
            return new_states, derived

        derived = cast(KeyedState, ctx.state).apply_batch(events, transition)  # stateful=True: a KeyedState
        m = geofence_metrics()
        m.checked.inc(sum(1 for e in events if e.type == "ais.position"))
        if any(inside_change.values()):
            m.inside.inc(sum(inside_change.values()))
        for event in derived:
            m.transitions.labels(event.type.rsplit(".", 1)[-1]).inc()
        return derived
