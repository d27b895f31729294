"""What validating a JSON-lines file before publishing costs (``alcyon publish``, ``run --input``).

Baseline, in the same process: what publish did before (``json.loads`` and ``Event.from_dict``
per line, ids drawn at random). Measured: :func:`alcyon.inputs.read_events` (UTF-8 and NUL
checks, finite numbers, ids derived from each line, time range, the schema of the type).
Prints events/s, CPU µs per event and the ratio. Never asserts.

    python bench/bench_inputs.py [--events 100000]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import time
import uuid

from alcyon import Event, EventType
from alcyon.inputs import read_events


def lines(count: int) -> bytes:
    return b"".join(json.dumps({"type": "power.energy", "subject": f"meter-{i % 500}", "time": 1784030400 + i,
                                "data": {"joules": 12.5 + i % 7, "host": "par-2"}}).encode() + b"\n"
                    for i in range(count))


def baseline(data: bytes) -> list[Event]:
    out = []
    for line in io.StringIO(data.decode()):
        raw = json.loads(line)
        raw.setdefault("id", str(uuid.uuid4()))
        raw.setdefault("source", "alcyon-publish:bench")
        out.append(Event.from_dict(raw))
    return out


def measure(name: str, fn, data: bytes, count: int) -> float:
    wall, cpu = time.perf_counter(), time.process_time()
    events = fn(data)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert len(events) == count
    print(f"{name:<34} {count / wall:>10,.0f} events/s  {cpu / count * 1e6:>6.1f} CPU µs/event")
    return cpu / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    data = lines(args.events)
    types = {"power.energy": EventType("power.energy", fields={"joules": (int, float), "host": str})}
    base = measure("baseline (loads + from_dict)", baseline, data, args.events)
    checked = measure("read_events (validated)", lambda d: read_events(io.BytesIO(d), "bench", types), data,
                      args.events)
    print(f"ratio validated / baseline CPU per event: {checked / base:.2f}")


if __name__ == "__main__":
    main()
