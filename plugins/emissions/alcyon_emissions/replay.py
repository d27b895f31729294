"""File replay of power samples: CSV or JSON lines.

CSV (a header line names the columns)::

    time,device,kind,value,max_range_uj,site,zone
    2026-01-15T00:00:00Z,srv-1:package-0,energy_uj,261000000000,262143328850,par-2,FR
    1768435210,plug-1,watts,4.2,,asso-lorient,FR

``time`` is unix seconds or RFC 3339; ``kind`` is ``energy_uj`` (a RAPL-style counter in µJ,
wrapping at ``max_range_uj``), ``energy_j`` (a counter in joules) or ``watts``; ``max_range_uj``
is empty when the counter has none; an empty ``site`` or ``zone`` takes the plugin's default.
JSON lines carry the same keys in one object per line.  Lines starting with ``#`` are comments.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from .energy import KINDS, Sample
from .samples import parse_time_value

COLUMNS = ("time", "device", "kind", "value", "max_range_uj", "site", "zone")


@dataclasses.dataclass(frozen=True)
class Bad:
    """An input that could not be read: kept as a dead letter with a bounded reason."""

    raw: bytes
    reason: str
    error: str


def sample_from_fields(row: Mapping[str, Any], site: str, zone: str) -> Sample:
    """A :class:`Sample` from a CSV row or JSON object; ValueError naming the bad field."""
    missing = [c for c in ("time", "device", "kind", "value") if row.get(c) in (None, "")]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    kind = str(row["kind"]).strip()
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    raw_time = row["time"]
    t = float(raw_time) if isinstance(raw_time, (int, float)) else parse_time_value(str(raw_time))
    try:
        value = float(row["value"])
    except (TypeError, ValueError):
        raise ValueError(f"value {row['value']!r} is not a number") from None
    if not math.isfinite(value) or (kind == "watts" and value < 0):
        raise ValueError(f"value {value!r} is not a valid {kind} value")
    rng_text = row.get("max_range_uj")
    rng: float | None = None
    if rng_text not in (None, ""):
        try:
            rng = float(rng_text)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ValueError(f"max_range_uj {rng_text!r} is not a number") from None
        if not rng > 0:
            raise ValueError(f"max_range_uj {rng_text!r} must be positive")
        if kind == "energy_j":
            rng /= 1e6
    return Sample(str(row["device"]).strip(), t, kind, value, rng,
                  str(row.get("site") or "").strip() or site, str(row.get("zone") or "").strip() or zone)


def read_file(path: Path, site: str, zone: str,
              progress: Callable[[int, int], None] = lambda done, total: None) -> Iterator[Sample | Bad]:
    """The samples of a CSV or JSON-lines file (chosen by its first non-comment character);
    ``progress(bytes read, size)`` is called as it goes."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        lines = iter(enumerate(f, 1))
        header: list[str] | None = None
        for lineno, raw in lines:
            if lineno % 64 == 0:
                progress(f.tell(), size)
            text = raw.decode("utf-8", "replace").strip()
            if not text or text.startswith("#"):
                continue
            where = f"{path.name} line {lineno}"
            try:
                if text.startswith("{"):
                    obj = json.loads(text)
                    if not isinstance(obj, dict):
                        raise ValueError("a JSON line must be an object")
                    yield sample_from_fields(obj, site, zone)
                    continue
                fields = next(csv.reader(io.StringIO(text)))
                if header is None:
                    header = [h.strip() for h in fields]
                    absent = [c for c in ("time", "device", "kind", "value") if c not in header]
                    if absent:
                        yield Bad(raw, "decode_error", f"{where}: the CSV header lacks {', '.join(absent)} "
                                                       f"(expected {','.join(COLUMNS)})")
                        return
                    continue
                if len(fields) != len(header):
                    raise ValueError(f"{len(fields)} fields, the header has {len(header)}")
                yield sample_from_fields(dict(zip(header, fields)), site, zone)
            except (ValueError, json.JSONDecodeError) as exc:
                yield Bad(raw, "decode_error", f"{where}: {exc}")
    progress(size, size)
