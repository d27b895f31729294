"""The per-vessel geofence state machine (pure functions) and its batch driver.

State is a small JSON/msgpack-friendly dict per vessel::

    {"last": {"time": t, "lat": .., "lon": .., "sog": ..} | None,
     "zones": {zone_id: {"since": entry time, "dwell": dwell alert sent, "name": the zone's name}},
     "name": str | None, "ship_type": int | None, "static_time": t | None}

Ordering is by event time.  A position not newer than the vessel's last one is stale and
changes nothing, so replays and duplicates are harmless.  :func:`process_batch` sorts each
vessel's records within the batch, so a batch gives the same alerts in any input order (but
for two different positions of the same second: the first delivered counts, in a batch as
across batches, so batch boundaries never change the outcome).  Across batches there is no
reordering buffer: a ping older than one already processed is dropped (as Global Fishing Watch's
segmenter does) rather than delaying every alert.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from itertools import chain
from operator import attrgetter, itemgetter
from typing import Any, Iterable, Mapping

import numpy as np

from alcyon import ConfigError

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
        # a zone removed by a reload is gone from the index: its name is the one kept in the visit
        zone_name = zone.name if zone else before.get(zone_id, {}).get("name") if zone_id else None
        return Alert(kind, f"{ALERT_EVENT_PREFIX}{kind}" + ("" if zone_id is None else f":{zone_id}"), mmsi,
                     pos.time, pos.lat, pos.lon, pos.sog, zone_id, zone_name, name, cause=pos, **extra)

    # A visit once opened lasts until the vessel leaves the zone (or the zone is removed), even if
    # static data then shows a ship type the zone does not watch: no false `exited` while inside.
    now = {zone_id for zone_id in inside_now if zone_id in before or concerned(zone_id)}
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
        zones[zone_id] = {"since": pos.time, "dwell": False, "name": index.get(zone_id).name}  # type: ignore[union-attr]
        alerts.append(alert("entered", zone_id))
    if crossed and not gap:
        for zone_id in sorted(set(crossed).difference(before, now)):
            if concerned(zone_id):
                alerts.append(alert("crossed", zone_id, previous=(last["time"], last["lat"], last["lon"])))  # type: ignore[index]
    for zone_id, visit in zones.items():
        zone = index.get(zone_id)
        if (not visit["dwell"] and zone is not None and zone.rules.dwell_due(pos.time - visit["since"], pos.sog)
                and concerned(zone_id)):
            visit["dwell"] = True
            alerts.append(alert("dwell", zone_id, since=visit["since"]))
    return _state(state, moved, zones), alerts


def _state(old: dict[str, Any], last: dict[str, Any] | None, zones: dict[str, Any]) -> dict[str, Any]:
    return {"last": last, "zones": zones, "name": old.get("name"), "ship_type": old.get("ship_type"),
            "static_time": old.get("static_time")}


def _order(record: Position | StaticData) -> tuple[float, bool]:
    # Static data first at equal times so alerts of that instant carry the name.  Two positions
    # of the same second keep their delivery order (the sorts are stable): the first one counts
    # and the other is stale, as when they come in different batches, so batch boundaries never
    # change the outcome.
    return record.time, isinstance(record, Position)


def process_batch(records: Iterable[Position | StaticData], states: Mapping[str, dict[str, Any] | None],
                  index: ZoneIndex, config: TrackerConfig) -> tuple[dict[str, dict[str, Any]], list[Alert]]:
    """Run a batch of records of many vessels; returns (new states, alerts).

    ``states`` maps MMSI to the stored state (or None) of at least every vessel in the batch;
    the returned dict has the new state of exactly those vessels.  Records are grouped by
    MMSI and sorted by time; stale and duplicate positions are dropped before one
    vectorised containment pass and one vectorised leg-crossing pass over the whole batch.
    Alerts come out vessel by vessel (MMSI order), in time order for each vessel.

    The outcome is that of :func:`apply_static` and :func:`step` on each record in that order
    (:func:`_process_batch_stepwise`), but ``step`` only runs where something can happen: at a
    position inside a zone, at the end of a leg crossing one, after a gap, or while the vessel
    is in a zone.  Anywhere else a position only becomes ``last``, so a run of them is folded
    into its final one.
    """
    records = records if isinstance(records, list) else list(records)
    if len(records) < _SMALL_BATCH:
        return _process_batch_stepwise(records, states, index, config)
    positions: defaultdict[str, list[Position]] = defaultdict(list)
    statics: defaultdict[str, list[StaticData]] = defaultdict(list)
    for record in records:
        # the list matches type(record), which mypy cannot tie to the conditional
        (positions if type(record) is Position else statics)[record.mmsi].append(record)  # type: ignore[arg-type]
    vessels = sorted(positions.keys() | statics.keys()) if statics else sorted(positions)
    olds: list[dict[str, Any]] = [states.get(mmsi) or {} for mmsi in vessels]
    fresh = _fresh(vessels, positions, olds)
    if fresh is None or any(math.isnan(static.time) for mine in statics.values() for static in mine):
        return _process_batch_stepwise(records, states, index, config)  # NaN times: only Python's sort decides
    kept, ends, t, lon, lat, before = fresh
    hits = _Hits.of(t, lon, lat, before, index, config)
    hot = hits.hot
    new_states: dict[str, dict[str, Any]] = {}
    alerts: list[Alert] = []
    start = h = 0
    for number, mmsi in enumerate(vessels):
        end = ends[number]
        first_hot = h
        while h < len(hot) and hot[h] < end:
            h += 1
        mine = statics.get(mmsi) if statics else None
        new_states[mmsi] = _advance(olds[number], mine, kept, start, end, hot[first_hot:h], hits, index, config, alerts)
        start = end
    return new_states, alerts


@dataclasses.dataclass(frozen=True)
class _Hits:
    """Where something can happen in a batch's positions (indexes into them): after a gap, inside a
    zone, at the end of a leg crossing one; ``hot`` is all of them, sorted."""

    gaps: set[int]
    inside: dict[int, frozenset[str]]
    crossed: dict[int, frozenset[str]]
    hot: list[int]

    @classmethod
    def of(cls, t: np.ndarray, lon: np.ndarray, lat: np.ndarray, before: np.ndarray, index: ZoneIndex,
           config: TrackerConfig) -> _Hits:
        """One vectorised containment pass and one vectorised leg-crossing pass over the whole batch."""
        elapsed = t - before[0]
        legs = np.flatnonzero(elapsed <= config.gap_seconds)  # NaN (no position before) is neither leg nor gap
        gaps = set(np.flatnonzero(elapsed > config.gap_seconds).tolist())
        inside = index.containing_hits(lon, lat)
        crossed: dict[int, frozenset[str]] = {}
        if legs.size:
            leg_ends = legs.tolist()
            for leg, zones in index.crossing_hits(before[1][legs], before[2][legs], lon[legs], lat[legs]).items():
                crossed[leg_ends[leg]] = zones
        return cls(gaps, inside, crossed, sorted(gaps.union(inside, crossed)))


def _advance(state: dict[str, Any], mine: list[StaticData] | None, kept: list[Position], start: int, end: int,
             hot: list[int], hits: _Hits, index: ZoneIndex, config: TrackerConfig,
             alerts: list[Alert]) -> dict[str, Any]:
    """One vessel's new state after its positions ``kept[start:end]`` and static data ``mine``;
    appends its alerts.  ``hot``: the indexes among its positions where something can happen."""
    if mine and len(mine) > 1:
        mine.sort(key=_order)
    zones = state.get("zones")
    if len(hot) == 1 and not (zones or mine) and hot[0] in hits.gaps and hot[0] not in hits.inside:
        # the commonest event: back from a silence, in no zone before or after (as in _walk)
        k = hot[0]
        if k > start:
            previous = kept[k - 1].time, kept[k - 1].lat, kept[k - 1].lon
        else:
            last = state["last"]
            previous = last["time"], last["lat"], last["lon"]
        alerts.append(_gap_alert(kept[k], state.get("name"), previous))
        return _advanced(state, kept[end - 1])
    if hot or zones:
        return _walk(state, kept, start, end, hot, mine or [], hits.gaps, hits.inside, hits.crossed, index,
                     config, alerts)
    # nothing can happen: the static data sets the name, the last position becomes "last"
    for static in mine or ():
        state = apply_static(state, static)
    if end > start:
        state = _advanced(state, kept[end - 1])
    return state


#: Batches of fewer records take the stepwise path: for them the fixed cost of the fast path's
#: numpy work outweighs what it saves.
_SMALL_BATCH = 16

_TIME, _LON, _LAT = attrgetter("time"), attrgetter("lon"), attrgetter("lat")
_STORED = itemgetter("time", "lon", "lat")
#: Stands for the stored last of a vessel without one: -inf as in the stepwise path, where a
#: position at -inf is stale too.
_NO_LAST = {"time": -math.inf, "lon": math.nan, "lat": math.nan}


def _fresh(vessels: list[str], positions: dict[str, list[Position]], olds: list[dict[str, Any]]
           ) -> tuple[list[Position], list[int], np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """The positions that count, vessel after vessel in :func:`_order`, and their columns:
    (positions, end of each vessel's run, time, lon, lat, the (time, lon, lat) of the point
    before each: the vessel's previous position, else its stored last, else NaN).  Positions
    not newer than the one before are dropped (:func:`step` ignores them).  None when a time
    is NaN."""
    flat: list[Position] = []
    ends: list[int] = []
    starts: list[int] = []
    lasts: list[dict[str, Any]] = []  # the stored last of each vessel that has positions
    unknown: list[int] = []  # those of them without one
    for number, mmsi in enumerate(vessels):
        mine = positions.get(mmsi)
        if mine:
            last = olds[number].get("last")
            if last is None:
                unknown.append(len(lasts))
                last = _NO_LAST
            lasts.append(last)
            starts.append(len(flat))
            flat += mine
        ends.append(len(flat))
    n = len(flat)
    t = np.fromiter(map(_TIME, flat), float, n)
    if np.isnan(t).any():
        return None
    first = np.array(starts, dtype=np.intp)
    stored = np.fromiter(chain.from_iterable(map(_STORED, lasts)), float, 3 * len(lasts)).reshape(-1, 3).T
    ordered = t[1:] > t[:-1]
    ordered[first[1:] - 1] = True  # a vessel's first position comes after another vessel's
    stale = t[first] <= stored[0]
    if not ordered.all() or stale.any():
        # out of time order, reported twice or older than the stored last: sort those vessels in Python
        runs = set(np.searchsorted(first, np.flatnonzero(~ordered) + 1, side="right") - 1)
        runs.update(np.flatnonzero(stale))
        owners = [mmsi for mmsi in vessels if positions.get(mmsi)]
        for run in runs:
            positions[owners[run]] = _newer(positions[owners[run]], stored[0][run])
        return _fresh(vessels, positions, olds)
    lon = np.fromiter(map(_LON, flat), float, n)
    lat = np.fromiter(map(_LAT, flat), float, n)
    before = np.empty((3, n))
    before[:, 1:] = np.array((t[:-1], lon[:-1], lat[:-1]))
    before[:, first] = stored
    before[0, first[unknown]] = math.nan  # no point before: neither a leg nor a gap
    return flat, ends, t, lon, lat, before


def _newer(mine: list[Position], last_time: float) -> list[Position]:
    """One vessel's positions in :func:`_order` without those :func:`step` would ignore."""
    mine.sort(key=_order)
    out = []
    for pos in mine:
        if not pos.time <= last_time:  # not ">": a NaN stored time makes nothing stale, as in step
            out.append(pos)
            last_time = pos.time
    return out


def _walk(state: dict[str, Any], kept: list[Position], start: int, end: int, hot: list[int],
          statics: list[StaticData], gaps: set[int], inside: dict[int, frozenset[str]],
          crossed: dict[int, frozenset[str]], index: ZoneIndex, config: TrackerConfig,
          alerts: list[Alert]) -> dict[str, Any]:
    """One vessel's records through :func:`apply_static` and :func:`step` in order: its positions
    ``kept[start:end]`` (``hot``: those where something may happen, ascending) and its static
    data sorted by :func:`_order`.  Appends the alerts, returns the new state.

    A position after which step would leave the zones as they were only becomes ``last``: it is
    held back as ``pending`` and applied when the state is needed, so a run of them costs one
    new state.  (Static data changes neither, so it may come in between.)
    """
    s = 0
    upcoming = iter(hot)
    nxt = next(upcoming, end)
    pending = None
    k = start
    while k < end:
        zones = state.get("zones")
        if k < nxt and not zones:  # nothing happens before the next hot position
            pending = kept[nxt - 1]
            k = nxt
            if k == end:
                break
        if k == nxt:
            nxt = next(upcoming, end)
        pos = kept[k]
        while s < len(statics) and statics[s].time <= pos.time:  # static data first at equal times
            state = apply_static(state, statics[s])
            s += 1
        here = inside.get(k, _EMPTY)
        if zones and k not in gaps and _stays(state, pos, here, crossed.get(k, _EMPTY), index):
            pending = pos
        elif not zones and not here and k in gaps:
            # back from a silence outside every zone (no leg is drawn over a gap): step's gap alert only
            if pending is None:
                last = state["last"]
                previous = last["time"], last["lat"], last["lon"]
            else:
                previous = pending.time, pending.lat, pending.lon
            alerts.append(_gap_alert(pos, state.get("name"), previous))
            pending = pos
        else:
            if pending is not None:
                state, pending = _advanced(state, pending), None
            state, found = step(state, pos, index, here, config, crossed.get(k, _EMPTY))
            alerts += found
        k += 1
    if pending is not None:
        state = _advanced(state, pending)
    for static in statics[s:]:
        state = apply_static(state, static)
    return state


def _gap_alert(pos: Position, vessel_name: str | None, previous: tuple[float, float, float]) -> Alert:
    """The alert of :func:`step` for a gap outside every zone, for a third of the cost of
    ``Alert(...)``: the ``__init__`` of a frozen dataclass sets each field through ``object.__setattr__``."""
    alert = object.__new__(Alert)
    alert.__dict__.update(kind="gap", rule=_GAP_RULE, mmsi=pos.mmsi, time=pos.time, lat=pos.lat, lon=pos.lon,
                          sog=pos.sog, zone_id=None, zone_name=None, vessel_name=vessel_name, since=None,
                          previous=previous, zones=(), cause=pos)
    return alert


_GAP_RULE = ALERT_EVENT_PREFIX + "gap"


def _stays(state: dict[str, Any], pos: Position, here: frozenset[str], crossed: frozenset[str],
           index: ZoneIndex) -> bool:
    """Whether :func:`step` (after no gap) would leave the vessel's zones as they are: ``pos``
    is inside exactly those, all still loaded, the leg crosses no other, no dwell is due."""
    zones = state["zones"]
    if here != zones.keys() or not crossed <= here:
        return False
    for zone_id, visit in zones.items():
        zone = index.get(zone_id)
        if zone is None:
            return False
        if not visit["dwell"] and zone.rules.dwell_due(pos.time - visit["since"], pos.sog):
            return False
    return True


def _advanced(state: dict[str, Any], pos: Position) -> dict[str, Any]:
    """What :func:`step` returns when it leaves the zones as they are (after :func:`_stays`, or
    outside every zone, after no gap, with none in ``state``)."""
    zones = state.get("zones")
    return _state(state, {"time": pos.time, "lat": pos.lat, "lon": pos.lon, "sog": pos.sog},
                  {zone_id: dict(zones[zone_id]) for zone_id in sorted(zones)} if zones else {})


def _process_batch_stepwise(records: Iterable[Position | StaticData],
                            states: Mapping[str, dict[str, Any] | None], index: ZoneIndex,
                            config: TrackerConfig) -> tuple[dict[str, dict[str, Any]], list[Alert]]:
    """:func:`process_batch` the plain way, :func:`step` on every position: for small batches,
    where it costs less, and for NaN times, whose order only Python's sort can tell."""
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
