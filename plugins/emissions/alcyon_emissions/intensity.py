"""Grid carbon intensity per zone: the bundled country table, a fixed value, or a time series.

Every value comes with its :class:`Basis` (lifecycle or direct emissions, where from, which
year), which every record states.  The country table is CodeCarbon's bundle of Our World in
Data / Ember yearly figures (lifecycle gCO2e/kWh; see ``data/ATTRIBUTION.md``); a zone is an
ISO 3166 alpha-2 or alpha-3 code (``FR`` or ``FRA``).  A zone the table does not know gets the
world average CodeCarbon falls back to (475 g/kWh), and its basis says so.

A series (CSV ``time,g_per_kwh``, e.g. RTE eCO2mix's 15-minute values) is a step function:
each value holds from its time to the next one's.  An interval of energy that crosses step
boundaries is split at them.  Outside the series' span the zone's table value applies.
"""

from __future__ import annotations

import bisect
import csv
import dataclasses
import functools
import json
from pathlib import Path
from typing import Any, Mapping, Protocol

from alcyon import ConfigError

DATA = Path(__file__).parent / "data"
ENERGY_MIX = DATA / "codecarbon_global_energy_mix.json"
PER_SOURCE = DATA / "codecarbon_carbon_intensity_per_source.json"
ALPHA2 = DATA / "iso3166_alpha2_to_alpha3.json"

TABLE_SOURCE = "Our World in Data / Ember (CodeCarbon country table)"


@dataclasses.dataclass(frozen=True, slots=True)
class Basis:
    """What an intensity value means: ``kind`` is lifecycle or direct; ``source``; ``year`` if yearly."""

    kind: str
    source: str
    year: int | None = None
    text: str = dataclasses.field(default="", compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", "; ".join(str(p) for p in (self.kind, self.source, self.year)
                                                   if p is not None))

    def label(self) -> str:
        """One line, e.g. ``lifecycle; Our World in Data / Ember (CodeCarbon country table); 2023``."""
        return self.text


#: ``(start, end, g_per_kwh, basis)``: one piece of an interval at one intensity.
Segment = tuple[float, float, float, Basis]


class Intensity(Protocol):
    def segments(self, start: float, end: float) -> list[Segment]:
        """``[start, end]`` cut where the intensity changes, each piece with its value."""


@dataclasses.dataclass(frozen=True)
class Fixed:
    """One value at all times."""

    g_per_kwh: float
    basis: Basis

    def segments(self, start: float, end: float) -> list[Segment]:
        return [(start, end, self.g_per_kwh, self.basis)]


class Series:
    """A step function of time; ``outside`` applies before its first step and after its last one ends.

    The last step lasts as long as the one before it (a series of 15-minute values ends 15 minutes
    after its last time).
    """

    def __init__(self, times: list[float], values: list[float], basis: Basis, outside: Intensity) -> None:
        if len(times) < 2:
            raise ValueError("an intensity series needs at least two values")
        if any(b <= a for a, b in zip(times, times[1:])):
            raise ValueError("an intensity series' times must increase strictly")
        self.times = times + [times[-1] + (times[-1] - times[-2])]
        self.values = values
        self.basis = basis
        self.outside = outside

    def segments(self, start: float, end: float) -> list[Segment]:
        first, last = self.times[0], self.times[-1]
        out: list[Segment] = []
        if start < first:
            out += self.outside.segments(start, min(end, first))
        lo, hi = max(start, first), min(end, last)
        if lo < hi:
            i = bisect.bisect_right(self.times, lo) - 1
            while lo < hi:
                step_end = min(self.times[i + 1], hi)
                out.append((lo, step_end, self.values[i], self.basis))
                lo, i = step_end, i + 1
        if end > last:
            out += self.outside.segments(max(start, last), end)
        return out


def load_series(path: str | Path, basis: Basis, outside: Intensity) -> Series:
    """A CSV of ``time,g_per_kwh`` rows (a header line is allowed; time in unix seconds or RFC 3339)."""
    from .samples import parse_time_value

    times: list[float] = []
    values: list[float] = []
    try:
        with open(path, newline="") as f:
            for lineno, row in enumerate(csv.reader(f), 1):
                if not row or row[0].startswith("#") or (lineno == 1 and row[0].strip() == "time"):
                    continue
                try:
                    times.append(parse_time_value(row[0]))
                    values.append(float(row[1]))
                except (ValueError, IndexError) as exc:
                    raise ConfigError(f"intensity series {path}, line {lineno}: expected time,g_per_kwh "
                                      f"({exc})") from None
        return Series(times, values, basis, outside)
    except OSError as exc:
        raise ConfigError(f"intensity series {path}: cannot read it ({exc.strerror})") from None
    except ValueError as exc:
        raise ConfigError(f"intensity series {path}: {exc}") from None


@functools.lru_cache(maxsize=1)
def country_table() -> dict[str, dict[str, Any]]:
    """The bundled table, by ISO alpha-3 code."""
    return json.loads(ENERGY_MIX.read_text())


@functools.lru_cache(maxsize=1)
def _alpha2() -> dict[str, str]:
    return json.loads(ALPHA2.read_text())


@functools.lru_cache(maxsize=1)
def world_average() -> Fixed:
    raw = json.loads(PER_SOURCE.read_text())
    return Fixed(float(raw["world_average"]), Basis("lifecycle", f"world average ({raw['world_average_source']}, "
                                                                 "CodeCarbon's fallback)"))


def alpha3(zone: str) -> str | None:
    """The ISO alpha-3 code of ``zone`` (alpha-2 or alpha-3, any case), or None."""
    code = zone.strip().upper()
    if len(code) == 2:
        return _alpha2().get(code)
    return code if len(code) == 3 else None


def table_intensity(zone: str) -> Fixed:
    """The country table's value for ``zone``, or the world average (its basis says why)."""
    code = alpha3(zone)
    row = country_table().get(code) if code else None
    if row is None:
        avg = world_average()
        return Fixed(avg.g_per_kwh, Basis(avg.basis.kind, f"{avg.basis.source}: zone {zone!r} not in the "
                                                          "country table"))
    return Fixed(float(row["carbon_intensity"]), Basis("lifecycle", TABLE_SOURCE, int(row["year"])))


class Intensities:
    """The intensity of each grid zone, from ``[plugins.emissions.zones.<zone>]`` or the country table.

    A zone's table may give ``g_per_kwh`` (fixed) or ``series`` (a CSV path), with ``basis``
    (lifecycle or direct), ``source`` and ``year`` describing it.
    """

    _KEYS = {"g_per_kwh", "series", "basis", "source", "year"}

    def __init__(self, zones: Mapping[str, Any]) -> None:
        self._configured: dict[str, Intensity] = {}
        for zone, table in zones.items():
            self._configured[zone.upper()] = self._parse(zone, table)
        self._cache: dict[str, Intensity] = {}

    @classmethod
    def _parse(cls, zone: str, table: Any) -> Intensity:
        where = f"[plugins.emissions.zones.{zone}]"
        if not isinstance(table, Mapping):
            raise ConfigError(f"{where} must be a table, e.g. g_per_kwh = 44 or series = \"eco2mix.csv\"")
        unknown = set(table) - cls._KEYS
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; accepted: "
                              f"{', '.join(sorted(cls._KEYS))}")
        if ("g_per_kwh" in table) == ("series" in table):
            raise ConfigError(f"{where}: give exactly one of g_per_kwh (a fixed value) or series (a CSV file)")
        kind = table.get("basis", "lifecycle" if "g_per_kwh" in table else "direct")
        if kind not in ("lifecycle", "direct"):
            raise ConfigError(f"{where} basis: lifecycle or direct, got {kind!r}")
        year = table.get("year")
        if year is not None and not isinstance(year, int):
            raise ConfigError(f"{where} year: an integer, got {year!r}")
        if "g_per_kwh" in table:
            value = table["g_per_kwh"]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(f"{where} g_per_kwh: a number >= 0, got {value!r}")
            return Fixed(float(value), Basis(kind, str(table.get("source", "configured value")), year))
        basis = Basis(kind, str(table.get("source", f"series {Path(table['series']).name}")), year)
        return load_series(table["series"], basis, table_intensity(zone))

    def of(self, zone: str) -> Intensity:
        found = self._cache.get(zone)
        if found is None:
            found = self._configured.get(zone.upper())
            if found is None:
                code = alpha3(zone)
                found = next((v for k, v in self._configured.items() if code and alpha3(k) == code), None)
            found = found or table_intensity(zone)
            self._cache[zone] = found
        return found
