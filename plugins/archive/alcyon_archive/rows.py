"""Events as archive rows: the ``events`` row of every event, the ``emissions`` row of records and gaps."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from alcyon import Event

EMISSION_TYPES = {"emissions.record": "record", "emissions.gap": "gap"}

#: (id, type, source, subject, time, data JSON, dataref, received_at)
EventRow = tuple[str, str, str, str, datetime, "str | None", "str | None", datetime]
#: (id, kind, device, site, zone, start, end, energy_j, co2e_g, pue, g_per_kwh, basis, method)
EmissionRow = tuple[Any, ...]


def event_row(event: Event, received_at: datetime, blobs: Path | None) -> EventRow:
    """Binary payloads are written to ``blobs`` (``<id>.bin``, referenced by ``dataref``), or left out.

    So are the bytes among an object's fields (a fire alert's ``image``): in ``blobs`` as
    ``<id>.<field>.bin``, the field becoming ``{"dataref": path, "bytes": size}`` (``{"bytes": size}``
    without ``blobs``).
    """
    data, dataref = event.data, event.extensions.get("dataref")
    if isinstance(data, dict) and any(isinstance(v, (bytes, bytearray, memoryview)) for v in data.values()):
        data = {key: _blob_field(event.id, key, value, blobs) if isinstance(value, (bytes, bytearray, memoryview))
                else value for key, value in data.items()}
    if isinstance(data, (bytes, bytearray, memoryview)):
        if blobs is not None:
            path = blobs / f"{event.id}.bin"
            path.write_bytes(bytes(data))
            dataref = str(path)
        text = None
    else:
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return (event.id, event.type, event.source, event.subject, event.time, text, dataref, received_at)


def _blob_field(event_id: str, key: str, value: bytes | bytearray | memoryview, blobs: Path | None) -> dict:
    if blobs is None:
        return {"bytes": len(value)}
    path = blobs / f"{event_id}.{re.sub(r'[^A-Za-z0-9_-]', '_', key)}.bin"
    path.write_bytes(bytes(value))
    return {"dataref": str(path), "bytes": len(value)}


def emission_row(event: Event) -> EmissionRow | None:
    kind = EMISSION_TYPES.get(event.type)
    if kind is None:
        return None
    d = event.data
    start = datetime.fromtimestamp(d["start"], timezone.utc)
    end = datetime.fromtimestamp(d["end"], timezone.utc)
    if kind == "gap":
        return (event.id, kind, d["device"], d["site"], d["zone"], start, end, 0.0, 0.0, None, None, None, None)
    return (event.id, kind, d["device"], d["site"], d["zone"], start, end, float(d["energy_j"]),
            float(d["co2e_g"]), d.get("pue"), d.get("g_per_kwh"), d.get("basis"), d.get("method"))
