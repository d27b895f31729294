"""Protected areas: loading from GeoJSON, per-zone rules, and a vectorised spatial index.

Geometry is taken exactly as published: a valid polygon is never altered.  An invalid one is
an error unless the caller asks for ``invalid="repair"``, which applies ``shapely.make_valid``
to that feature only and records why on ``Zone.repaired``.

Coordinates are WGS84 lon/lat and legs are straight lines in lon/lat (plate carrée), the
same model as the zone polygons themselves.
"""

from __future__ import annotations

import dataclasses
import json
import math
import urllib.error
import urllib.request
from os import PathLike
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import urlsplit

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from alcyon import ConfigError, redact_text, redact_url

#: The 20 French marine protected areas shipped with the plugin (see data/ATTRIBUTION.md).
#: Feature id 8 is invalid as published: load it with ``invalid="repair"``.
BUNDLED_MPAS = Path(__file__).parent / "data" / "french_mpas.geojson"

RULE_KEYS = ("vessels", "dwell_minutes", "fishing_speed_knots")
VESSEL_KEYS = ("ship_types", "mmsi", "include_unknown_type")

_EMPTY: frozenset[str] = frozenset()


class ZoneError(ConfigError):
    """A zone file or feature cannot be used; the message names the feature and the fix."""


@dataclasses.dataclass(frozen=True)
class ZoneRules:
    """What a zone watches for.

    Vessels concerned: everyone when both ``ship_types`` and ``mmsi`` are None; otherwise
    vessels on the ``mmsi`` watch list or whose ship type falls in one of the inclusive
    ``ship_types`` ranges.  A vessel whose type is not known yet (no static data received)
    counts as concerned if ``include_unknown_type`` (better a false alert than a missed
    trawler).

    Dwell alert, once per visit: with ``dwell_minutes`` only, after that long inside; with
    ``fishing_speed_knots`` only, at the first position inside with ``lo <= sog <= hi``; with
    both, at the first position in the speed band once inside that long.
    """

    ship_types: tuple[tuple[int, int], ...] | None = None
    mmsi: frozenset[str] | None = None
    include_unknown_type: bool = True
    dwell_minutes: float | None = 30.0
    fishing_speed_knots: tuple[float, float] | None = None

    def concerns(self, mmsi: str, ship_type: int | None) -> bool:
        if self.ship_types is None and self.mmsi is None:
            return True
        if self.mmsi is not None and mmsi in self.mmsi:
            return True
        if self.ship_types is None:
            return False
        if ship_type is None:
            return self.include_unknown_type
        return any(lo <= ship_type <= hi for lo, hi in self.ship_types)

    def dwell_due(self, inside_seconds: float, sog: float | None) -> bool:
        if self.dwell_minutes is None and self.fishing_speed_knots is None:
            return False
        if self.dwell_minutes is not None and inside_seconds < self.dwell_minutes * 60.0:
            return False
        if self.fishing_speed_knots is not None:
            lo, hi = self.fishing_speed_knots
            return sog is not None and lo <= sog <= hi
        return True


@dataclasses.dataclass(frozen=True, eq=False)
class Zone:
    """One protected area; ``geometry`` is a prepared (Multi)Polygon in lon/lat."""

    id: str
    name: str
    designation: str | None
    geometry: BaseGeometry
    bounds: tuple[float, float, float, float]
    rules: ZoneRules = ZoneRules()
    repaired: str | None = None
    properties: Mapping[str, Any] = dataclasses.field(default_factory=dict)


# -- rules ----------------------------------------------------------------------------------

def parse_rules(raw: Mapping[str, Any] | None, zone_ids: Iterable[str] = ()) -> tuple[ZoneRules, dict[str, ZoneRules]]:
    """Default rules and per-zone overrides from a mapping (e.g. a TOML table).

    Shape: the keys of RULE_KEYS for the defaults, plus ``zones = {<zone id> = {...}}`` whose
    keys override the defaults for that zone.  ``vessels`` is ``"all"`` or a table with
    VESSEL_KEYS; ``dwell_minutes`` and ``fishing_speed_knots`` may be ``false`` to disable.
    Raises :class:`ConfigError` naming the offending key.
    """
    if raw is not None and not isinstance(raw, Mapping):
        raise ConfigError(f"rules must be a table, got {type(raw).__name__}")
    raw = dict(raw or {})
    overrides = raw.pop("zones", {})
    default = _rules(raw, ZoneRules(), "rules")
    if not isinstance(overrides, Mapping):
        raise ConfigError(f"rules.zones must be a table of zone id -> rules, got {type(overrides).__name__}")
    known = {str(z) for z in zone_ids}
    per_zone = {}
    for zone_id, table in overrides.items():
        zone_id = str(zone_id)
        if known and zone_id not in known:
            raise ConfigError(f"rules.zones.{zone_id}: no zone has id {zone_id!r} "
                              f"(known ids: {', '.join(sorted(known))})")
        if not isinstance(table, Mapping):
            raise ConfigError(f"rules.zones.{zone_id} must be a table, got {type(table).__name__}")
        per_zone[zone_id] = _rules(table, default, f"rules.zones.{zone_id}")
    return default, per_zone


def _rules(table: Mapping[str, Any], base: ZoneRules, where: str) -> ZoneRules:
    unknown = sorted(set(table) - set(RULE_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} (expected {', '.join(RULE_KEYS)})")
    values: dict[str, Any] = {}
    if "vessels" in table:
        values.update(_vessels(table["vessels"], f"{where}.vessels"))
    if "dwell_minutes" in table:
        minutes = table["dwell_minutes"]
        if minutes is False:
            values["dwell_minutes"] = None
        elif _number(minutes) and minutes >= 0:
            values["dwell_minutes"] = float(minutes)
        else:
            raise ConfigError(f"{where}.dwell_minutes must be a number >= 0 or false, got {minutes!r}")
    if "fishing_speed_knots" in table:
        band = table["fishing_speed_knots"]
        if band is False:
            values["fishing_speed_knots"] = None
        elif (isinstance(band, (list, tuple)) and len(band) == 2 and all(_number(v) for v in band)
              and 0 <= band[0] <= band[1]):
            values["fishing_speed_knots"] = (float(band[0]), float(band[1]))
        else:
            raise ConfigError(f"{where}.fishing_speed_knots must be [min, max] knots with 0 <= min <= max, "
                              f"or false, got {band!r}")
    return dataclasses.replace(base, **values)


def _vessels(value: Any, where: str) -> dict[str, Any]:
    if value == "all":
        return {"ship_types": None, "mmsi": None}
    if not isinstance(value, Mapping):
        raise ConfigError(f'{where} must be "all" or a table with {", ".join(VESSEL_KEYS)}, got {value!r}')
    unknown = sorted(set(value) - set(VESSEL_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} (expected {', '.join(VESSEL_KEYS)})")
    if "ship_types" not in value and "mmsi" not in value:
        raise ConfigError(f'{where} selects no vessel: give ship_types and/or mmsi, or use vessels = "all"')
    out: dict[str, Any] = {"ship_types": None, "mmsi": None}
    if "ship_types" in value:
        ranges = []
        for i, item in enumerate(_list(value["ship_types"], f"{where}.ship_types")):
            if _int(item):
                lo = hi = item
            elif isinstance(item, (list, tuple)) and len(item) == 2 and _int(item[0]) and _int(item[1]):
                lo, hi = item
            else:
                lo, hi = -1, -1
            if not 0 <= lo <= hi <= 255:
                raise ConfigError(f"{where}.ship_types[{i}] must be a ship type 0-255 or a [first, last] range, "
                                  f"got {item!r}")
            ranges.append((lo, hi))
        out["ship_types"] = tuple(ranges)
    if "mmsi" in value:
        watch = set()
        for i, item in enumerate(_list(value["mmsi"], f"{where}.mmsi")):
            text = str(item)
            if isinstance(item, bool) or not (text.isascii() and text.isdigit() and len(text) == 9):
                raise ConfigError(f"{where}.mmsi[{i}] must be a 9-digit MMSI, got {item!r}")
            watch.add(text)
        out["mmsi"] = frozenset(watch)
    if "include_unknown_type" in value:
        if not isinstance(value["include_unknown_type"], bool):
            raise ConfigError(f"{where}.include_unknown_type must be true or false")
        out["include_unknown_type"] = value["include_unknown_type"]
    return out


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{where} must be a list, got {value!r}")
    return list(value)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# -- loading --------------------------------------------------------------------------------

def load_zones(path: str | PathLike[str], rules: Mapping[str, Any] | None = None, *,
               invalid: str = "error") -> list[Zone]:
    """Zones from a GeoJSON FeatureCollection file (see :func:`zones_from_geojson`)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ZoneError(f"cannot read zone file {path}: {exc.strerror or exc}") from None
    return zones_from_geojson(_json(text, str(path)), rules, invalid=invalid, origin=str(path))


#: Limits of a zone fetch: a larger document, a redirect beyond these, or to another scheme, is refused.
MAX_ZONE_BYTES = 64 * 1024 * 1024
MAX_REDIRECTS = 3


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follow at most MAX_REDIRECTS redirects, to http(s) only, never from https down to http."""

    max_redirections = MAX_REDIRECTS

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        old, new = urlsplit(req.full_url).scheme, urlsplit(newurl).scheme
        if new not in ("http", "https") or (old == "https" and new == "http"):
            raise ZoneError(f"zone URL {redact_url(req.full_url)} redirects ({code}) to {redact_url(newurl)}: "
                            "only redirects to http(s), never from https to http, are followed "
                            "(configure the final URL)")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def load_zones_from_url(url: str, rules: Mapping[str, Any] | None = None, *, invalid: str = "error",
                        timeout: float = 30.0, max_bytes: int = MAX_ZONE_BYTES) -> list[Zone]:
    """Zones from an http(s):// or file:// URL (see :func:`zones_from_geojson`), at most ``max_bytes``."""
    shown = redact_url(url)
    if not url.startswith(("http://", "https://", "file:")):
        raise ZoneError(f"zone URL {shown!r}: only http://, https:// and file: URLs are supported")
    opener = urllib.request.build_opener(_Redirects)
    try:
        with opener.open(url, timeout=timeout) as response:
            data = response.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise ZoneError(f"zones at {shown} are over {max_bytes} bytes: refused (a GeoJSON of protected "
                            "areas is far smaller; check the URL)")
        text = data.decode("utf-8")
    except (urllib.error.URLError, OSError, UnicodeDecodeError) as exc:
        raise ZoneError(f"cannot fetch zones from {shown}: {redact_text(str(exc))}") from None
    return zones_from_geojson(_json(text, shown), rules, invalid=invalid, origin=shown)


def _json(text: str, origin: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ZoneError(f"{origin} is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None


def zones_from_geojson(doc: Any, rules: Mapping[str, Any] | None = None, *, invalid: str = "error",
                       origin: str = "<geojson>") -> list[Zone]:
    """Zones from a parsed GeoJSON FeatureCollection of Polygon/MultiPolygon features.

    Each feature needs an ``id`` (feature id or ``properties.id``, unique); ``name`` and
    ``designation`` come from the properties.  ``invalid`` is ``"error"`` (default) or
    ``"repair"`` for features whose geometry shapely finds invalid.  Raises
    :class:`ZoneError` naming the feature (index, id, name), the problem and the fix.
    """
    if invalid not in ("error", "repair"):
        raise ValueError(f'invalid must be "error" or "repair", got {invalid!r}')
    if not isinstance(doc, Mapping) or doc.get("type") != "FeatureCollection" or not isinstance(
            doc.get("features"), list):
        raise ZoneError(f"{origin}: expected a GeoJSON FeatureCollection with a list of features")
    crs = (((doc.get("crs") or {}).get("properties") or {}).get("name") or "")
    if crs and not crs.upper().endswith(("CRS84", "4326")):
        raise ZoneError(f"{origin}: coordinates are in {crs}; reproject the file to WGS84 lon/lat (EPSG:4326)")
    found = []
    for index, feature in enumerate(doc["features"]):
        found.append(_feature(index, feature, invalid, origin))
    ids = [zone_id for zone_id, *_ in found]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ZoneError(f"{origin}: zone id(s) {', '.join(duplicates)} used by several features; ids must be unique")
    default, per_zone = parse_rules(rules, ids)
    return [Zone(zone_id, name, designation, geometry, geometry.bounds, per_zone.get(zone_id, default), repaired,
                 properties) for zone_id, name, designation, geometry, repaired, properties in found]


def _feature(index: int, feature: Any, invalid: str,
             origin: str) -> tuple[str, str, str | None, BaseGeometry, str | None, dict[str, Any]]:
    props = dict(feature.get("properties") or {}) if isinstance(feature, Mapping) else {}
    raw_id = feature.get("id", props.get("id")) if isinstance(feature, Mapping) else None
    name = props.get("name")
    label = f"{origin}: feature #{index} (id {raw_id!r}, name {name!r})"
    if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
        raise ZoneError(f"{label}: not a GeoJSON Feature object")
    if raw_id is None or raw_id == "":
        raise ZoneError(f"{label}: no id; give the feature an 'id' member or an 'id' property, unique in the file")
    geom_json = feature.get("geometry")
    if not isinstance(geom_json, Mapping) or geom_json.get("type") not in ("Polygon", "MultiPolygon"):
        kind = geom_json.get("type") if isinstance(geom_json, Mapping) else geom_json
        raise ZoneError(f"{label}: geometry type {kind!r}; zones must be Polygon or MultiPolygon")
    try:
        geometry = shape(geom_json)
    except Exception as exc:  # shapely raises several types for malformed coordinate arrays
        raise ZoneError(f"{label}: unreadable coordinates ({exc}); each ring must be a list of [lon, lat] "
                        f"pairs, closed and with at least 4 positions") from None
    if geometry.is_empty:
        raise ZoneError(f"{label}: empty geometry; remove the feature or give it coordinates")
    minx, miny, maxx, maxy = geometry.bounds
    if not (minx >= -180 and maxx <= 180 and miny >= -90 and maxy <= 90):
        raise ZoneError(f"{label}: coordinates {geometry.bounds} are not lon/lat degrees; the file is probably in a "
                        f"projected CRS: reproject it to WGS84 (EPSG:4326)")
    repaired = None
    if not geometry.is_valid:
        problem = explain_validity(geometry)
        if invalid == "error":
            raise ZoneError(f"{label}: invalid geometry ({problem}); fix it in the source (e.g. QGIS 'Fix "
                            f"geometries' or shapely.make_valid), or load with invalid='repair' to repair invalid "
                            f"features (valid ones are never changed)")
        geometry = _polygonal(shapely.make_valid(geometry))
        if geometry.is_empty:
            raise ZoneError(f"{label}: invalid geometry ({problem}) has no area once repaired; fix the source")
        repaired = problem
    shapely.prepare(geometry)
    designation = props.get("designation")
    return str(raw_id), str(name) if name else f"zone {raw_id}", designation, geometry, repaired, props


def _polygonal(geometry: BaseGeometry) -> BaseGeometry:
    """The polygons of a make_valid result (it may add stray lines or points)."""
    polygons = [polygon for member in shapely.get_parts(geometry) for polygon in shapely.get_parts(member)
                if isinstance(polygon, Polygon)]
    return polygons[0] if len(polygons) == 1 else MultiPolygon(polygons)


# -- index ----------------------------------------------------------------------------------

class ZoneIndex:
    """Answers, for whole arrays at once, which zones contain points and which zones legs cross.

    Each polygon part is a candidate with its own bounding box.  Points are sorted by
    longitude so that each part's candidates are a slice found by binary search; the
    slices are filtered on latitude, then ``shapely.contains_xy`` runs on the (prepared part,
    point) pairs left, all in one call.
    Legs: every leg's box is compared with every zone's box in one numpy operation, then with
    the boxes of the parts of the zones it meets; ``shapely.intersects`` runs on the (prepared
    part, LineString) candidate pairs only.
    """

    #: Points and legs are taken in chunks of at most this many divided by the number of
    #: parts, to bound the (point or leg, part) candidate pairs, hence memory, with many zones.
    MAX_PAIRS = 4_000_000

    def __init__(self, zones: Iterable[Zone]) -> None:
        self.zones: tuple[Zone, ...] = tuple(zones)
        self._by_id = {zone.id: zone for zone in self.zones}
        if len(self._by_id) != len(self.zones):
            raise ZoneError("ZoneIndex: zone ids must be unique")
        parts, owners = [], []
        for number, zone in enumerate(self.zones):
            for part in shapely.get_parts(zone.geometry):
                parts.append(part)
                owners.append(number)
        self._parts = np.array(parts, dtype=object)
        shapely.prepare(self._parts)
        self._owner = np.array(owners, dtype=np.intp)
        self._ids = [zone.id for zone in self.zones]
        self._part_zone = [frozenset({self._ids[owner]}) for owner in owners]  # {id} of each part's zone
        bounds = shapely.bounds(self._parts) if parts else np.empty((0, 4))
        self._minx, self._miny, self._maxx, self._maxy = (np.ascontiguousarray(bounds[:, i]) for i in range(4))
        # A zone's parts are consecutive: its first part, how many, and its box (bounding theirs),
        # which screens legs before the parts' boxes do.
        self._zone_first = np.flatnonzero(np.diff(self._owner, prepend=-1))
        self._zone_parts = np.diff(self._zone_first, append=self._owner.size)
        self._zone_box = (self._minx, self._miny, self._maxx, self._maxy)
        if parts:
            self._zone_box = (np.minimum.reduceat(self._minx, self._zone_first),
                              np.minimum.reduceat(self._miny, self._zone_first),
                              np.maximum.reduceat(self._maxx, self._zone_first),
                              np.maximum.reduceat(self._maxy, self._zone_first))

    def __len__(self) -> int:
        return len(self.zones)

    def get(self, zone_id: str) -> Zone | None:
        return self._by_id.get(zone_id)

    def containing(self, lon: Sequence[float] | np.ndarray, lat: Sequence[float] | np.ndarray) -> list[frozenset[str]]:
        """For each point, the ids of the zones containing it (boundary excluded)."""
        lon = np.asarray(lon, dtype=float)
        found: list[frozenset[str]] = [_EMPTY] * lon.size
        hits = self.containing_hits(lon, lat)
        for point, ids in hits.items():
            found[point] = ids
        return found

    def containing_hits(self, lon: Sequence[float] | np.ndarray,
                        lat: Sequence[float] | np.ndarray) -> dict[int, frozenset[str]]:
        """:meth:`containing` for the points inside some zone only: {point number: zone ids}."""
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        if not lon.size or not self._parts.size:
            return {}
        hits: dict[int, frozenset[str]] = {}
        step = max(1, self.MAX_PAIRS // self._parts.size)
        for first in range(0, lon.size, step):
            order = np.argsort(lon[first:first + step], kind="stable")
            slon, slat = lon[first:first + step][order], lat[first:first + step][order]
            starts = np.searchsorted(slon, self._minx, side="left")
            sizes = np.searchsorted(slon, self._maxx, side="right") - starts
            if not sizes.any():
                continue
            # (part, point) for every point of every part's longitude slice, then on latitude
            part, point = _ranges(starts, sizes)
            near = (slat[point] >= self._miny[part]) & (slat[point] <= self._maxy[part])
            if not near.any():
                continue
            part, point = part[near], point[near]
            inside = shapely.contains_xy(self._parts[part], slon[point], slat[point])
            self._collect(hits, (order[point[inside]] + first).tolist(), part[inside].tolist())
        return hits

    def crossing(self, lon1: Sequence[float] | np.ndarray, lat1: Sequence[float] | np.ndarray,
                 lon2: Sequence[float] | np.ndarray, lat2: Sequence[float] | np.ndarray) -> list[frozenset[str]]:
        """For each straight leg (lon1, lat1) -> (lon2, lat2), the ids of the zones it intersects.

        A leg whose longitudes differ by more than 180 degrees is taken to cross the
        antimeridian (the short way round) and is split there into two segments.
        Zero-length legs intersect nothing here: use :meth:`containing` for points.
        """
        lon1 = np.asarray(lon1, dtype=float)
        found: list[frozenset[str]] = [_EMPTY] * lon1.size
        for leg, ids in self.crossing_hits(lon1, lat1, lon2, lat2).items():
            found[leg] = ids
        return found

    def crossing_hits(self, lon1: Sequence[float] | np.ndarray, lat1: Sequence[float] | np.ndarray,
                      lon2: Sequence[float] | np.ndarray,
                      lat2: Sequence[float] | np.ndarray) -> dict[int, frozenset[str]]:
        """:meth:`crossing` for the legs that intersect some zone only: {leg number: zone ids}."""
        x1, y1, x2, y2 = (np.asarray(a, dtype=float) for a in (lon1, lat1, lon2, lat2))
        if not x1.size or not self._parts.size:
            return {}
        leg, sx1, sy1, sx2, sy2 = _split_antimeridian(x1, y1, x2, y2)
        moving = (sx1 != sx2) | (sy1 != sy2)
        if not moving.all():
            leg, sx1, sy1, sx2, sy2 = leg[moving], sx1[moving], sy1[moving], sx2[moving], sy2[moving]
        hits: dict[int, frozenset[str]] = {}
        step = max(1, self.MAX_PAIRS // self._parts.size)
        for start in range(0, leg.size, step):
            chunk = slice(start, start + step)
            ax1, ay1, ax2, ay2 = sx1[chunk], sy1[chunk], sx2[chunk], sy2[chunk]
            lox, loy, hix, hiy = np.minimum(ax1, ax2), np.minimum(ay1, ay2), np.maximum(ax1, ax2), np.maximum(ay1, ay2)
            zminx, zminy, zmaxx, zmaxy = self._zone_box
            # the zones whose longitudes the segment's span meets (zone-major: numpy's fast layout),
            # then of those pairs the ones whose latitudes meet too
            zone, segment = np.divmod(np.flatnonzero((zmaxx[:, None] >= lox) & (zminx[:, None] <= hix)), lox.size)
            near = (loy[segment] <= zmaxy[zone]) & (hiy[segment] >= zminy[zone])
            if not near.any():
                continue
            zone, segment = zone[near], segment[near]
            # each (segment, zone) pair becomes (segment, part) for every part of the zone
            pair, part = _ranges(self._zone_first[zone], self._zone_parts[zone])
            segment = segment[pair]
            boxes = ((lox[segment] <= self._maxx[part]) & (hix[segment] >= self._minx[part])
                     & (loy[segment] <= self._maxy[part]) & (hiy[segment] >= self._miny[part]))
            if not boxes.any():
                continue
            segment, part = segment[boxes], part[boxes]
            lines = shapely.linestrings(np.stack((ax1, ay1, ax2, ay2), axis=1)[segment].reshape(-1, 2, 2))
            touching = shapely.intersects(self._parts[part], lines)
            self._collect(hits, leg[start + segment[touching]].tolist(), part[touching].tolist())
        return hits

    def _collect(self, hits: dict[int, frozenset[str]], numbers: list[int], parts: list[int]) -> None:
        """Adds the zone of ``parts[i]`` to the ids in ``hits`` of point (or leg) ``numbers[i]``."""
        for number, part in zip(numbers, parts):
            found = hits.get(number)
            hits[number] = self._part_zone[part] if found is None else found | self._part_zone[part]


def _ranges(starts: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (i, j) with ``starts[i] <= j < starts[i] + sizes[i]`` (sizes < 0 count as 0), in that order."""
    sizes = np.maximum(sizes, 0)
    owner = np.repeat(np.arange(sizes.size), sizes)
    return owner, np.repeat(starts - np.cumsum(sizes) + sizes, sizes) + np.arange(owner.size)


def _split_antimeridian(x1: np.ndarray, y1: np.ndarray, x2: np.ndarray,
                        y2: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Segments (leg index, x1, y1, x2, y2): legs with |dlon| > 180 become two, meeting at ±180."""
    legs = np.arange(x1.size)
    wrap = np.abs(x2 - x1) > 180.0
    if not wrap.any():
        return legs, x1, y1, x2, y2
    w = np.flatnonzero(wrap)
    side = np.where(x1[w] > x2[w], 180.0, -180.0)  # the meridian the leg leaves by
    unwrapped = x2[w] + 2.0 * side  # x2 on the same side as x1
    t = (side - x1[w]) / (unwrapped - x1[w])
    yc = y1[w] + t * (y2[w] - y1[w])
    keep = ~wrap
    return (np.concatenate([legs[keep], w, w]),
            np.concatenate([x1[keep], x1[w], -side]),
            np.concatenate([y1[keep], y1[w], yc]),
            np.concatenate([x2[keep], side, x2[w]]),
            np.concatenate([y2[keep], yc, y2[w]]))
