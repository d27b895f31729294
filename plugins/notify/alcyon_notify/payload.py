"""What a sink receives: the alert as CloudEvents 1.0 JSON ("structured mode").

The body is the alert's envelope, ``{"specversion", "id", "source", "type", "subject",
"time", "datacontenttype", "data", ...extensions}``, exactly as the CloudEvents JSON format
and HTTP binding define it (``Content-Type: application/cloudevents+json``).  ``id`` is the
alert's event id: stable across redeliveries (derived ids are deterministic), so a receiver
can deduplicate on it; webhooks also get it as the ``Idempotency-Key`` header.

Bytes never break the JSON.  Events carry binary evidence as raw bytes (a JPEG crop in
``data``, or a whole JPEG as ``data``); each sink has a ``binary`` mode for them:

``base64`` (webhooks' default)
    ``data`` that *is* bytes goes into ``data_base64``, as the CloudEvents JSON format
    specifies; bytes *inside* ``data`` become ``{"$binary": {"base64": "...", "size": n,
    "sha256": "<hex>"}}``.
``digest`` (the JSON-lines file's default)
    bytes become ``{"$binary": {"size": n, "sha256": "<hex>"}}``: the evidence is identified
    but not copied into the line (the file stays small; the JSON-lines sink writes the bytes
    beside it, named :func:`evidence_name`).  When the whole ``data`` was bytes, the
    descriptor also keeps its ``contenttype`` and ``datacontenttype`` becomes ``application/json``.
``link:<base URL>`` (a webhook's ``binary = "link"`` with ``link_base``)
    as ``digest``, plus ``"href": "<base URL><sha256>.jpg"``: where the receiver fetches the
    image (a web server over the directory the JSON-lines sink writes evidence to).

Other values JSON cannot carry are made explicit, never silently dropped: tuples become
lists, datetimes RFC 3339 strings, non-finite floats ``null``, non-string keys strings.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from datetime import datetime
from typing import Any

from alcyon import Event, format_time

CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
BINARY_KEY = "$binary"
LINK = "link:"
_SUFFIXES = ((b"\xff\xd8\xff", ".jpg"), (b"\x89PNG", ".png"))


def evidence_name(data: bytes) -> str:
    """The file name of a piece of binary evidence: its sha256 and a suffix from its magic bytes."""
    suffix = next((s for magic, s in _SUFFIXES if data.startswith(magic)), ".bin")
    return hashlib.sha256(data).hexdigest() + suffix


def envelope(event: Event, binary: str = "base64") -> dict[str, Any]:
    """The alert as a CloudEvents JSON object, bytes per ``binary`` (``base64``, ``digest``, ``link:<base>``)."""
    out = event.to_dict()
    data = out.pop("data")
    if isinstance(data, (bytes, bytearray, memoryview)):
        data = bytes(data)
        if binary == "base64":
            out["data_base64"] = base64.b64encode(data).decode("ascii")
        else:
            out["data"] = {BINARY_KEY: {**_described(data, binary), "contenttype": out["datacontenttype"]}}
            out["datacontenttype"] = "application/json"
    elif data is not None:
        out["data"] = _jsonable(data, binary)
    else:
        out["data"] = None
    return {key: _jsonable(value, binary) for key, value in out.items()}


def to_json(event: Event, binary: str = "base64") -> bytes:
    """The envelope as compact UTF-8 JSON (one line: no newline inside)."""
    return json.dumps(envelope(event, binary), ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False).encode("utf-8")


def _digest(data: bytes) -> dict[str, Any]:
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _described(data: bytes, binary: str) -> dict[str, Any]:
    described = _digest(data)
    if binary == "base64":
        return {"base64": base64.b64encode(data).decode("ascii"), **described}
    if binary.startswith(LINK):
        described["href"] = binary[len(LINK):] + evidence_name(data)
    return described


def _jsonable(value: Any, binary: str) -> Any:
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {BINARY_KEY: _described(bytes(value), binary)}
    if isinstance(value, dict):
        return {k if isinstance(k, str) else _key(k): _jsonable(v, binary) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v, binary) for v in value]
    if isinstance(value, datetime):
        return format_time(value) if value.tzinfo is not None else value.isoformat()
    return str(value)


def _key(key: Any) -> str:
    if isinstance(key, (bytes, bytearray)):
        return bytes(key).decode("utf-8", "backslashreplace")
    return json.dumps(key) if isinstance(key, (int, float, bool)) or key is None else str(key)
