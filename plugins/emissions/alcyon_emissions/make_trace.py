"""Make the demo power trace ``data/demo_trace.csv`` — SYNTHETIC data, deterministic (seeded).

    python -m alcyon_emissions.make_trace [OUTPUT.csv]

One hour (2026-01-15 00:00-01:00 UTC) of samples every 10 s from three made-up devices, each
exercising one thing the emissions processor must get right:

* ``srv-par2-01/package-0`` (site ``par-2``, zone ``FR``): a RAPL package counter in µJ near the
  end of its range (``max_range_uj`` 262143328850), ~35 W: it **wraps** after ~10 minutes.
* ``srv-ams-01`` (site ``nl-ams``, zone ``NL``): a Kepler-style joules counter, ~120 W, whose
  exporter restarts at 00:30: the counter **resets** (the sample after the restart holds the
  energy since the previous sample).
* ``rpi-lorient-01`` (site ``asso-lorient``, not configured: PUE 1.0; zone ``FR``): a smart
  plug's power readings, ~4.5 W, with a **gap** (no reading from 00:20:00 to 00:22:00, 120 s >
  the default 60 s limit) and a **duplicate** (a second reading at 00:40:00, 1 W higher: ignored).

:func:`make_trace` also returns the energy each device is expected to be credited with
(computed from the generator's own increments, not by the processor's code).
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

T0 = 1_768_435_200  # 2026-01-15T00:00:00Z
STEP, SAMPLES = 10, 361
RAPL_RANGE = 262_143_328_850
TRACE = Path(__file__).parent / "data" / "demo_trace.csv"
HEADER = ("# SYNTHETIC power trace made by alcyon_emissions/make_trace.py (seed 9): not a measurement\n"
          "time,device,kind,value,max_range_uj,site,zone\n")


def _iso(t: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_trace() -> tuple[list[tuple], dict[str, float]]:
    """The rows (time, device, kind, value, max_range_uj, site, zone) and the expected joules per device."""
    rng = random.Random(9)
    rows: list[tuple] = []
    expected: dict[str, float] = {}

    counter = RAPL_RANGE - 35 * 600 * 1_000_000  # wraps after ~600 s at 35 W
    total_uj = 0
    for i in range(SAMPLES):
        t = T0 + i * STEP
        if i:
            inc = round((35 + rng.uniform(-5, 5)) * STEP * 1_000_000)
            total_uj += inc
            counter = (counter + inc) % RAPL_RANGE
        rows.append((t, "srv-par2-01/package-0", "energy_uj", counter, RAPL_RANGE, "par-2", "FR"))
    expected["srv-par2-01/package-0"] = total_uj / 1e6

    joules, total_j, restart = 5_000_000, 0, T0 + 1800
    for i in range(SAMPLES):
        t = T0 + i * STEP
        if i:
            inc = round((120 + rng.uniform(-20, 20)) * STEP)
            total_j += inc
            joules = inc if t == restart + STEP else joules + inc
        rows.append((t, "srv-ams-01", "energy_j", joules, "", "nl-ams", "NL"))
    expected["srv-ams-01"] = total_j

    gap = range(T0 + 1200 + STEP, T0 + 1320)  # readings at 00:20:00 and 00:22:00, none in between
    previous: tuple[int, float] | None = None
    total_w = 0.0
    for i in range(SAMPLES):
        t = T0 + i * STEP
        if t in gap:
            continue
        watts = round(4.5 + rng.uniform(-0.5, 0.5), 2)
        rows.append((t, "rpi-lorient-01", "watts", watts, "", "asso-lorient", "FR"))
        if t == T0 + 2400:
            # the duplicate: the same time again, another value (a re-sent, corrected reading): ignored
            rows.append((t, "rpi-lorient-01", "watts", round(watts + 1, 2), "", "asso-lorient", "FR"))
        if previous is not None and t - previous[0] <= 60:
            total_w += (previous[1] + watts) / 2 * (t - previous[0])
        previous = (t, watts)
    expected["rpi-lorient-01"] = total_w
    rows.sort(key=lambda r: (r[0], r[1]))
    return rows, expected


def write_trace(path: Path = TRACE) -> dict[str, float]:
    rows, expected = make_trace()
    with open(path, "w") as f:
        f.write(HEADER)
        for t, *rest in rows:
            f.write(",".join([_iso(t), *(str(v) for v in rest)]) + "\n")
    return expected


if __name__ == "__main__":
    totals = write_trace(Path(sys.argv[1]) if len(sys.argv) > 1 else TRACE)
    for device, joules in totals.items():
        print(f"{device}: {joules:.3f} J expected")
