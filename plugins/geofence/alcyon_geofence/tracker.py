"""The per-vessel geofence state machine (pure functions) and its batch driver.

State is a small JSON/msgpack-friendly dict per vessel::

    {"last": {"time": t, "lat": .., "lon": .., "sog": ..} | None,
     "zones": {zone_id: {"since": entry time, "dwell": dwell alert sent}},
     "name": str | None, "ship_type": int | None, "static_time": t | None}

Ordering is by event time.  A position not newer than the vessel's last one is stale and
changes nothing, so replays and duplicates are harmless.  :func:`process_batch` sorts each
vessel's records within the batch, so a batch gives the same alerts in any input order.
Across batches there is no reordering buffer: a ping older than one already processed is
dropped (as Global Fishing Watch's segmenter does) rather than delaying every alert.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Iterable, Mapping

from alcyon.errors import ConfigError

from .ais import Position, StaticData
from .zones import ZoneIndex

ALERT_KINDS = ("entered", "exited", "crossed", "dwell", "gap")
ALERT_EVENT_PREFIX = "geofence."

_EMPTY: frozenset[str] = frozenset()


@dataclasses.dataclass(frozen=True)
class TrackerConfig:
    """``gap_seconds``: silence after which the next position reports an AIS ``gap``."""

    gap_seconds: float = 1800.0

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any] | None) -> TrackerConfig:
        """From ``{"gap_minutes": 30}``; raises :class:`ConfigError` naming a bad key."""
        if raw is not None and not isinstance(raw, Mapping):
            raise ConfigError(f"geofence tracker settings must be a table, got {type(raw).__name__}")
        raw = dict(raw or {})
        unknown = sorted(set(raw) - {"gap_minutes"})
        if unknown:
            raise ConfigError(f"geofence tracker: unknown key(s) {', '.join(unknown)} (expected gap_minutes)")
        minutes = raw.get("gap_minutes", 30)
        if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or not minutes > 0 \
                or not math.isfinite(minutes):
            raise ConfigError(f"geofence tracker: gap_minutes must be a number > 0, got {minutes!r}")
        return cls(gap_seconds=float(minutes) * 60.0)


@dataclasses.dataclass(frozen=True)
class Alert:
    """Something a vessel did with respect to a zone.

    ``rule`` is unique per kind and zone (``geofence.entered:<zone id>``, ``geofence.gap``)
    so that ids derived from the causing position event are distinct and deterministic.
    ``since`` is the entry time (exited, dwell); ``previous`` the (time, lat, lon) of the
    position before (crossed: start of the leg; gap: last position before the silence);
    ``zones`` the zones the vessel was inside when it went dark (gap).
    """

    kind: str
    rule: str
    mmsi: str
    time: float
    lat: float
    lon: float
    sog: float | None
    zone_id: str | None = None
    zone_name: str | None = None
    vessel_name: str | None = None
    since: float | None = None
    previous: tuple[float, float, float] | None = None
    zones: tuple[str, ...] = ()
    cause: Position | None = None

    @property
    def event_type(self) -> str:
        """``geofence.<kind>``: derive the alert event with ``ctx.derive(cause, alert.rule,
        alert.event_type, alert.to_data())``, ``cause`` being the event of ``alert.cause``."""
        return ALERT_EVENT_PREFIX + self.kind

    def to_data(self) -> dict[str, Any]:
        """The alert as event data (JSON-friendly; times as epoch seconds)."""
        return {
            "kind": self.kind, "mmsi": self.mmsi, "vessel_name": self.vessel_name,
            "zone_id": self.zone_id, "zone_name": self.zone_name,
            "time": self.time, "lat": self.lat, "lon": self.lon, "sog": self.sog, "since": self.since,
            "previous": None if self.previous is None else dict(zip(("time", "lat", "lon"), self.previous)),
            "zones": list(self.zones),
        }


def apply_static(state: dict[str, Any] | None, static: StaticData) -> dict[str, Any]:
    """The state with the vessel's name and ship type from static data, unless older than what it has."""
    state = state or {}
    known = state.get("static_time")
    if known is not None and static.time < known:
        return state
    new = _state(state, state.get("last"), state.get("zones") or {})
    if static.name is not None:
        new["name"] = static.name
    if static.ship_type is not None:
        new["ship_type"] = static.ship_type
    new["static_time"] = static.time
    return new


def step(state: dict[str, Any] | None, pos: Position, index: ZoneIndex, inside_now: Iterable[str],
         config: TrackerConfig, crossed: Iterable[str] | None = None) -> tuple[dict[str, Any], list[Alert]]:
    """Advance one vessel by one position; returns the new state and the alerts.

    ``inside_now``: ids of the zones containing the position (from :meth:`ZoneIndex.containing`).
    ``crossed``: ids of the zones the leg from the previous position intersects; computed here
    when not given.  The input state is never modified.
    """
    last = state.get("last") if state else None
    if last is not None and pos.time <= last["time"]:
        return state, []  # type: ignore[return-value]
    state = state or {}
    before: dict[str, dict[str, Any]] = state.get("zones") or {}
    gap = last is not None and pos.time - last["time"] > config.gap_seconds
    if crossed is None and last is not None and not gap:
        crossed = index.crossing([last["lon"]], [last["lat"]], [pos.lon], [pos.lat])[0]
    moved = {"time": pos.time, "lat": pos.lat, "lon": pos.lon, "sog": pos.sog}
    if not (before or inside_now or crossed or gap):  # the common case: nowhere near a zone
        return _state(state, moved, {}), []
    mmsi = pos.mmsi
    name = state.get("name")
    ship_type = state.get("ship_type")

    def concerned(zone_id: str) -> bool:
        zone = index.get(zone_id)
        return zone is not None and zone.rules.concerns(mmsi, ship_type)

    def alert(kind: str, zone_id: str | None, **extra: Any) -> Alert:
        zone = index.get(zone_id) if zone_id is not None else None
        return Alert(kind, f"{ALERT_EVENT_PREFIX}{kind}" + ("" if zone_id is None else f":{zone_id}"), mmsi,
                     pos.time, pos.lat, pos.lon, pos.sog, zone_id, zone.name if zone else None, name,
                     cause=pos, **extra)

    now = {zone_id for zone_id in inside_now if concerned(zone_id)}
    alerts = []
    if gap:
        alerts.append(alert("gap", None, previous=(last["time"], last["lat"], last["lon"]),  # type: ignore[index]
                            zones=tuple(sorted(before))))
    zones = {}
    for zone_id in sorted(before):
        if zone_id in now:
            zones[zone_id] = dict(before[zone_id])
        else:
            alerts.append(alert("exited", zone_id, since=before[zone_id]["since"]))
    for zone_id in sorted(now.difference(before)):
        zones[zone_id] = {"since": pos.time, "dwell": False}
        alerts.append(alert("entered", zone_id))
    if crossed and not gap:
        for zone_id in sorted(set(crossed).difference(before, now)):
            if concerned(zone_id):
                alerts.append(alert("crossed", zone_id, previous=(last["time"], last["lat"], last["lon"])))  # type: ignore[index]
    for zone_id, visit in zones.items():
        zone = index.get(zone_id)
        if not visit["dwell"] and zone is not None and zone.rules.dwell_due(pos.time - visit["since"], pos.sog):
            visit["dwell"] = True
            alerts.append(alert("dwell", zone_id, since=visit["since"]))
    return _state(state, moved, zones), alerts


def _state(old: dict[str, Any], last: dict[str, Any] | None, zones: dict[str, Any]) -> dict[str, Any]:
    return {"last": last, "zones": zones, "name": old.get("name"), "ship_type": old.get("ship_type"),
            "static_time": old.get("static_time")}


def _order(record: Position | StaticData) -> tuple[float, int, str]:
    # Static data first at equal times so alerts of that instant carry the name; raw breaks
    # ties between different reports of the same second, whatever order they came in.
    return record.time, isinstance(record, Position), record.raw


def process_batch(records: Iterable[Position | StaticData], states: Mapping[str, dict[str, Any] | None],
                  index: ZoneIndex, config: TrackerConfig) -> tuple[dict[str, dict[str, Any]], list[Alert]]:
    """Run a batch of records of many vessels; returns (new states, alerts).

    ``states`` maps MMSI to the stored state (or None) of at least every vessel in the batch;
    the returned dict has the new state of exactly those vessels.  Records are grouped by
    MMSI and sorted by time; stale and duplicate positions are dropped before one
    vectorised containment pass and one vectorised leg-crossing pass over the whole batch.
    Alerts come out vessel by vessel (MMSI order), in time order for each vessel.
    """
    by_vessel: dict[str, list[Position | StaticData]] = {}
    for record in records:
        mine = by_vessel.get(record.mmsi)
        if mine is None:
            by_vessel[record.mmsi] = [record]
        else:
            mine.append(record)
    lons: list[float] = []
    lats: list[float] = []
    legs: list[tuple[int, float, float, float, float]] = []
    plan: list[tuple[str, list[tuple[Position | StaticData, int]]]] = []
    gap_seconds = config.gap_seconds
    for mmsi in sorted(by_vessel):
        mine = by_vessel[mmsi]
        if len(mine) > 1:
            mine.sort(key=_order)
        stored = states.get(mmsi)
        last = stored.get("last") if stored else None
        last_time = last["time"] if last else -math.inf
        previous = (last["lon"], last["lat"]) if last else None
        steps: list[tuple[Position | StaticData, int]] = []
        for record in mine:
            if type(record) is not Position:
                steps.append((record, -1))
                continue
            if record.time <= last_time:
                continue
            k = len(lons)
            lons.append(record.lon)
            lats.append(record.lat)
            if previous is not None and record.time - last_time <= gap_seconds:
                legs.append((k, previous[0], previous[1], record.lon, record.lat))
            previous, last_time = (record.lon, record.lat), record.time
            steps.append((record, k))
        plan.append((mmsi, steps))
    inside = index.containing(lons, lats)
    crossed = [_EMPTY] * len(lons)
    if legs:
        positions, lon1, lat1, lon2, lat2 = zip(*legs)
        for position, zones in zip(positions, index.crossing(lon1, lat1, lon2, lat2)):
            crossed[position] = zones
    new_states: dict[str, dict[str, Any]] = {}
    alerts: list[Alert] = []
    for mmsi, steps in plan:
        state: dict[str, Any] = states.get(mmsi) or {}
        for record, k in steps:
            if k < 0:
                state = apply_static(state, record)  # type: ignore[arg-type]
            else:
                state, found = step(state, record, index, inside[k], config, crossed[k])  # type: ignore[arg-type]
                alerts.extend(found)
        new_states[mmsi] = state
    return new_states, alerts
