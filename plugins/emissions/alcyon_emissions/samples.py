"""The ``power.sample`` event: what every power source publishes and the processor reads.

``subject`` is the device; ``time`` the sample's time; ``data`` holds ``kind`` (``energy_uj``,
``energy_j`` or ``watts``), ``value``, ``max_range_uj`` (a counter's wrap range, or null),
``site``, ``zone`` and free ``labels``.  Sources build events with :func:`sample_event`, whose
id is derived from (source, device, time, kind, value): a replayed file republishes the same ids
(the processor re-derives the same records), while two different values for one device and time
are two samples, the second one a duplicate that is ignored.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any, Mapping

from alcyon import Event, EventType, InvalidEvent

from .energy import KINDS, Sample

SAMPLE_EVENT = "power.sample"


def parse_time_value(text: str) -> float:
    """Unix seconds, or an RFC 3339 time (``Z`` or an offset required), as unix seconds."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    value = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    if value.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset (add Z or +00:00)")
    return value.timestamp()


def _check(event: Event) -> None:
    data = event.data
    if data["kind"] not in KINDS:
        raise InvalidEvent(f"{SAMPLE_EVENT} event {event.id}: data.kind must be one of {', '.join(KINDS)}, "
                           f"got {data['kind']!r}")
    value = data["value"]
    if not math.isfinite(value) or (data["kind"] == "watts" and value < 0):
        raise InvalidEvent(f"{SAMPLE_EVENT} event {event.id}: data.value {value!r} is not a valid "
                           f"{data['kind']} value")
    rng = data.get("max_range_uj")
    if rng is not None and (isinstance(rng, bool) or not isinstance(rng, (int, float)) or rng <= 0):
        raise InvalidEvent(f"{SAMPLE_EVENT} event {event.id}: data.max_range_uj must be a positive number or null")


SAMPLE_TYPE = EventType(
    SAMPLE_EVENT, "a power sample: cumulative energy counter or power reading; subject = device",
    fields={"kind": str, "value": (int, float), "site": str, "zone": str}, check=_check)


def sample_event(sample: Sample, source: str, labels: Mapping[str, str] | None = None) -> Event:
    """The ``power.sample`` event of ``sample`` (max_range in the counter's own unit, µJ for energy_uj)."""
    from alcyon import derived_id

    data: dict[str, Any] = {"kind": sample.kind, "value": sample.value,
                            "max_range_uj": _range_uj(sample), "site": sample.site, "zone": sample.zone,
                            "labels": dict(labels or {})}
    return Event(SAMPLE_EVENT, source, sample.device, data, datetime.fromtimestamp(sample.time, timezone.utc),
                 derived_id(source, f"{sample.device}\x1f{sample.time!r}\x1f{sample.kind}\x1f{sample.value!r}"))


def _range_uj(sample: Sample) -> float | None:
    if sample.max_range is None:
        return None
    return sample.max_range if sample.kind == "energy_uj" else sample.max_range * 1e6


def sample_of(event: Event) -> Sample:
    """The :class:`Sample` of a ``power.sample`` event (its range back in the counter's unit)."""
    d = event.data
    kind, rng = d["kind"], d.get("max_range_uj")
    if rng is not None and kind == "energy_j":
        rng = rng / 1e6
    return Sample(event.subject, event.timestamp, kind, d["value"], rng, d["site"], d["zone"])
