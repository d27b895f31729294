"""A device's recent interval-closing samples, packed in one ``bytes`` value of its keyed state.

Each entry is the 8-byte BLAKE2b digest of a sample's event id and the device's state before
that sample (time, kind, value, range): enough to recompute the sample's record on a
redelivery.  As one bytes string the history costs a copy, not a structure to walk, when the
device's record is read and written at every batch (msgpack moves bytes as they are).
Digest collisions among a device's last few hundred ids: ~1e-15, negligible.
"""

from __future__ import annotations

import hashlib
import math
import struct
from typing import Any

from .energy import KINDS

_KINDS = list(KINDS)
_ENTRY = struct.Struct("<8sdBdd")
SIZE = _ENTRY.size


def digest(event_id: str) -> bytes:
    return hashlib.blake2b(event_id.encode(), digest_size=8).digest()


def find(blob: bytes, key: bytes) -> dict[str, Any] | None:
    """The state stored with ``key``, or None."""
    i = blob.find(key)
    while i != -1 and i % SIZE:
        i = blob.find(key, i + 1)
    if i == -1:
        return None
    _, t, k, v, r = _ENTRY.unpack_from(blob, i)
    return {"t": t, "k": _KINDS[k], "v": v, "r": None if math.isnan(r) else r}


def add(blob: bytes, key: bytes, state: dict[str, Any], limit: int) -> bytes:
    """``blob`` with ``(key, state)`` appended, keeping the last ``limit`` entries."""
    r = state["r"]
    entry = _ENTRY.pack(key, state["t"], _KINDS.index(state["k"]), state["v"], math.nan if r is None else r)
    blob += entry
    return blob[-limit * SIZE:] if len(blob) > limit * SIZE else blob
