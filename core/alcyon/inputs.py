"""JSON-lines event files (``alcyon publish``, ``alcyon run --input``), validated all or nothing.

Every line is checked before any event is sent: text encoding, JSON, envelope, the schema of
its type when an installed plugin defines it. One bad line and nothing is published; the
error names each bad line (up to :data:`MAX_REPORTED`), what is wrong and how to fix it.

A line without an ``id`` gets one derived from its content and its line number, so running
the same file twice re-publishes the *same* events (sinks and keyed state deduplicate by id)
instead of duplicates under new ids.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from datetime import datetime, timezone
from typing import IO, Any, Mapping

from .errors import InvalidEvent
from .events import Event, format_time, uuid5_str
from .processors import EventType

#: Namespace of the ids given to input lines that have none (uuid5 of line number and content).
INPUT_ID_NAMESPACE = uuid.UUID("3b0f5e1c-8a43-4c52-9d1e-5a7f0c2e9b61")

#: Bad lines listed in one error (the count says how many more).
MAX_REPORTED = 20

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_EXAMPLE = '{"type": "demo.reading", "subject": "sensor-1", "data": {"value": 3}}'


def read_events(stream: IO[bytes], origin: str, event_types: Mapping[str, EventType] | None = None) -> list[Event]:
    """Every event of ``stream`` (JSON lines), or :class:`InvalidEvent` listing every bad line."""
    data = stream.read()
    nul = data.find(b"\x00")
    if nul >= 0:
        line_number = data.count(b"\n", 0, nul) + 1
        raise InvalidEvent(f"{origin}:{line_number}: binary data (a NUL byte), not text, nothing was published: give a "
                           f"JSON-lines file, one event object per line, e.g. {_EXAMPLE}")
    events: list[Event] = []
    errors: list[str] = []
    for number, line in enumerate(data.split(b"\n"), 1):
        try:
            event = parse_line(line, number, origin, event_types or {})
        except InvalidEvent as exc:
            errors.append(f"{origin}:{number}: {exc}")
            continue
        if event is not None:
            events.append(event)
    if errors:
        shown = errors[:MAX_REPORTED]
        more = f"\n  ... and {len(errors) - len(shown)} more" if len(errors) > len(shown) else ""
        raise InvalidEvent(f"{origin}: {len(errors)} bad line(s), nothing was published:\n  "
                           + "\n  ".join(shown) + more)
    return events


def parse_line(line: bytes, number: int, origin: str, event_types: Mapping[str, EventType]) -> Event | None:
    """The event on one line (``None`` for a blank or ``#`` comment line); :class:`InvalidEvent` saying the fix."""
    try:
        text = line.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise InvalidEvent(f"not valid UTF-8 (byte 0x{line[exc.start]:02x} at column {exc.start + 1}): "
                           "save the file as UTF-8") from None
    if not text or text.startswith("#"):
        return None
    try:
        raw = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise InvalidEvent(f"not JSON ({exc.msg} at column {exc.colno}): each line is one object, e.g. "
                           f"{_EXAMPLE}") from None
    if not isinstance(raw, dict):
        kind = {list: "an array", str: "a string", type(None): "null", bool: "a boolean"}.get(type(raw), "a number")
        raise InvalidEvent(f"JSON {kind}, not an object: each line is one event object, e.g. {_EXAMPLE}")
    raw = dict(raw)
    if "id" not in raw:
        raw["id"] = uuid5_str(INPUT_ID_NAMESPACE, f"{number}\x1f{json.dumps(raw, sort_keys=True)}")
    raw.setdefault("source", f"alcyon-publish:{origin}")
    raw.setdefault("time", time.time())
    try:
        event = Event.from_dict(raw)
        at = event.time
        format_time(at)
    except InvalidEvent as exc:
        raise InvalidEvent(f"{exc}; e.g. {_EXAMPLE}") from None
    except (ValueError, OverflowError, TypeError) as exc:
        raise InvalidEvent(f"time {raw.get('time')!r} cannot be an event time ({exc}): give RFC 3339 UTC "
                           "(2026-07-14T12:00:00Z) or seconds since 1970") from None
    if at < _EPOCH:
        raise InvalidEvent(f"time {format_time(at)} is before 1970: give the UTC time of the reading "
                           "(2026-07-14T12:00:00Z) or seconds since 1970")
    event_type = event_types.get(event.type)
    if event_type is not None:
        try:
            event_type.validate(event)
        except InvalidEvent as exc:
            fields = ", ".join(f"{k}: {_names(v)}" for k, v in event_type.fields.items())
            raise InvalidEvent(f"{exc} (schema of {event.type} from plugin {event_type.plugin or '?'}: "
                               f"data {{{fields}}})") from None
    return event


def _no_constant(name: str) -> Any:
    raise InvalidEvent(f"{name} is not a JSON number: give a finite number (or null)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidEvent(f"{text} is out of range for a number (over 1.8e308): give a finite number")
    return value


def _names(expected: Any) -> str:
    return " or ".join(t.__name__ for t in (expected if isinstance(expected, tuple) else (expected,)))
