"""In-process geofence throughput: decode + validate + geofence, against a naive shapely loop.

    PYTHONPATH=core:plugins/geofence python bench/bench_geofence_inprocess.py [--pings 200000]

The workload is the demo recording (alcyon_geofence/data/demo_tracks.nmea: synthetic tracks
over the real MPAs mixed with real pyais sample sentences), repeated with its tag-block
times shifted so that every copy is new traffic rather than stale replays.

(a) AisDecoder.feed on every line, then process_batch every 1000 records, against the 20
    bundled French MPAs (103 polygons): the whole in-process path of an AIS line.
(b) the same positions, one by one: Point(lon, lat) against every zone's polygon with an
    unprepared ``contains`` and no bounding-box prefilter of our own.
Also shown: decoding alone, the geofence stage alone (process_batch on decoded records)
and vectorised containment alone (the part that (b) does), each on the same data.

Rates use this process's CPU time (time.process_time) because the machine may be shared,
best of --repeat runs (the median is printed too); everything here is single-threaded.
The harness's own inputs are moved out of the garbage collector's sight (gc.freeze) so that
holding 260k lines in memory does not slow the code being measured.
"""

from __future__ import annotations

import argparse
import gc
import math
import time
from typing import Callable, TypeVar

import shapely
from shapely.geometry import Point

from alcyon_geofence.ais import AisDecoder, Position, Rejection
from alcyon_geofence.make_demo import DEMO_FILE, tagged
from alcyon_geofence.tracker import TrackerConfig, process_batch
from alcyon_geofence.zones import BUNDLED_MPAS, ZoneIndex, load_zones

BATCH = 1000
T = TypeVar("T")


def workload(target_pings: int) -> list[tuple[str, float]]:
    """(line, received_at) pairs: enough copies of the demo file, each shifted later in time."""
    lines = DEMO_FILE.read_text(encoding="ascii").splitlines()
    stamps = {i: int(line.split("c:", 1)[1].split("*", 1)[0]) for i, line in enumerate(lines) if line[:1] == "\\"}
    start, span = min(stamps.values()), max(stamps.values()) - min(stamps.values()) + 3600
    decoder = AisDecoder()
    per_copy = sum(isinstance(r, Position) for i, line in enumerate(lines) for r in decoder.feed(line, float(i)))
    out = []
    for copy in range(math.ceil(target_pings / per_copy)):
        shift = copy * span
        for i, line in enumerate(lines):
            if i in stamps:  # same sentence, tag block re-stamped later
                line = tagged(stamps[i] + shift, line.rsplit("\\", 1)[1])
            out.append((line, start + shift + i * 0.5))
    return out


def timed(work: Callable[[], T], repeat: int) -> tuple[float, float, T]:
    """(best CPU seconds, median CPU seconds, result) over ``repeat`` runs."""
    seconds = []
    for _ in range(repeat):
        began = time.process_time()
        result = work()
        seconds.append(time.process_time() - began)
    seconds.sort()
    return seconds[0], seconds[len(seconds) // 2], result


def run_batches(records: list, index: ZoneIndex, config: TrackerConfig) -> int:
    states: dict = {}
    alerts = 0
    for start in range(0, len(records), BATCH):
        chunk = records[start:start + BATCH]
        new, found = process_batch(chunk, {r.mmsi: states.get(r.mmsi) for r in chunk}, index, config)
        states.update(new)
        alerts += len(found)
    return alerts


def pipeline(lines: list[tuple[str, float]], index: ZoneIndex, config: TrackerConfig) -> tuple[int, int]:
    """(a): decode every line and geofence every BATCH records; returns (pings, alerts)."""
    feed = AisDecoder().feed
    states: dict = {}
    pending: list = []
    pings = alerts = 0

    def geofence() -> None:
        nonlocal alerts, pings, pending
        new, found = process_batch(pending, {r.mmsi: states.get(r.mmsi) for r in pending}, index, config)
        states.update(new)
        alerts += len(found)
        pings += sum(type(r) is Position for r in pending)
        pending = []

    for line, received_at in lines:
        pending += [r for r in feed(line, received_at) if type(r) is not Rejection]
        if len(pending) >= BATCH:
            geofence()
    if pending:
        geofence()
    return pings, alerts


def decode_only(lines: list[tuple[str, float]]) -> int:
    """Lines decoded and validated, records dropped; returns the number of pings."""
    feed = AisDecoder().feed
    return sum(type(r) is Position for line, received_at in lines for r in feed(line, received_at))


def decoded(lines: list[tuple[str, float]]) -> list:
    feed = AisDecoder().feed
    return [r for line, received_at in lines for r in feed(line, received_at) if type(r) is not Rejection]


def naive(positions: list[Position], zones: list) -> int:
    """(b): hits of the point-by-point loop over unprepared copies of the zone polygons."""
    polygons = [shapely.from_wkb(shapely.to_wkb(zone.geometry)) for zone in zones]
    hits = 0
    for pos in positions:
        point = Point(pos.lon, pos.lat)
        hits += sum(1 for polygon in polygons if polygon.contains(point))
    return hits


def containment(positions: list[Position], index: ZoneIndex) -> int:
    hits = 0
    for start in range(0, len(positions), BATCH):
        chunk = positions[start:start + BATCH]
        hits += sum(len(found) for found in index.containing([p.lon for p in chunk], [p.lat for p in chunk]))
    return hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pings", type=int, default=200_000, help="approximate number of position reports")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement")
    args = parser.parse_args()
    zones = load_zones(BUNDLED_MPAS, invalid="repair")
    index = ZoneIndex(zones)
    config = TrackerConfig()
    lines = workload(args.pings)
    print(f"zones: {len(zones)} MPAs, {sum(len(shapely.get_parts(z.geometry)) for z in zones)} polygons; "
          f"workload: {len(lines):,} lines")

    gc.collect()
    gc.freeze()  # the harness's own input is not the service's garbage: keep it out of GC scans

    cpu, median, pings = timed(lambda: decode_only(lines), args.repeat)
    print(f"decode+validate only:            {len(lines) / cpu:>10,.0f} lines/s  "
          f"(median {len(lines) / median:,.0f}; {pings:,} pings)")

    cpu, median, (piped, alerts) = timed(lambda: pipeline(lines, index, config), args.repeat)
    assert piped == pings
    rate_a = pings / cpu
    print(f"(a) decode+validate+geofence:    {rate_a:>10,.0f} pings/s  "
          f"(median {pings / median:,.0f}; {len(lines) / cpu:,.0f} lines/s; {alerts:,} alerts)")

    records = decoded(lines)
    positions = [r for r in records if isinstance(r, Position)]
    gc.collect()
    gc.freeze()

    cpu, median, _ = timed(lambda: run_batches(records, index, config), args.repeat)
    rate_stage = len(positions) / cpu
    print(f"    geofence stage alone:        {rate_stage:>10,.0f} pings/s  (median {len(positions) / median:,.0f}; "
          f"process_batch on decoded records)")

    cpu, median, hits_c = timed(lambda: containment(positions, index), args.repeat)
    rate_c = len(positions) / cpu
    print(f"    vectorised containment:      {rate_c:>10,.0f} pings/s  (median {len(positions) / median:,.0f}; "
          f"{hits_c:,} hits)")

    cpu, median, hits_b = timed(lambda: naive(positions, zones), args.repeat)
    rate_b = len(positions) / cpu
    print(f"(b) naive Point-in-polygon loop: {rate_b:>10,.0f} pings/s  (median {len(positions) / median:,.0f}; "
          f"{hits_b:,} hits)")
    assert hits_b == hits_c, "the naive loop and the index disagree"

    print(f"ratio (a)/(b): {rate_a / rate_b:.1f}x   geofence stage/(b): {rate_stage / rate_b:.1f}x   "
          f"containment/(b): {rate_c / rate_b:.1f}x")

if __name__ == "__main__":
    main()
