"""NMEA 0183 AIVDM/AIVDO decoding into validated AIS records.

pyais decodes the payloads of the long message types; the fixed-layout position reports (types
1-3 and 18, most of the traffic) are read here straight off their bits.  The NMEA framing is
parsed here too, because the geofence must be strict where pyais is lenient by design: bad
checksums are rejected, not flagged; tag-block checksums are verified; MMSIs and positions are
validated; fragments are reassembled per receiver and expire.

One physical line may hold several ``\\tag\\sentence`` segments (some receivers concatenate
them); each segment is handled on its own.  Every AIS message ends in exactly one of:
``decoded`` (one record, two for type 19), ``rejected:<reason>`` or ``ignored_type``.  Lines that
are not AIS at all count as ``comment``, ``blank`` or ``not_ais``.
"""

from __future__ import annotations

import functools
import math
import re
import time as _time
import uuid
from binascii import a2b_base64
from collections import Counter, _count_elements  # type: ignore[attr-defined]  # private, not in typeshed: see its use
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import reduce
from hashlib import sha1
from operator import xor
from typing import Any, NamedTuple

from pyais.bit_vector import bit_vector
from pyais.exceptions import AISBaseException
from pyais.messages import MSG_CLASS

from alcyon import Event, InvalidEvent, uuid5_from_sha1

#: Every ``Rejection.reason``; counted as ``counts["rejected:<reason>"]``.
REJECTION_REASONS = (
    "bad_checksum",  # sentence or tag-block checksum does not match its content
    "malformed",  # not a well-formed sentence/tag block (fields, fragment numbers, fill bits, no checksum)
    "bad_payload",  # payload characters outside the 6-bit armour, or pyais cannot decode it
    "empty_payload",  # a sentence with no payload at all
    "bad_bit_count",  # payload length wrong for its message type (see MESSAGE_BITS)
    "invalid_mmsi",  # not a vessel/SART MMSI (see is_vessel_mmsi)
    "position_unavailable",  # lat 91 or lon 181: the transponder has no fix
    "position_out_of_range",  # |lat| > 90 or |lon| > 180
    "orphan_fragment",  # a fragment of a multi-part message that never completed
)

#: Message types decoded, with the accepted payload length in bits (min, max): the sizes of
#: ITU-R M.1371, with the slack gpsd also allows for type 5 (420-426) and for type 24 parts
#: sent without or with padding (160-168).  Types 1-3 with 186 bits, seen in real feeds, are
#: rejected: a payload longer than its layout cannot be trusted.
MESSAGE_BITS = {
    1: (168, 168), 2: (168, 168), 3: (168, 168),
    5: (420, 426),
    18: (168, 168),
    19: (312, 312),
    24: (160, 168),
    27: (96, 96),
}
_FIXED_POSITION = frozenset((1, 2, 3, 18))
#: Every valid (fragment count, fragment number, fill bits) of a sentence: 1-9, 1-count, 0-5.
_FRAMING = frozenset((b"%d" % count, b"%d" % number, b"%d" % fill)
                     for count in range(1, 10) for number in range(1, count + 1) for fill in range(6))
STATIC_CACHE_SIZE = 4096

#: Namespace of the deterministic ids of ``ais.*`` events (uuid5).
AIS_EVENT_NAMESPACE = uuid.UUID("0e9c7d3a-2f41-4f6e-8b1a-5c2d9e7f4a10")

# Payload bytes allowed by the 6-bit armour ('0'-'W' and '`'-'w'), and their 6-bit values.
_ARMOUR = bytes(range(48, 88)) + bytes(range(96, 120))
_SIXBIT = [c - 48 if c < 88 else c - 56 for c in range(256)]
# The armour is base64 with another alphabet: mapped onto base64's, binascii unpacks it in C.
_TO_BASE64 = bytes.maketrans(_ARMOUR, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
# A seconds timestamp this large would be after the year 5000: it is milliseconds.
_MILLISECONDS_FROM = 1e11
_NEVER = math.inf
_LINE_DECODED = ("lines", "decoded")

#: The common line, decoded by AisDecoder._common: a single-fragment type 1/2/3/18 report (28 characters,
#: fill 0), bare or behind a ``\\s:source,c:time*hh\\`` tag block of at most 58 bytes (see _common).  The
#: groups: tag-block body, source, time, tag checksum, sentence body, payload, checksum.  Anything else
#: takes the general path.
_COMMON = re.compile(
    rb"(?:\\(s:([^,*\\\x00-\x1f\x7f-\xff]{0,40}),c:([0-9]{1,13}))\*([0-9A-Fa-f]{2})\\)?"
    rb"!([A-Z]{2}VD[MO],1,1,[0-9]?,[AB12]?,([123B][0-W`-w]{27}),0)\*([0-9A-Fa-f]{2})"
).fullmatch
_SEQUENCE_IDS = frozenset([b"", *(str(d).encode() for d in range(10))])
_CHANNELS = frozenset([b"", b"A", b"B", b"1", b"2"])
_UNREADABLE_TAG = "unreadable tag-block field (c: must be a positive integer)"
_new_tuple = tuple.__new__  # builds a NamedTuple without its Python-level __new__
#: The value of every two-digit hex checksum, either case (int(check, 16) costs 4 times more).
_HEX2 = {f"{a}{b}".encode(): int(a + b, 16) for a in "0123456789ABCDEFabcdef" for b in "0123456789ABCDEFabcdef"}


class Position(NamedTuple):
    """A validated position report (types 1, 2, 3, 18, 19, 27).

    ``time`` is the receive time (epoch seconds).  ``sog`` (knots), ``cog`` (degrees),
    ``heading`` and ``nav_status`` are None when not available, invalid or absent from the type;
    ``nav_status`` keeps 15 ("undefined") as sent.  ``raw`` is the received text, fragments
    joined by newlines.
    """

    mmsi: str
    time: float
    lat: float
    lon: float
    sog: float | None
    cog: float | None
    heading: int | None
    nav_status: int | None
    msg_type: int
    raw: str


class StaticData(NamedTuple):
    """Static vessel data (types 5, 19 and 24 part A or B); fields a type lacks are None."""

    mmsi: str
    time: float
    msg_type: int
    name: str | None
    callsign: str | None
    ship_type: int | None
    to_bow: int | None
    to_stern: int | None
    to_port: int | None
    to_starboard: int | None
    imo: int | None
    raw: str


class Rejection(NamedTuple):
    """Input that was refused: ``reason`` is one of REJECTION_REASONS, ``line`` the text."""

    reason: str
    line: str
    detail: str


Record = Position | StaticData
Result = Position | StaticData | Rejection


def _xor(data: bytes) -> int:
    """The XOR of all the bytes of ``data`` (an NMEA checksum)."""
    size = len(data)
    if not 24 < size <= 128:  # a loop over a few bytes is cheaper; over 128, longer than any sentence
        return reduce(xor, data, 0)
    # One big-int operation per halving instead of one per byte: the bytes, as one int, fold in halves
    # down to the lowest byte; whatever a fold leaves above the half it keeps is never read again.
    value = int.from_bytes(data, "little")
    if size > 64:
        value ^= value >> 512
    return _fold64(value) & 255


def _fold64(value: int) -> int:
    """``value`` with the XOR of the 64 bytes of its lowest 512 bits in its lowest byte (bits 512
    and up folded by the same shifts into bits 512-519: two checksums can travel at once)."""
    value ^= value >> 256
    value ^= value >> 128
    value ^= value >> 64
    value ^= value >> 32
    value ^= value >> 16
    return value ^ value >> 8


def is_vessel_mmsi(mmsi: int) -> bool:
    """True for MMSIs that can belong to something afloat we track.

    Accepted: ship stations ``MIDxxxxxx`` (first digit 2-7, i.e. 200000000-799999999),
    craft associated with a parent ship ``98MIDxxxx`` (e.g. a trawler's tender), and the
    AIS-SART / man-overboard / EPIRB-AIS devices ``970``, ``972``, ``974``.  Refused: anything
    not 9 digits, group calls (leading 0), coast and base stations (``00``), SAR aircraft
    (``111``), aids to navigation (``99``), handhelds and other ``8``/``1`` numbers.
    """
    if 200_000_000 <= mmsi <= 799_999_999 or 980_000_000 <= mmsi <= 989_999_999:
        return True
    return mmsi // 1_000_000 in (970, 972, 974)


#: Default bound of the incomplete multi-part messages a decoder keeps (a few hundred bytes each).
MAX_PENDING = 10_000


@dataclass
class _Pending:
    """Fragments of one multi-part message waiting for the rest."""

    count: int
    time: float
    payloads: list[bytes | None]
    raws: list[str | None]
    fill_bits: int = 0
    received: int = 0


class AisDecoder:
    """Stateful decoder fed one line at a time.

    ``fragment_ttl`` is how long (in receive time) an incomplete multi-part message waits
    for its other fragments.  Fragments are grouped by (tag-block source, sequence id,
    channel) and may arrive in any order.  ``clock`` gives the receive time of lines that
    have neither a ``c:`` tag nor an explicit ``received_at``.
    """

    def __init__(self, *, fragment_ttl: float = 10.0, clock: Callable[[], float] = _time.time,
                 max_pending: int = MAX_PENDING) -> None:
        self.fragment_ttl = fragment_ttl
        #: At most this many incomplete messages wait; beyond, the oldest is given up as
        #: ``fragment_overflow`` (a feed of fragments with a new tag-block source each never expires).
        self.max_pending = max_pending
        self.counts: Counter[str] = Counter()
        self._clock = clock
        self._pending: dict[tuple[str | None, bytes, bytes], _Pending] = {}
        # per receiver (tag-block source; None for untagged lines): the receive time at which its
        # oldest pending message expires.  Each receiver's fragments age on its own clock, so a
        # recording that mixes tagged (recorded times) and untagged lines (another clock) does
        # not expire one's fragments by the other's time.
        self._next_expiry: dict[str | None, float] = {}
        # NMEA 4 tag-block groups (g:n-total-id): later members inherit source and time.
        self._groups: dict[str, tuple[str | None, float | None]] = {}
        # Vessels repeat identical static reports every 6 minutes and pyais decodes these long
        # messages ~20x slower than a position: remember the decoded ones (cleared when full).
        self._static_cache: dict[tuple[bytes, int], Any] = {}  # (payload, fill bits): the same payload
        # with other fill bits has another length (a type 24 part B of 160 or 162 bits)

    def feed(self, line: str | bytes, received_at: float | None = None) -> list[Result]:
        """Decode one line; returns its records and rejections (plus any fragments that expired)."""
        if isinstance(line, str):
            raw = line.strip()
            data = raw.encode("ascii", "replace")
        else:
            data = line.strip()
            raw = data.decode("ascii", "replace")
        # the common line's payload is the 28 bytes before ",0*hh": a cheap test spares the others the regex
        common = _COMMON(data) if data[-34:-33] == b"," else None
        if common is not None:
            return self._common(common, raw, received_at)
        counts = self.counts
        counts["lines"] += 1
        out: list[Result] = []
        if not data:
            counts["blank"] += 1
            return out
        first = data[0]
        if first == 33:  # '!': a bare sentence, the common case
            now = self._clock() if received_at is None else received_at
            self._sentence(data, raw, None, now, out)
        elif first == 92:  # '\': one or more \tag\sentence segments
            self._tagged(data, raw, received_at, out)
        else:
            counts["comment" if first == 35 else "not_ais"] += 1
            return out
        return out

    def flush(self) -> list[Rejection]:
        """Give up on every incomplete multi-part message (end of input)."""
        out: list[Result] = []
        for source in list(self._next_expiry):
            self._expire(source, float("inf"), out)
        self._groups.clear()
        return out  # type: ignore[return-value]

    # -- framing ---------------------------------------------------------------------------

    def _common(self, match: re.Match[bytes], raw: str, received_at: float | None) -> list[Result]:
        """The common line (see _COMMON): what feed, _tagged, _tag_block, _sentence and _decode do with it, in
        the same order, without the checks that its shape has already passed."""
        tag, source_text, stamp_text, tag_check, body, payload, check = match.groups()
        if tag is None:
            source = None
            now = self._clock() if received_at is None else received_at
            sums = int.from_bytes(body, "little")
        else:
            sums = int.from_bytes(body, "little") | int.from_bytes(tag, "little") << 512
        # Both checksums in one _fold64: the body folds into bits 0-7, the tag into bits 512-519 (each
        # is at most 64 bytes long, so the two never mix).
        sums = _fold64(sums)
        if tag is not None:
            actual = sums >> 512 & 255
            if actual != _HEX2[tag_check]:
                return self._rejected_line(
                    Rejection("bad_checksum", raw, f"tag block checksum {tag_check.decode()} != {actual:02X}"))
            source = source_text.decode()
            now = float(stamp_text)
            if not now:  # c:0 is no time: refused as _tag_block refuses it
                out: list[Result] = []
                self.counts["lines"] += 1
                self._reject("malformed", raw, _UNREADABLE_TAG, out)
                return out
            if now >= _MILLISECONDS_FROM:
                now /= 1000.0
        if now > self._next_expiry.get(source, _NEVER):
            # Rare: the orphans are counted after the line, and the general path takes the sentence over.
            self.counts["lines"] += 1
            out = []
            self._expire(source, now, out)
            self._sentence(match.string[match.start(5) - 1:], raw, source, now, out)
            return out
        actual = sums & 255
        if actual != _HEX2[check]:
            return self._rejected_line(Rejection("bad_checksum", raw, f"checksum {_HEX2[check]:02X} != {actual:02X}"))
        record = _fixed_position(payload, _SIXBIT[payload[0]], now, raw)
        if type(record) is Rejection:
            return self._rejected_line(record)
        _count_elements(self.counts, _LINE_DECODED)  # Counter.update's C helper: two += 1 for the price of one
        return [record]

    def _rejected_line(self, rejection: Rejection) -> list[Result]:
        """The result of a refused common line, counted as feed and _reject count it."""
        counts = self.counts
        counts["lines"] += 1
        counts["rejected:" + rejection.reason] += 1
        return [rejection]

    def _tagged(self, data: bytes, raw: str, received_at: float | None, out: list[Result]) -> None:
        """Handle ``\\tag\\sentence[\\tag\\sentence...]`` (the clock is read only for a tag block without c:)."""
        parts = data.split(b"\\")
        if len(parts) % 2 == 0:
            self._reject("malformed", raw, "unterminated tag block (odd number of '\\')", out)
            return
        single = len(parts) == 3
        for i in range(1, len(parts), 2):
            tag, sentence = parts[i], parts[i + 1]
            text = raw if single else f"\\{tag.decode('ascii', 'replace')}\\{sentence.decode('ascii', 'replace')}"
            if not (sentence[:1] == b"!" and sentence[3:7] in (b"VDM,", b"VDO,")):
                self.counts["not_ais"] += 1
                continue
            parsed = self._tag_block(tag, text, received_at, out)
            if parsed is not None:
                source, now = parsed
                self._sentence(sentence, text, source, now, out)

    def _tag_block(self, tag: bytes, text: str, received_at: float | None,
                   out: list[Result]) -> tuple[str | None, float] | None:
        """Verify a tag block and return (source, receive time), or reject and return None."""
        body, star, check = tag.rpartition(b"*")
        expected = _HEX2.get(check) if star else None  # exactly two hex digits
        if expected is None:
            self._reject("malformed", text, "tag block without a *hh checksum", out)
            return None
        actual = _xor(body)
        if actual != expected:
            self._reject("bad_checksum", text, f"tag block checksum {check.decode()} != {actual:02X}", out)
            return None
        source: str | None = None
        stamp: float | None = None
        group: str | None = None
        try:
            for field in body.split(b","):
                key = field[:2]
                if key == b"c:":  # a positive integer: unix seconds, or milliseconds
                    digits = field[2:]
                    if not digits.isdigit() or not digits.strip(b"0"):
                        raise ValueError
                    stamp = float(digits)
                    if stamp >= _MILLISECONDS_FROM:
                        stamp /= 1000.0
                elif key == b"s:":
                    source = field[2:].decode("ascii")
                elif key == b"g:":
                    group = field[2:].decode("ascii")
        except (ValueError, UnicodeDecodeError):
            self._reject("malformed", text, _UNREADABLE_TAG, out)
            return None
        if group is not None:
            source, stamp = self._group_member(group, source, stamp)
        if stamp is None:
            stamp = self._clock() if received_at is None else received_at
        return source, stamp

    def _group_member(self, group: str, source: str | None,
                      stamp: float | None) -> tuple[str | None, float | None]:
        """Members 2..n of a tag-block group carry no s:/c:; they inherit the first member's."""
        number, _, rest = group.partition("-")
        total, _, group_id = rest.partition("-")
        if number == "1" and total not in ("", "1"):
            if len(self._groups) >= 1024:  # bound memory on feeds that never close groups
                self._groups.clear()
            self._groups[group_id] = (source, stamp)
            return source, stamp
        known = self._groups.get(group_id)
        if number == total:
            self._groups.pop(group_id, None)
        if known is None:
            return source, stamp
        return (source if source is not None else known[0]), (stamp if stamp is not None else known[1])

    def _sentence(self, data: bytes, raw: str, source: str | None, now: float, out: list[Result]) -> None:
        """Validate one ``!xxVDM``/``!xxVDO`` sentence, then decode or queue it as a fragment."""
        if now > self._next_expiry.get(source, _NEVER):
            self._expire(source, now, out)
        if data[3:7] not in (b"VDM,", b"VDO,"):
            self.counts["not_ais"] += 1
            return
        star = data.rfind(b"*")
        expected = _HEX2.get(data[star + 1:]) if star >= 0 else None  # exactly two hex digits
        if expected is None:
            self._reject("malformed", raw, "sentence without a *hh checksum", out)
            return
        body = data[1:star]
        actual = _xor(body)
        if actual != expected:
            self._reject("bad_checksum", raw, f"checksum {expected:02X} != {actual:02X}", out)
            return
        fields = body.split(b",")
        if len(fields) != 7:
            self._reject("malformed", raw, f"{len(fields)} fields instead of 7", out)
            return
        _, count, number, seq_id, channel, payload, fill = fields
        if (count, number, fill) not in _FRAMING:
            self._reject("malformed", raw, "bad fragment count/number or fill bits", out)
            return
        if seq_id not in _SEQUENCE_IDS or channel not in _CHANNELS:
            self._reject("malformed", raw, "sequence id must be empty or 0-9, channel empty, A, B, 1 or 2", out)
            return
        if not payload:
            self._reject("empty_payload", raw, "no payload", out)
            return
        if payload.translate(None, _ARMOUR):
            self._reject("bad_payload", raw, "payload character outside the 6-bit armour", out)
            return
        if count[0] == 49:
            self._decode(payload, fill[0] - 48, now, raw, out)
        else:
            self._fragment((source, seq_id, channel), count[0] - 48, number[0] - 48, payload, fill[0] - 48,
                           raw, now, out)

    # -- multi-part reassembly -------------------------------------------------------------

    def _fragment(self, key: tuple[str | None, bytes, bytes], count: int, number: int, payload: bytes,
                  fill_bits: int, raw: str, now: float, out: list[Result]) -> None:
        pending = self._pending.get(key)
        if pending is not None and (pending.count != count or pending.payloads[number - 1] is not None):
            # The sequence id was reused before the previous message completed.
            del self._pending[key]
            self._orphan(pending, out)
            pending = None
        if pending is None:
            if len(self._pending) >= self.max_pending:
                self._orphan(self._pending.pop(next(iter(self._pending))), out, "fragment_overflow")
                if len(self._next_expiry) > 2 * self.max_pending:  # sources whose fragments all overflowed
                    self._next_expiry = {}
                    for (source, _, _), waiting in self._pending.items():
                        self._next_expiry[source] = min(self._next_expiry.get(source, math.inf),
                                                        waiting.time + self.fragment_ttl)
            pending = _Pending(count, now, [None] * count, [None] * count)
            self._pending[key] = pending
            self._next_expiry[key[0]] = min(self._next_expiry.get(key[0], math.inf), now + self.fragment_ttl)
        pending.payloads[number - 1] = payload
        pending.raws[number - 1] = raw
        pending.received += 1
        if number == count:
            pending.fill_bits = fill_bits
        if pending.received == count:
            del self._pending[key]
            self.counts["reassembled"] += 1
            self._decode(b"".join(pending.payloads), pending.fill_bits,  # type: ignore[arg-type]
                         pending.time, "\n".join(pending.raws), out)  # type: ignore[arg-type]

    def _expire(self, source: str | None, now: float, out: list[Result]) -> None:
        """Orphan ``source``'s pending messages older than ``fragment_ttl`` at ``now``."""
        limit = now - self.fragment_ttl
        mine = [(k, p) for k, p in self._pending.items() if k[0] == source]
        for key, pending in mine:
            if pending.time < limit:
                self._orphan(self._pending.pop(key), out)
        left = [p.time for k, p in mine if k in self._pending]
        if left:
            self._next_expiry[source] = min(left) + self.fragment_ttl
        else:
            self._next_expiry.pop(source, None)

    def _orphan(self, pending: _Pending, out: list[Result], reason: str = "orphan_fragment") -> None:
        for raw in pending.raws:
            if raw is not None:
                self._reject(reason, raw, f"fragment of a {pending.count}-part message never completed"
                             + (f" (over {self.max_pending} incomplete messages)" if reason != "orphan_fragment"
                                else ""), out)

    # -- payload ---------------------------------------------------------------------------

    def _decode(self, payload: bytes, fill_bits: int, now: float, raw: str, out: list[Result]) -> None:
        msg_type = _SIXBIT[payload[0]]
        limits = MESSAGE_BITS.get(msg_type)
        if limits is None:
            self.counts["ignored_type"] += 1
            return
        bits = len(payload) * 6 - fill_bits
        if not limits[0] <= bits <= limits[1]:
            self._reject("bad_bit_count", raw, f"type {msg_type} with {bits} bits", out)
            return
        if msg_type in _FIXED_POSITION:  # 168 bits: 28 characters, fill 0
            record = _fixed_position(payload, msg_type, now, raw)
            out.append(record)
            # else a Rejection: mypy narrows ``type(x) is`` on its true side only
            self.counts["decoded" if type(record) is Position
                        else "rejected:" + record.reason] += 1  # type: ignore[union-attr]
            return
        cacheable = msg_type == 5 or msg_type == 24
        msg: Any = self._static_cache.get((payload, fill_bits)) if cacheable else None
        if msg is None:
            try:
                msg = MSG_CLASS[msg_type].from_vector(bit_vector(payload, fill_bits))
            except (AISBaseException, ValueError) as exc:
                self._reject("bad_payload", raw, f"type {msg_type}: {exc}", out)
                return
            if cacheable:
                if len(self._static_cache) >= STATIC_CACHE_SIZE:
                    self._static_cache.clear()
                self._static_cache[payload, fill_bits] = msg
        mmsi = msg.mmsi
        if not is_vessel_mmsi(mmsi):
            self._reject("invalid_mmsi", raw, f"MMSI {mmsi:09d} is not a vessel MMSI", out)
            return
        if msg_type == 27:
            speed, course = msg.speed, msg.course
            if not self._position(mmsi, now, msg.lat, msg.lon, None if speed == 63 else speed,
                                  None if course >= 360 else course, None, int(msg.status), 27, raw, out):
                return
        else:  # 5, 19 and 24 carry static data; 19 a position too
            if msg_type == 19:
                speed, course, heading = msg.speed, msg.course, msg.heading
                if not self._position(mmsi, now, msg.lat, msg.lon, None if speed == 102.3 else speed,
                                      None if course >= 360.0 else course, None if heading >= 360 else heading,
                                      None, 19, raw, out):
                    return
            out.append(_static(msg, msg_type, now, raw))
        self.counts["decoded"] += 1

    def _position(self, mmsi: int, now: float, lat: float, lon: float, sog: float | None, cog: float | None,
                  heading: int | None, status: int | None, msg_type: int, raw: str, out: list[Result]) -> bool:
        """Validate the coordinates and emit the Position; False if rejected."""
        if lat == 91.0 or lon == 181.0:
            self._reject("position_unavailable", raw, f"lat {lat} lon {lon}", out)
            return False
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            self._reject("position_out_of_range", raw, f"lat {lat} lon {lon}", out)
            return False
        out.append(Position(str(mmsi), now, lat, lon, sog, cog, heading, status, msg_type, raw))
        return True

    def _reject(self, reason: str, raw: str, detail: str, out: list[Result]) -> None:
        self.counts["rejected:" + reason] += 1
        out.append(Rejection(reason, raw, detail))


def _fixed_position(payload: bytes, msg_type: int, now: float, raw: str) -> Position | Rejection:
    """A type 1-3 or 18 report (168 bits, fixed layout, most of the traffic) read straight off the payload's
    bits: building pyais's 16-field message object would triple the cost.  Bit offsets per ITU-R M.1371;
    tests check the result against pyais's full decode.  The checks and their order are _position's."""
    v = int.from_bytes(a2b_base64(payload.translate(_TO_BASE64)), "big")
    mmsi = v >> 130 & 0x3FFFFFFF
    if not (200_000_000 <= mmsi <= 799_999_999 or is_vessel_mmsi(mmsi)):  # most are ship stations
        return Rejection("invalid_mmsi", raw, f"MMSI {mmsi:09d} is not a vessel MMSI")
    if msg_type == 18:  # no status, and the fields from speed to heading 4 bits further on
        status = None
        v >>= 35
    else:
        status = v >> 126 & 15
        v >>= 31
    lon_units = v >> 48 & 0xFFFFFFF
    if lon_units & 0x8000000:  # two's complement, 28 bits
        lon_units -= 0x10000000
    lat_units = v >> 21 & 0x7FFFFFF
    if lat_units & 0x4000000:  # 27 bits
        lat_units -= 0x8000000
    # In 1/10000 minute: the degrees are pyais's to_lat_lon, round(x / 600000, 6), exactly (and without its
    # call): x * 5 / 3 is never halfway between two integers.
    lon = (lon_units * 10 + 3) // 6 / 1000000
    lat = (lat_units * 10 + 3) // 6 / 1000000
    if lat == 91.0 or lon == 181.0:
        return Rejection("position_unavailable", raw, f"lat {lat} lon {lon}")
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return Rejection("position_out_of_range", raw, f"lat {lat} lon {lon}")
    speed, course, heading = v >> 77 & 1023, v >> 9 & 4095, v & 511
    return _new_tuple(Position, (str(mmsi), now, lat, lon, None if speed == 1023 else speed / 10,
                                 None if course >= 3600 else course / 10, None if heading >= 360 else heading,
                                 status, msg_type, raw))


def _static(msg: Any, msg_type: int, now: float, raw: str) -> StaticData:
    """The static data of a pyais message of type 5, 19 or 24 (fields it lacks are None)."""
    ship_type = getattr(msg, "ship_type", None)
    imo = getattr(msg, "imo", None)
    return _new_tuple(StaticData, (
        str(msg.mmsi), now, msg_type, getattr(msg, "shipname", None) or None, getattr(msg, "callsign", None) or None,
        None if ship_type is None else int(ship_type) or None, _number(getattr(msg, "to_bow", None)),
        _number(getattr(msg, "to_stern", None)), _number(getattr(msg, "to_port", None)),
        _number(getattr(msg, "to_starboard", None)), None if imo is None else int(imo) or None, raw))


def _number(value: Any) -> int | None:
    return None if value is None else int(value)


# -- events ---------------------------------------------------------------------------------

POSITION_EVENT = "ais.position"
STATIC_EVENT = "ais.static"


def record_event_id(event_type: str, source: str, raw: str, time: float) -> str:
    """Deterministic id: the same sentence(s) received at the same time by the same source
    always get the same id, so a replayed line deduplicates downstream."""
    return uuid5_from_sha1(sha1(_id_prefix(event_type, source) + f"{raw}\x1f{time!r}".encode()).hexdigest())


@functools.lru_cache(maxsize=256)
def _id_prefix(event_type: str, source: str) -> bytes:
    """The constant start of what ``record_event_id`` hashes (uuid5: namespace bytes, then the name)."""
    return AIS_EVENT_NAMESPACE.bytes + f"{event_type}\x1f{source}\x1f".encode()


def _event(event_type: str, record: Record, source: str, data: dict[str, object]) -> Event:
    # positional: (type, source, subject, data, time, id)
    return Event(event_type, source, record.mmsi, data, datetime.fromtimestamp(record.time, timezone.utc),
                 record_event_id(event_type, source, record.raw, record.time))


def position_event(pos: Position, source: str) -> Event:
    """The ``ais.position`` event of a position record (subject = MMSI)."""
    return _event(POSITION_EVENT, pos, source, {
        "lat": pos.lat, "lon": pos.lon, "sog": pos.sog, "cog": pos.cog, "heading": pos.heading,
        "nav_status": pos.nav_status, "msg_type": pos.msg_type, "raw": pos.raw,
    })


def static_event(static: StaticData, source: str) -> Event:
    """The ``ais.static`` event of a static-data record (subject = MMSI)."""
    return _event(STATIC_EVENT, static, source, {
        "msg_type": static.msg_type, "name": static.name, "callsign": static.callsign,
        "ship_type": static.ship_type, "to_bow": static.to_bow, "to_stern": static.to_stern,
        "to_port": static.to_port, "to_starboard": static.to_starboard, "imo": static.imo, "raw": static.raw,
    })


def record_from_event(event: Event) -> Record:
    """The record carried by an ``ais.position`` or ``ais.static`` event (inverse of the two above)."""
    data = event.data
    try:
        if event.type == POSITION_EVENT:
            return Position(event.subject, event.timestamp, data["lat"], data["lon"], data["sog"], data["cog"],
                            data["heading"], data["nav_status"], data["msg_type"], data["raw"])
        if event.type == STATIC_EVENT:
            return StaticData(event.subject, event.timestamp, data["msg_type"], data["name"], data["callsign"],
                              data["ship_type"], data["to_bow"], data["to_stern"], data["to_port"],
                              data["to_starboard"], data["imo"], data["raw"])
    except (KeyError, TypeError) as exc:
        raise InvalidEvent(f"{event.type} event {event.id} lacks data field {exc}") from None
    raise InvalidEvent(f"not an AIS record event: {event.type!r} (expected {POSITION_EVENT} or {STATIC_EVENT})")
