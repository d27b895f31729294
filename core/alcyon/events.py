"""The event envelope: CloudEvents 1.0 attribute names and meaning.

An :class:`Event` is what sources publish and processors receive.  ``subject`` is the
thing the event is about (an MMSI, a camera pose, a device) and is also the key of the
processor's state.  ``time`` is the event time (when it happened, UTC), not the time it
was received.  ``data`` is a JSON-like value or raw ``bytes`` (a JPEG frame travels as
bytes, never base64).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, Mapping

from .errors import InvalidEvent

SPECVERSION = "1.0"

#: Namespace of the deterministic ids of derived events (uuid5).
DERIVED_ID_NAMESPACE = uuid.UUID("6f1c2a52-6d0b-4c1e-9a55-2b1c0a1e7c1d")

_ATTRIBUTES = ("id", "source", "type", "specversion", "time", "subject", "datacontenttype", "data")
_ATTRIBUTE_SET = frozenset(_ATTRIBUTES)
_NO_EXTENSIONS: Mapping[str, Any] = MappingProxyType({})
_UTC = timezone.utc


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    """One CloudEvents 1.0 event.

    ``extensions`` holds CloudEvents extension attributes (for example ``dataref``,
    a claim-check reference to a large payload stored elsewhere).
    """

    type: str
    source: str
    subject: str
    data: Any = None
    time: datetime = dataclasses.field(default_factory=lambda: datetime.now(timezone.utc))
    id: str = dataclasses.field(default_factory=lambda: str(uuid.uuid4()))
    datacontenttype: str = "application/json"
    specversion: str = SPECVERSION
    extensions: Mapping[str, Any] = dataclasses.field(default_factory=lambda: _NO_EXTENSIONS)

    def __post_init__(self) -> None:
        # hot path (every event made or received): exact-type checks first, the general ones on failure
        if not (type(self.type) is str and type(self.source) is str and type(self.subject) is str
                and type(self.id) is str and self.type and self.source and self.subject and self.id):
            for name in ("type", "source", "subject", "id"):
                value = getattr(self, name)
                if not isinstance(value, str) or not value:
                    raise InvalidEvent(f"event attribute {name!r} must be a non-empty string, got {value!r}")
        time = self.time
        if time.__class__ is not datetime or time.tzinfo is not _UTC:
            if not isinstance(time, datetime) or time.tzinfo is None:
                raise InvalidEvent(f"event attribute 'time' must be a timezone-aware datetime, got {time!r}")
            if time.tzinfo is not _UTC and time.utcoffset():
                object.__setattr__(self, "time", time.astimezone(_UTC))
        data = self.data
        if type(data) is not dict and isinstance(data, (bytes, bytearray, memoryview)) \
                and self.datacontenttype == "application/json":
            object.__setattr__(self, "datacontenttype", "application/octet-stream")

    @property
    def timestamp(self) -> float:
        """Event time as seconds since the Unix epoch."""
        return self.time.timestamp()

    def to_dict(self) -> dict[str, Any]:
        """The envelope as a plain dict (CloudEvents attribute names, time as RFC 3339)."""
        out: dict[str, Any] = {
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "specversion": self.specversion,
            "time": format_time(self.time),
            "subject": self.subject,
            "datacontenttype": self.datacontenttype,
            "data": self.data,
        }
        out.update(self.extensions)
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Event:
        """Build an event from its dict form; raise :class:`InvalidEvent` saying what is wrong.

        ``id`` may be left out: it is then derived from the content (:func:`content_id`).
        """
        # hot path (every event a worker receives): exact-type checks before the general ones
        if type(raw) is not dict and not isinstance(raw, Mapping):
            raise InvalidEvent(f"an event must be a mapping of CloudEvents attributes, got {type(raw).__name__}")
        get = raw.get
        event_id, source, event_type, subject = get("id", _MISSING), get("source"), get("type"), get("subject")
        if event_id is _MISSING:  # as documented: an id derived from the content (the same event, the same id)
            event_id = content_id(raw)
        if not (event_id and source and event_type and subject):
            missing = [name for name, value in (("id", event_id), ("source", source), ("type", event_type),
                                                ("subject", subject)) if not value]
            raise InvalidEvent(f"event is missing required attribute(s) {', '.join(missing)}")
        specversion = get("specversion", SPECVERSION)
        if specversion != SPECVERSION:
            raise InvalidEvent(f"unsupported specversion {specversion!r}: alcyon speaks CloudEvents {SPECVERSION}")
        extensions = _NO_EXTENSIONS if _ATTRIBUTE_SET.issuperset(raw) \
            else {k: v for k, v in raw.items() if k not in _ATTRIBUTE_SET}
        # positional: (type, source, subject, data, time, id, datacontenttype, specversion, extensions)
        return cls(event_type, source, subject if type(subject) is str else str(subject), get("data"),
                   parse_time(get("time")), event_id, get("datacontenttype") or "application/json", SPECVERSION,
                   extensions)


_MISSING: Any = object()


def content_id(raw: Mapping[str, Any]) -> str:
    """The id of an event given without one: a uuid5 of its canonical JSON (same content, same id)."""
    return uuid5_str(DERIVED_ID_NAMESPACE, "content\x1f" + json.dumps(raw, sort_keys=True, default=repr))


def uuid5_str(namespace: uuid.UUID, name: str) -> str:
    """``str(uuid.uuid5(namespace, name))``, three times cheaper (ids are made for every event)."""
    return uuid5_from_sha1(hashlib.sha1(namespace.bytes + name.encode()).hexdigest())


def uuid5_from_sha1(digest: str) -> str:
    """The version 5 UUID string of a SHA-1 hex digest of (namespace bytes + name), as uuid5 makes it."""
    # version nibble 5; variant bits 10xx: the high two bits of the 17th hex digit become 1, 0
    d = digest
    return f"{d[:8]}-{d[8:12]}-5{d[13:16]}-{_VARIANT[int(d[16], 16)]}{d[17:20]}-{d[20:32]}"


_VARIANT = "89ab" * 4


def derived_id(input_id: str, rule: str) -> str:
    """The deterministic id of an event derived from ``input_id`` by ``rule``.

    A redelivered input re-derives the *same* id, so sinks deduplicate by id.
    """
    return uuid5_str(DERIVED_ID_NAMESPACE, f"{input_id}\x1f{rule}")


def derive(cause: Event, rule: str, type: str, data: Any, *, source: str, subject: str | None = None,
           time: datetime | None = None) -> Event:
    """A derived event: deterministic id from ``cause.id`` and ``rule``, event time of the cause."""
    return Event(
        id=derived_id(cause.id, rule),
        type=type,
        source=source,
        subject=subject if subject is not None else cause.subject,
        time=time or cause.time,
        data=data,
        extensions={"causeid": cause.id, "rule": rule},
    )


def format_time(value: datetime) -> str:
    """RFC 3339 UTC with a ``Z`` suffix."""
    if value.tzinfo is not _UTC:
        value = value.astimezone(_UTC)
    return value.isoformat()[:-6] + "Z"  # drop "+00:00"


def parse_time(value: Any) -> datetime:
    """Parse an RFC 3339 string or epoch seconds into an aware UTC datetime."""
    if isinstance(value, str):
        try:
            result = datetime.fromisoformat(value)  # Python >= 3.11 reads the Z suffix, 3.10 does not
        except ValueError:
            try:
                result = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else "?")
            except ValueError:
                raise InvalidEvent(f"event time {value!r} is not RFC 3339 (e.g. 2026-07-14T12:00:00Z)") from None
        if result.tzinfo is _UTC:
            return result
    elif value is None:
        raise InvalidEvent("event is missing required attribute time")
    elif isinstance(value, datetime):
        result = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, timezone.utc)
        except (ValueError, OverflowError, OSError):  # NaN, Inf, beyond year 9999
            raise InvalidEvent(f"event time {value!r} is not a representable epoch time in seconds "
                               "(a finite number between year 1 and 9999)") from None
    else:
        raise InvalidEvent(f"event time must be an RFC 3339 string, got {type(value).__name__}")
    if result.tzinfo is None:
        raise InvalidEvent(f"event time {value!r} has no UTC offset (add Z or +00:00)")
    try:
        return result.astimezone(timezone.utc)
    except (ValueError, OverflowError):  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise InvalidEvent(f"event time {value!r} is out of range in UTC (years 1 to 9999)") from None
