"""AisDecoder against every real AIS sample file, plus targeted malformed input."""

from __future__ import annotations

import itertools
import random
from functools import reduce
from operator import xor
from pathlib import Path

import pytest
from pyais import decode as pyais_decode
from pyais.bit_vector import bit_vector
from pyais.encode import encode_dict
from pyais.messages import MSG_CLASS

from alcyon.errors import InvalidEvent
from alcyon_geofence import ais
from alcyon_geofence.ais import (
    REJECTION_REASONS,
    AisDecoder,
    Position,
    Rejection,
    StaticData,
    is_vessel_mmsi,
    position_event,
    record_from_event,
    static_event,
)

DEMO = Path(ais.__file__).parent / "data" / "demo_tracks.nmea"

# Exact counts of every file, worked out by reading the files (awk over the NMEA fields, and
# pyais's own decoder for checksums, bit lengths, MMSIs and coordinates), not from this decoder.
EXPECTED = {
    # 7 lines: 3 lines each holding two \tag\sentence segments (fragments 1 and 2 of a type 5,
    # all checksums valid), a blank line, and 3 bare payloads without NMEA framing (not_ais).
    # The reassembled payloads are 60+15 chars (448 bits), 56+11-2/6 (400 bits) and 60+14
    # (444 bits): none is in 420..426, so all 3 are bad_bit_count.
    "gfw_bad-type5.nmea": {"lines": 7, "blank": 1, "not_ais": 3, "reassembled": 3,
                           "rejected:bad_bit_count": 3},
    # 5 lines: lines 1 and 3 are type 3/type 1 with 31-char payloads (186 bits, valid checksums);
    # lines 2 and 4 are the same sentences truncated to 28 chars but keeping the original
    # checksum (77 vs 6D, 6A vs 64); line 5 is a good type 1 from MMSI 205252690.
    "gfw_errors.nmea": {"lines": 5, "decoded": 1, "rejected:bad_bit_count": 2, "rejected:bad_checksum": 2},
    # 109 lines, all valid checksums: 89 single sentences (5 each of types 1, 2, 3, 4, 7, 9, 10,
    # 11, 12, 14, 15, 18, 19, 20, 21, 24, 27 and 4 of type 8) and 10 two-part messages (5 of
    # type 5, 5 of type 17) = 99 messages.  Decoded types: 15 (1-3) + 5 (18) + 5 (19) + 5 (24)
    # + 5 (27) + 5 (5) = 40, of which one type 19 has MMSI 159019703 (first digit 1);
    # ignored: 10 types x 5 + 4 (type 8) + 5 (type 17) = 59.
    "gfw_mixed_types.nmea": {"lines": 109, "decoded": 39, "ignored_type": 59, "reassembled": 10,
                             "rejected:invalid_mmsi": 1},
    # 93 lines = 36 two-part + 7 three-part messages, all complete and valid (43 reassembled);
    # types: 10 x type 5 (424 bits, vessel MMSIs) decoded; 2 x 6, 1 x 8, 10 x 12, 10 x 14,
    # 10 x 17 ignored (33).
    "gfw_multi-part.nmea": {"lines": 93, "decoded": 10, "ignored_type": 33, "reassembled": 43},
    # 12 tagged type 1/3 sentences with 31-char payloads (186 bits, not 168) and a final empty line.
    "gfw_type1-bad-bitcount.nmea": {"lines": 13, "blank": 1, "rejected:bad_bit_count": 12},
    # 35 lines: 5 '#' comments; 7 blank; 8 non-AIS ($GPGGA, $GPRTE, $GPR00, foobar, $IIMWV,
    # IamNotAnAisMessage1111, 2 x $PGHP); 8 single type 1 of which MMSI 786434 is not 9 digits;
    # 2 two-part type 5 (MMSIs 351759000 and 366989380), the second split across a tag-block
    # group whose member 2 has no s:/c: (it inherits them); 3 tag blocks with a wrong "*A"
    # checksum (actual 7E, 61, 1D).  Decoded 7 + 2 = 9.
    "pyais_mixed.txt": {"lines": 35, "comment": 5, "blank": 7, "not_ais": 8, "decoded": 9, "reassembled": 2,
                        # three tag blocks end in a one-digit "*A": not a checksum (two hex digits)
                        "rejected:malformed": 3, "rejected:invalid_mmsi": 1},
    # 898 lines, all valid checksums: 878 single sentences, of which 100 have an empty payload;
    # the 778 others are 667 type 1 + 76 type 3 + 19 type 18 (762 positions, 4 of them from
    # MMSI 247120860 at lat 91 / lon 181), 2 type 24 (160 and 168 bits), and 14 ignored (7 x
    # type 15, 6 x type 4, 1 x type 20).  Decoded 762 - 4 + 2 = 760.  The other 20 lines are
    # first fragments of two-part messages whose second fragment never comes.
    "pyais_nmea_data_sample.txt": {"lines": 898, "decoded": 760, "ignored_type": 14,
                                   "rejected:empty_payload": 100, "rejected:orphan_fragment": 20,
                                   "rejected:position_unavailable": 4},
    # 11 lines: 4 $PGHP, 4 type 1, 2 blank, 1 comment.
    "pyais_timestamped.ais": {"lines": 11, "not_ais": 4, "decoded": 4, "blank": 2, "comment": 1},
}


def _feed_file(path, decoder=None):
    decoder = decoder or AisDecoder()
    results = []
    with open(path, "rb") as handle:
        for i, line in enumerate(handle):
            results += decoder.feed(line, received_at=1_000_000.0 + i)
    results += decoder.flush()
    return decoder, results


def _sentence(body: str) -> str:
    return f"!{body}*{reduce(xor, body.encode(), 0):02X}"


def _tag(fields: str) -> str:
    return f"\\{fields}*{reduce(xor, fields.encode(), 0):02X}\\"


def _encoded(**fields) -> str:
    (sentence,) = encode_dict({"type": 1, "mmsi": 227006760, "lat": 47.5, "lon": -3.1, "speed": 5.0,
                               "course": 90.0, "heading": 91, **fields}, talker_id="AI", sentence_type="VDM")
    return sentence


def test_every_sample_file_is_copied(ais_data):
    assert sorted(p.name for p in ais_data.iterdir() if p.suffix != ".md") == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_exact_counts_per_file(ais_data, name):
    decoder, results = _feed_file(ais_data / name)
    assert dict(decoder.counts) == EXPECTED[name]
    rejections = [r for r in results if isinstance(r, Rejection)]
    assert len(rejections) == sum(v for k, v in EXPECTED[name].items() if k.startswith("rejected:"))
    assert all(r.reason in REJECTION_REASONS and r.line for r in rejections)
    records = [r for r in results if not isinstance(r, Rejection)]
    type19 = [r for r in records if isinstance(r, StaticData) and r.msg_type == 19]  # also gave a Position
    assert len(records) == EXPECTED[name].get("decoded", 0) + len(type19)


def test_rejections_carry_reason_and_original_line(ais_data):
    _, results = _feed_file(ais_data / "gfw_errors.nmea")
    lines = (ais_data / "gfw_errors.nmea").read_text().splitlines()
    assert [(r.reason, r.line) if isinstance(r, Rejection) else "ok" for r in results] == [
        ("bad_bit_count", lines[0]), ("bad_checksum", lines[1]), ("bad_bit_count", lines[2]),
        ("bad_checksum", lines[3]), "ok"]


def test_tag_block_time_is_the_receive_time(ais_data):
    _, results = _feed_file(ais_data / "gfw_errors.nmea")
    position = results[-1]
    assert isinstance(position, Position)
    assert position.time == 1699401978.0  # c:1699401978, not the received_at of 1_000_004
    assert (position.mmsi, position.lat, position.lon) == ("205252690", 51.276033, 4.240385)


def test_tag_block_time_in_milliseconds_and_fallback_to_received_at():
    line = _encoded()
    decoder = AisDecoder()
    (in_ms,) = decoder.feed(_tag("s:r1,c:1699401978123") + line, received_at=5.0)
    (no_c,) = decoder.feed(_tag("s:r1") + line, received_at=6.0)
    (bare,) = decoder.feed(line, received_at=7.0)
    assert (in_ms.time, no_c.time, bare.time) == (1699401978.123, 6.0, 7.0)
    clocked = AisDecoder(clock=lambda: 42.0)
    assert clocked.feed(line)[0].time == 42.0


def test_str_and_bytes_lines_decode_alike(ais_data):
    text = (ais_data / "pyais_mixed.txt").read_text().splitlines()
    as_str, as_bytes = AisDecoder(), AisDecoder()
    results_str = [r for i, line in enumerate(text) for r in as_str.feed(line, float(i))]
    results_bytes = [r for i, line in enumerate(text) for r in as_bytes.feed(line.encode(), float(i))]
    assert results_str == results_bytes and as_str.counts == as_bytes.counts


def _resum(line: str) -> str:
    """``line`` with its sentence checksum, and its tag block's if any, recomputed."""
    head, sep, sentence = line.rpartition("\\")
    if sentence.startswith("!") and "*" in sentence:
        sentence = _sentence(sentence[1:sentence.rindex("*")])
    if head.startswith("\\") and "*" in head:
        head = _tag(head[1:head.rindex("*")])[:-1]
    return head + sep + sentence


def _mutations(line: str, rng: random.Random, count: int) -> list[str]:
    """``count`` random edits of ``line`` (a character replaced, deleted or inserted), each also with its
    checksums recomputed so that it gets past them to the checks behind."""
    out = []
    for _ in range(count):
        i = rng.randrange(len(line))
        char = rng.choice("0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVW`abcdefghijklmnopqrstuvwxyz,*\\! \xe9")
        edited = rng.choice((line[:i] + char + line[i + 1:], line[:i] + line[i + 1:], line[:i] + char + line[i:]))
        out += [edited, _resum(edited)]
    return out


def _crafted() -> list[str]:
    """Lines aimed at each check of the common shape: type 1/2/3/18 reports at and past the coordinate and
    MMSI limits, payloads cut or padded, every fill, checksums in lowercase or one digit, tag blocks bad,
    in milliseconds, long, or with other fields."""
    out = []
    for msg_type in (1, 2, 3, 18):
        for fields in ({}, {"lat": 91.0}, {"lon": 181.0}, {"lat": -91.0, "lon": -181.0}, {"lat": 95.0},
                       {"lon": -200.0}, {"lat": 90.0, "lon": 180.0}, {"lat": -90.0, "lon": -180.0},
                       {"lat": -0.0001, "lon": 0.0001}, {"mmsi": 2270067}, {"mmsi": 992271234}, {"mmsi": 970123456},
                       {"mmsi": 982271234}, {"mmsi": 799999999}, {"mmsi": 800000000}, {"heading": 360},
                       {"speed": 102.3, "course": 360.0, "heading": 511}, {"status": 15}):
            line = _encoded(type=msg_type, **fields)
            body, check = line[1:].rsplit("*", 1)
            payload = body.split(",")[5]
            out += [line, "!" + body + "*" + check.lower(), "!" + body + "*" + check[1:], "!" + body + "*00",
                    _resum(line.replace(",,A,", ",7,B,")), _resum(line.replace("!AIVDM", "!BSVDO"))]
            out += [_sentence(body.replace(payload + ",0", (payload + "w")[:n] + fill))
                    for n in (0, 1, 27, 29) for fill in (",0", ",1", ",2", ",5", ",6", ",", ",00")]
            for tag in ("s:r1,c:1699401978", "s:r1,c:1699401978123", "c:1699401978,s:r1", "s:r1,t:x,c:1699401978",
                        "s:" + "r" * 40 + ",c:1699401978", "s:" + "r" * 60 + ",c:1699401978123", "s:,c:0",
                        "s:r1,c:99999999999", "s:r1,c:100000000000", "s:r1,c:12345678901234", "s:r 1,c:5",
                        "g:1-2-7,s:r1,c:9"):
                out += [_tag(tag) + line, _tag(tag).lower() + line, "\\" + tag + "*00\\" + line,
                        _tag(tag)[:-1] + line, _tag(tag) + "!" + body + "*00"]
    return out


def _pyais_message(raw: str):
    """pyais's full decode of the payload of ``raw`` (its fragments, newline-separated, joined)."""
    fields = [part.rsplit("\\", 1)[-1].rsplit("*", 1)[0].split(",") for part in raw.split("\n")]
    vector = bit_vector("".join(f[5] for f in fields).encode(), int(fields[-1][6]))
    return MSG_CLASS[vector.get_num(0, 6)].from_vector(vector)


@pytest.fixture(scope="module")
def corpus() -> list[tuple[str, list[str]]]:
    """(name, lines): every sample file, the demo recording, mutations of all their lines, crafted lines."""
    files = sorted(p for p in (Path(__file__).parent / "data").iterdir() if p.suffix != ".md") + [DEMO]
    rng = random.Random(20250601)
    out = []
    for path in files:
        lines = path.read_text(encoding="latin-1").splitlines()
        out.append((path.name, lines))
        out.append((path.name + " mutated", [m for line in lines if line for m in _mutations(line, rng, 2)]))
    out.append(("crafted", _crafted()))
    return out


def test_the_common_line_decodes_as_on_the_general_path(corpus, monkeypatch):
    """The common shape (_COMMON) has its own path: with it and without it, every line of the corpus gives
    the same results, the same counts (in the same order) and the same readings of the clock."""
    def run(lines: list[str]) -> tuple[list, list, int]:
        ticks = itertools.count()
        decoder = AisDecoder(clock=lambda: 1e9 + next(ticks))
        results = [decoder.feed(line.encode("latin-1") if i % 2 else line, None if i % 3 else 2e9 + i)
                   for i, line in enumerate(lines)]
        return results + [decoder.flush()], list(decoder.counts.items()), next(ticks)

    common = 0
    for name, lines in corpus:
        fast = run(lines)
        common += sum(ais._COMMON(line.encode("latin-1")) is not None for line in lines)
        with monkeypatch.context() as patched:
            patched.setattr(ais, "_COMMON", lambda data: None)
            assert run(lines) == fast, name
    assert common > 5000  # the common path was taken


def test_positions_agree_with_pyais_full_decode(corpus):
    """Types 1-3 and 18 are read straight off the payload's bits: check every field against pyais, and the
    rejections of the content against pyais's values, on every line of the corpus."""
    positions, refused = [], []
    for _, lines in corpus:
        decoder = AisDecoder()
        for i, line in enumerate(lines):
            for result in decoder.feed(line, float(i)):
                if type(result) is Position:
                    positions.append(result)
                elif type(result) is Rejection and result.reason in (
                        "invalid_mmsi", "position_unavailable", "position_out_of_range"):
                    refused.append(result)
    assert {p.msg_type for p in positions} == {1, 2, 3, 18, 19, 27} and len(refused) > 500
    for pos in positions:
        msg = _pyais_message(pos.raw)
        assert (pos.mmsi, pos.lat, pos.lon, pos.msg_type) == (str(msg.mmsi), msg.lat, msg.lon, msg.msg_type)
        if pos.msg_type == 27:
            assert (pos.sog, pos.cog) == (None if msg.speed == 63 else msg.speed,
                                          None if msg.course == 511 else msg.course)
        else:
            assert pos.sog == (None if msg.speed == 102.3 else msg.speed)
            assert pos.cog == (None if msg.course >= 360 else msg.course)
            assert pos.heading == (None if msg.heading >= 360 else msg.heading)  # 511 = n/a, 360-510 invalid
        assert pos.nav_status == (int(msg.status) if pos.msg_type in (1, 2, 3, 27) else None)
    for rejection in refused:
        msg = _pyais_message(rejection.line)
        if not is_vessel_mmsi(msg.mmsi):
            assert rejection.reason == "invalid_mmsi"
        elif msg.lat == 91 or msg.lon == 181:
            assert rejection.reason == "position_unavailable"
        else:
            assert rejection.reason == "position_out_of_range" and (abs(msg.lat) > 90 or abs(msg.lon) > 180)


def test_not_available_values_become_none():
    (pos,) = AisDecoder().feed(_encoded(speed=102.3, course=360.0, heading=511), 1.0)
    assert (pos.sog, pos.cog, pos.heading) == (None, None, None)
    (pos,) = AisDecoder().feed(_encoded(speed=102.2, course=359.9, heading=359), 1.0)
    assert (pos.sog, pos.cog, pos.heading) == (102.2, 359.9, 359)


def test_static_data_of_types_5_and_24(ais_data):
    _, results = _feed_file(ais_data / "gfw_mixed_types.nmea")
    statics = [r for r in results if isinstance(r, StaticData)]
    assert sorted({s.msg_type for s in statics}) == [5, 19, 24]
    for static in statics:
        msg = pyais_decode(*static.raw.split("\n"))
        assert static.name == (getattr(msg, "shipname", None) or None)
        assert static.callsign == (getattr(msg, "callsign", None) or None)
        assert static.ship_type == (int(msg.ship_type) if getattr(msg, "ship_type", 0) else None)
        if static.msg_type == 5:
            assert static.imo == (msg.imo or None)
            assert (static.to_bow, static.to_stern, static.to_port, static.to_starboard) == (
                msg.to_bow, msg.to_stern, msg.to_port, msg.to_starboard)
    names = {s.name for s in statics if s.msg_type == 5}
    assert len(names) == 5 and None not in names


def test_type_19_gives_a_position_and_static_data(ais_data):
    line = (ais_data / "gfw_mixed_types.nmea").read_text().splitlines()
    type19 = [text for text in line if text.startswith("!AIVDM,1,1,,") and text.split(",")[5].startswith("C")]
    results = AisDecoder().feed(type19[1], 1.0)
    assert [type(r) for r in results] == [Position, StaticData]
    assert results[0].mmsi == results[1].mmsi


@pytest.mark.parametrize("mutate, reason", [
    (lambda s: s[:20] + ("A" if s[20] != "A" else "B") + s[21:], "bad_checksum"),
    (lambda s: s.rsplit("*", 1)[0], "malformed"),
    (lambda s: _sentence(s[1:].rsplit("*", 1)[0].replace(",1,1,", ",1,2,", 1)), "malformed"),
    (lambda s: _sentence(s[1:].rsplit("*", 1)[0][:-1] + "7"), "malformed"),  # fill bits 7
    (lambda s: _sentence(s[1:].rsplit("*", 1)[0].replace(",,A,", ",,A,X", 1)), "bad_payload"),
    (lambda s: _sentence("AIVDM,1,1,,A,,0"), "empty_payload"),
    (lambda s: _sentence(s[1:].rsplit("*", 1)[0].replace(",0", "0,0")), "bad_bit_count"),
])
def test_malformed_sentences_are_rejected(mutate, reason):
    decoder = AisDecoder()
    (result,) = decoder.feed(mutate(_encoded()), 1.0)
    assert isinstance(result, Rejection) and result.reason == reason
    assert decoder.counts["rejected:" + reason] == 1


def test_bad_tag_blocks_are_rejected():
    line = _encoded()
    decoder = AisDecoder()
    assert decoder.feed("\\s:r1,c:1699401978*00\\" + line, 1.0)[0].reason == "bad_checksum"
    assert decoder.feed("\\s:r1,c:1699401978\\" + line, 1.0)[0].reason == "malformed"
    assert decoder.feed(_tag("s:r1,c:soon") + line, 1.0)[0].reason == "malformed"
    assert decoder.feed(_tag("s:r1,c:nan") + line, 1.0)[0].reason == "malformed"
    assert decoder.feed("\\s:r1,c:1699401978*00" + line, 1.0)[0].reason == "malformed"  # unterminated


@pytest.mark.parametrize("tag", ["s:r1,c:-1699401978", "s:r1,c:1.6994e9", "s:r1,c:+1699401978", "s:r1,c:0",
                                 "s:r1,c:000", "s:r1,c:inf", "s:r1,c:"])
def test_a_tag_block_time_must_be_a_positive_integer(tag):
    decoder = AisDecoder()
    (result,) = decoder.feed(_tag(tag) + _encoded(), 1.0)
    assert result.reason == "malformed" and "c: must be a positive integer" in result.detail


@pytest.mark.parametrize("sentence, valid", [
    ("AIVDM,1,1,,A,", True), ("AIVDM,1,1,7,B,", True), ("AIVDM,1,1,,2,", True), ("AIVDM,1,1,,,", True),
    ("AIVDM,1,1,12,A,", False), ("AIVDM,1,1,x,A,", False), ("AIVDM,1,1,,C,", False), ("AIVDM,1,1,,AB,", False),
])
def test_sequence_ids_and_channels_are_validated(sentence, valid):
    body = _encoded()[1:].rsplit("*", 1)[0]
    line = _sentence(sentence + body.split(",", 5)[5])
    for text in (line, _tag("s:r1,c:1699401978") + line):  # bare and tagged: the fast path and the other
        (result,) = AisDecoder().feed(text, 1.0)
        assert (type(result) is Position) is valid, text
        if not valid:
            assert result.reason == "malformed" and "channel" in result.detail


@pytest.mark.parametrize("check", ["A", "0A1", ""])
def test_checksums_are_exactly_two_hex_digits(check):
    body = _encoded()[1:].rsplit("*", 1)[0]
    (result,) = AisDecoder().feed(f"!{body}*{check}", 1.0)
    assert result.reason == "malformed"
    fields = "s:r1,c:1699401978"
    (result,) = AisDecoder().feed(f"\\{fields}*{check}\\" + _encoded(), 1.0)
    assert result.reason == "malformed"


def test_a_line_with_a_tag_block_time_never_reads_the_clock():
    def clock() -> float:
        raise AssertionError("the clock was read")

    decoder = AisDecoder(clock=clock)
    line = _tag("s:r1,c:1699401978") + _encoded()
    assert decoder.feed(line)[0].time == 1699401978.0  # the common line's path
    assert decoder.feed(_tag("s:r1,c:1699401979,n:5") + _encoded())[0].time == 1699401979.0  # the general path
    assert decoder.feed(_tag("s:r1,c:1699401980") + _two_part()[0]) == []  # a first fragment, held


@pytest.mark.parametrize("fields, reason", [
    ({"lat": 91.0}, "position_unavailable"),
    ({"lon": 181.0}, "position_unavailable"),
    ({"lat": 95.0}, "position_out_of_range"),
    ({"lon": -200.0}, "position_out_of_range"),
    ({"mmsi": 2270067}, "invalid_mmsi"),
    ({"mmsi": 992271234}, "invalid_mmsi"),  # aid to navigation
    ({"mmsi": 2275000}, "invalid_mmsi"),  # coast station 00MIDxxxx
])
def test_invalid_content_is_rejected(fields, reason):
    (result,) = AisDecoder().feed(_encoded(**fields), 1.0)
    assert isinstance(result, Rejection) and result.reason == reason


def test_poles_and_antimeridian_are_valid_positions():
    for lat, lon in ((90.0, 180.0), (-90.0, -180.0), (0.0, 180.0)):
        (pos,) = AisDecoder().feed(_encoded(lat=lat, lon=lon), 1.0)
        assert (pos.lat, pos.lon) == (lat, lon)


@pytest.mark.parametrize("mmsi, valid", [
    (200000000, True), (227006760, True), (799999999, True), (800000000, False), (199999999, False),
    (970123456, True), (972123456, True), (974123456, True), (971123456, False), (982271234, True),
    (992271234, False), (111227123, False), (2275000, False), (1000000000, False),
])
def test_mmsi_rule(mmsi, valid):
    assert is_vessel_mmsi(mmsi) is valid


def _two_part():
    return encode_dict({"type": 5, "mmsi": 227006760, "shipname": "BREIZH", "callsign": "FABC", "ship_type": 30},
                       talker_id="AI", sentence_type="VDM", seq_id=3)


def test_fragments_are_reassembled_per_source_in_any_order():
    first, second = _two_part()
    decoder = AisDecoder()
    # Two receivers interleave fragments with the same sequence id and channel.
    assert decoder.feed(_tag("s:east,c:100") + first) == []
    assert decoder.feed(_tag("s:west,c:100") + second) == []
    (east,) = decoder.feed(_tag("s:east,c:101") + second)
    (west,) = decoder.feed(_tag("s:west,c:101") + first)
    assert east.name == west.name == "BREIZH" and east.time == west.time == 100.0
    assert decoder.counts["reassembled"] == 2


def test_orphan_fragments_expire_after_the_ttl():
    first, _ = _two_part()
    decoder = AisDecoder(fragment_ttl=10.0)
    assert decoder.feed(first, 100.0) == []
    assert decoder.feed("# still waiting", 105.0) == []  # comments do not advance the clock
    assert decoder.feed(_encoded(), 110.0)[0].mmsi == "227006760"  # 10 s: not yet expired
    results = decoder.feed(_encoded(), 110.5)
    assert [r.reason for r in results if isinstance(r, Rejection)] == ["orphan_fragment"]
    assert [r.line for r in results if isinstance(r, Rejection)] == [first]
    assert decoder.counts["rejected:orphan_fragment"] == 1 and decoder.flush() == []


def test_each_receiver_ages_its_fragments_on_its_own_clock():
    # a recording mixes tagged lines (recorded c: times) and untagged ones (read now): the
    # untagged lines' clock, a year later, must not expire the tagged receiver's fragments
    first, second = _two_part()
    tagged = lambda sentence, t: _tag(f"s:rx1,c:{t}") + sentence  # noqa: E731
    decoder = AisDecoder(fragment_ttl=10.0)
    assert decoder.feed(tagged(first, 1_700_000_000)) == []
    assert decoder.feed(_encoded(), 1_730_000_000.0)[0].mmsi == "227006760"
    [static] = decoder.feed(tagged(second, 1_700_000_002))
    assert static.mmsi and decoder.counts["rejected:orphan_fragment"] == 0


def test_expiry_is_strictly_after_the_ttl_for_each_message():
    first, _ = _two_part()
    other = first.replace(",3,A,", ",4,A,").rsplit("*", 1)[0]
    other = _sentence(other[1:])
    decoder = AisDecoder(fragment_ttl=10.0)
    decoder.feed(first, 100.0)
    decoder.feed(other, 105.0)
    expired = [r for r in decoder.feed(_encoded(), 115.0) if isinstance(r, Rejection)]
    assert [r.line for r in expired] == [first]  # 15 s old; the other is exactly 10 s old and waits
    assert [r.line for r in decoder.flush()] == [other]


def test_static_data_cache_does_not_mix_messages():
    def static(name):
        return encode_dict({"type": 5, "mmsi": 227006760, "shipname": name}, talker_id="AI", sentence_type="VDM")

    decoder = AisDecoder()
    names = [r.name for name in ("ONE", "TWO", "ONE", "TWO") for line in static(name) for r in decoder.feed(line, 1.0)]
    assert names == ["ONE", "TWO", "ONE", "TWO"]


def test_a_reused_sequence_id_orphans_the_incomplete_message():
    first, second = _two_part()
    decoder = AisDecoder()
    assert decoder.feed(first, 1.0) == []
    (orphan,) = decoder.feed(first, 2.0)  # fragment 1 again: the previous one lost its tail
    (static,) = decoder.feed(second, 2.5)
    assert orphan.reason == "orphan_fragment" and static.name == "BREIZH"


def test_event_ids_are_deterministic(ais_data):
    line = (ais_data / "gfw_errors.nmea").read_text().splitlines()[-1]
    pos_a, = AisDecoder().feed(line, 1.0)
    pos_b, = AisDecoder().feed(line, 2.0)  # replayed: the tag block gives the same receive time
    assert position_event(pos_a, "ais://r1").id == position_event(pos_b, "ais://r1").id
    assert position_event(pos_a, "ais://r1").id != position_event(pos_a, "ais://r2").id
    bare = _encoded()
    assert (position_event(AisDecoder().feed(bare, 1.0)[0], "s").id
            != position_event(AisDecoder().feed(bare, 2.0)[0], "s").id)
    event = position_event(pos_a, "ais://r1")
    assert (event.type, event.subject, event.timestamp) == ("ais.position", "205252690", 1699401978.0)


def test_events_round_trip_to_records(ais_data):
    _, results = _feed_file(ais_data / "gfw_mixed_types.nmea")
    records = [r for r in results if not isinstance(r, Rejection)]
    for record in records:
        event = position_event(record, "s") if isinstance(record, Position) else static_event(record, "s")
        assert record_from_event(event) == record
    event = position_event(records[0], "s")
    with pytest.raises(InvalidEvent, match="lacks data field 'lat'"):
        record_from_event(type(event)(type=event.type, source="s", subject="1", data={}))


def test_the_static_cache_tells_the_same_payload_with_other_fill_bits_apart() -> None:
    # a type 24 part B of 27 characters is 162 bits with fill 0 and 160 with fill 2: the last
    # dimension field reads other bits, so one must not be answered from the other's cache entry
    payload = "H52aML4T4=@Q<D4000000000003"  # part B; its last character holds to_starboard

    def line(fill: int) -> str:
        body = f"AIVDM,1,1,,B,{payload},{fill}"
        return f"!{body}*{reduce(xor, body.encode(), 0):02X}"

    fresh = [AisDecoder().feed(line(fill), 0.0) for fill in (0, 2)]
    shared = AisDecoder()
    assert [shared.feed(line(fill), 0.0) for fill in (0, 2)] == fresh
    assert fresh[0][0].to_starboard != fresh[1][0].to_starboard
