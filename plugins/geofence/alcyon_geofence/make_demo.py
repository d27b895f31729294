"""Generate the demo NMEA recording: SYNTHETIC vessel tracks over the real French MPAs.

    python -m alcyon_geofence.make_demo --out FILE [--seed N]

The tracks are invented (MMSIs use MID 200, which is allocated to no country, and every
name starts with DEMO) and encoded as valid AIVDM type 1 position reports and type 5
static data with pyais, each line behind a ``\\s:alcyon-demo,c:<unix time>*hh\\`` tag block.
The real sentences of pyais's sample (no tag block, so they take the reader's receive
time) are interleaved unchanged; they decode to vessels far from these zones.
Output is deterministic for a given seed.

Scenarios (zone ids of data/french_mpas.geojson):

* 200000001 enters "baie de Quiberon" (3) from the west and leaves it south after ~20 min.
* 200000002 enters Quiberon (3) from the east, goes dark for 50 min and reappears outside.
* 200000003 runs south at 25 kn, received only every 465 s: one straight leg crosses the
  eastern tip of "îles Houat-Hoëdic" (10) with both ends outside.
* 200000004 trawls at 2.5 kn for ~75 min off the Calanques, in "îles marseillaises -
  Cassidaigne" (2).  (The "Calanques - aire d'adhésion" polygon, zone 4, is on land.)
* 200000005-200000007 transit far from every zone.
"""

from __future__ import annotations

import argparse
import math
import random
from dataclasses import dataclass
from functools import reduce
from operator import xor
from pathlib import Path

from pyais.encode import encode_dict

DATA = Path(__file__).parent / "data"
DEMO_FILE = DATA / "demo_tracks.nmea"
REAL_SAMPLE = DATA / "pyais_nmea_data_sample.nmea"
SEED = 20250601
START = 1748757600  # 2025-06-01T06:00:00Z
SOURCE = "alcyon-demo"
STATIC_EVERY = 360.0  # seconds between type 5 reports, as ITU-R M.1371 prescribes
_KNOT_KMH = 1.852


@dataclass(frozen=True)
class Leg:
    """Sail to (lon, lat) at ``knots``, reporting every ``every`` seconds unless ``silent``."""

    lon: float
    lat: float
    knots: float
    every: float
    silent: bool = False


@dataclass(frozen=True)
class Vessel:
    mmsi: int
    name: str
    callsign: str
    ship_type: int
    nav_status: int
    start: float  # seconds after START
    origin: tuple[float, float]
    legs: tuple[Leg, ...]
    jitter: bool = True  # GPS noise and irregular report intervals


VESSELS = (
    Vessel(200000001, "DEMO TRAWLER ONE", "DEMO1", 30, 7, 60.0, (-3.215, 47.548), (
        Leg(-3.150, 47.545, 6.0, 30.0), Leg(-3.152, 47.520, 5.0, 30.0), Leg(-3.200, 47.490, 8.0, 30.0))),
    Vessel(200000002, "DEMO TRAWLER TWO", "DEMO2", 30, 7, 300.0, (-3.060, 47.5865), (
        Leg(-3.1202, 47.5856, 4.0, 30.0), Leg(-3.118, 47.560, 1.9, 30.0, silent=True),
        Leg(-3.050, 47.540, 7.0, 30.0))),
    Vessel(200000003, "DEMO FAST THREE", "DEMO3", 30, 0, 900.0, (-2.805, 47.4458), (
        Leg(-2.805, 47.2306, 25.0, 465.0),),
        jitter=False),
    Vessel(200000004, "DEMO TRAWLER FOUR", "DEMO4", 30, 7, 120.0, (5.620, 43.140), (
        Leg(5.480, 43.160, 9.0, 60.0), Leg(5.465, 43.165, 2.5, 60.0), Leg(5.450, 43.158, 2.5, 60.0),
        Leg(5.462, 43.150, 2.5, 60.0), Leg(5.478, 43.157, 2.5, 60.0), Leg(5.620, 43.050, 10.0, 60.0))),
    Vessel(200000005, "DEMO CARGO FIVE", "DEMO5", 70, 0, 0.0, (-4.600, 46.900), (
        Leg(-3.600, 46.600, 13.0, 120.0),)),
    Vessel(200000006, "DEMO SAILING SIX", "DEMO6", 36, 8, 600.0, (5.000, 42.850), (
        Leg(6.000, 42.900, 6.0, 120.0),)),
    Vessel(200000007, "DEMO FERRY SEVEN", "DEMO7", 60, 0, 1200.0, (-2.500, 47.100), (
        Leg(-1.900, 46.800, 15.0, 120.0),)),
)


def _km(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Equirectangular distance: plenty for legs of a few kilometres."""
    x = math.radians(lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    return 6371.0 * math.hypot(x, math.radians(lat2 - lat1))


def _bearing(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    x = math.radians(lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    return math.degrees(math.atan2(x, math.radians(lat2 - lat1))) % 360.0


def tagged(time: float, sentence: str) -> str:
    """The sentence behind a ``\\s:alcyon-demo,c:<unix time>*hh\\`` tag block."""
    tag = f"s:{SOURCE},c:{int(time)}"
    return f"\\{tag}*{reduce(xor, tag.encode(), 0):02X}\\{sentence}"


def _track(vessel: Vessel, rng: random.Random) -> list[tuple[float, str]]:
    """(time, line) of every report of one vessel."""
    lines: list[tuple[float, str]] = []
    lon, lat = vessel.origin
    t = START + vessel.start
    next_static = t
    channel = 0
    for leg in vessel.legs:
        seconds = _km(lon, lat, leg.lon, leg.lat) / (leg.knots * _KNOT_KMH) * 3600.0
        course = _bearing(lon, lat, leg.lon, leg.lat)
        elapsed = 0.0
        while not leg.silent and elapsed < seconds:
            f = elapsed / seconds
            plon, plat = lon + f * (leg.lon - lon), lat + f * (leg.lat - lat)
            speed, cog = leg.knots, course
            if vessel.jitter:
                plon += rng.gauss(0.0, 0.00002)
                plat += rng.gauss(0.0, 0.00002)
                speed = max(0.0, speed + rng.gauss(0.0, 0.2))
                cog = (cog + rng.gauss(0.0, 2.0)) % 360.0
            when = t + elapsed
            if when >= next_static:
                seq = len(lines) % 10
                for sentence in encode_dict({
                    "type": 5, "mmsi": vessel.mmsi, "imo": 0, "callsign": vessel.callsign,
                    "shipname": vessel.name, "ship_type": vessel.ship_type, "to_bow": 12, "to_stern": 8,
                    "to_port": 3, "to_starboard": 3, "epfd": 1, "draught": 3.5, "destination": "DEMO",
                }, talker_id="AI", sentence_type="VDM", radio_channel="AB"[channel % 2], seq_id=seq):
                    lines.append((when, tagged(when, sentence)))
                next_static = when + STATIC_EVERY
            lines.extend((when, tagged(when, sentence)) for sentence in encode_dict({
                "type": 1, "mmsi": vessel.mmsi, "status": vessel.nav_status, "turn": 0.0,
                "speed": round(speed, 1), "accuracy": 1, "lon": round(plon, 6), "lat": round(plat, 6),
                "course": round(cog, 1), "heading": int(round(cog)) % 360, "second": int(when) % 60,
            }, talker_id="AI", sentence_type="VDM", radio_channel="AB"[channel % 2]))
            channel += 1
            elapsed += leg.every * (rng.uniform(0.8, 1.2) if vessel.jitter else 1.0)
        lon, lat = leg.lon, leg.lat
        t += seconds
    return lines


def generate(seed: int = SEED, real_sample: Path = REAL_SAMPLE) -> str:
    """The whole demo file as text."""
    rng = random.Random(seed)
    synthetic = sorted((item for vessel in VESSELS for item in _track(vessel, rng)), key=lambda item: item[0])
    real = [line.strip() for line in real_sample.read_text(encoding="ascii").splitlines() if line.strip()]
    header = [
        f"# alcyon geofence demo - SYNTHETIC vessel tracks (python -m alcyon_geofence.make_demo --seed {seed})",
        "# over the real French MPAs of french_mpas.geojson. Tagged lines (s:alcyon-demo) are invented:",
        "# MMSIs use the unallocated MID 200 and names start with DEMO; they describe no real vessel.",
        "# Untagged lines are real AIVDM sentences from pyais tests/nmea_data_sample.txt (MIT), unchanged.",
    ]
    out = header[:]
    # Spread the real lines evenly through the synthetic ones.
    cut = 0
    for j, line in enumerate(real):
        until = (j + 1) * len(synthetic) // (len(real) + 1)
        out.extend(text for _, text in synthetic[cut:until])
        out.append(line)
        cut = until
    out.extend(text for _, text in synthetic[cut:])
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEMO_FILE, help=f"output file (default {DEMO_FILE})")
    parser.add_argument("--seed", type=int, default=SEED, help=f"random seed (default {SEED})")
    args = parser.parse_args(argv)
    args.out.write_text(generate(args.seed), encoding="ascii")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
