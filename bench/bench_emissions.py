"""Emissions throughput in one run: in-process, end to end (RabbitMQ + Redis + `alcyon worker`), archive.

    python bench/bench_emissions.py [--samples 200000] [--quick] [--broker-url URL] [--redis-url URL]
                                    [--postgres-url URL]

WORKLOAD. The synthetic demo trace (alcyon_emissions/data/demo_trace.csv: 1,073 samples of 3
devices over an hour, one every 10 s: a RAPL counter with a wrap, a joules counter with a
reset, a smart plug's power readings with a gap and a duplicate) for --copies sets of devices
(copy<k>/<device>; default 20: 60 devices), its hour repeated one after the other until
--samples, all in time order as a live feed. Each counter restarts every hour (a reset or a
wrap for the processor). Nearly every sample closes an interval: one emissions.record each.
A batch of 500 samples touches ~60 devices by default; --copies 200 (600 devices: one sample
per device per batch) shows the keyed state's per-device cost.

Cases:
  (1) in-process  (a) the arithmetic alone: energy.step + co2e.account + record_data per
                  sample (no events); (b) the emissions processor's handler on power.sample
                  events in batches of 500 with the in-memory keyed state (what the embedded
                  mode runs, minus routing): records derived, state committed. Rates use this
                  process's CPU time, best of --repeat.
  (2) end to end  The samples published as `alcyon ingest power` does (Runtime.publish:
                  batches of 500, confirmed) by a spawned publisher process, while a real
                  `alcyon worker -p emissions` subprocess (keyed state in Redis, one ordered
                  handler thread) handles them. samples/s = samples / (first publish .. the
                  worker's alcyon_events_processed_total{processor="emissions"} reaching the
                  count), polled on the worker's metrics endpoint (every 0.5 s, every
                  20 ms near the end). A fresh exchange; the queues and the Redis keys of
                  the run are deleted afterwards.
  (3) archive     Archive.insert of the records of (1b) into PostgreSQL, 500 per transaction
                  (one transaction per message, as the archive processor does), in a schema
                  of its own (dropped afterwards): rows/s (wall clock; the server is local).

Targets (issue #9, on this 2-core machine): >= 100,000 samples/s in-process; >= 15,000
samples/s end to end; >= 20,000 archived rows/s. They were set where bench_core.py's raw
pika case (a) gave 11,059 events/s: on a loaded machine run `python bench/bench_core.py
--cases pika --quick` in the same sitting and scale by (a)/11,059. Never asserts.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from bench_core import Progress, bench_parser, cpu_seconds, loadavg, print_load, process_cpu, spawn  # noqa: E402

BATCH = 500


def workload(n: int, tag: str, copies: int) -> list[Any]:
    """``copies`` sets of the trace's 3 devices (copy<k>/<device>), its hour repeated until ``n`` samples."""
    from alcyon_emissions.energy import Sample
    from alcyon_emissions.make_trace import TRACE
    from alcyon_emissions.replay import read_file

    trace = list(read_file(TRACE, "", ""))
    span = 3600 + 10  # the next hour starts one step after the last sample of this one
    out: list[Any] = []
    hour = 0
    while len(out) < n:
        for k in range(copies):
            out.extend(Sample(f"{tag}/copy{k}/{s.device}", s.time + hour * span, s.kind, s.value, s.max_range,
                              s.site, s.zone) for s in trace)
        hour += 1
    out.sort(key=lambda s: s.time)  # as a live feed: time order across devices
    del out[n:]
    return out


def plugin_config() -> dict[str, Any]:
    return {"max_gap_s": 60, "sites": {"par-2": {"pue": 1.16}, "nl-ams": {"pue": 1.3}}, "zones": {},
            "metrics_device_label": False}


def best_of(repeat: int, fn: Any) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        t0 = time.process_time()
        result = fn()
        best = min(best, time.process_time() - t0)
    return best, result


def in_process(samples: list[Any], repeat: int) -> dict[str, Any]:
    from alcyon import Context, get_logger
    from alcyon.state import KeyedState, MemoryStateStore
    from alcyon_emissions.energy import INTERVAL, step
    from alcyon_emissions.plugin import settings
    from alcyon_emissions.processor import Emissions, record_data
    from alcyon_emissions.samples import sample_event

    cfg = plugin_config()
    s = settings(cfg)

    def arithmetic() -> int:
        states: dict[str, Any] = {}
        n = 0
        for sample in samples:
            states[sample.device], st = step(states.get(sample.device), sample, 60.0)
            if st.outcome == INTERVAL:
                record_data(st, sample.device, sample.site, sample.zone, s)
                n += 1
        return n

    events = [sample_event(x, "bench") for x in samples]
    gc.freeze()

    def handler() -> list[Any]:
        h = Emissions(s)
        ctx = Context("emissions", cfg, get_logger("bench"), KeyedState(MemoryStateStore(), "emissions",
                                                                         remember="none", ttl=30 * 86400))
        out: list[Any] = []
        for i in range(0, len(events), BATCH):
            out.extend(h.handle_batch(events[i:i + BATCH], ctx))
        return out

    t_math, records = best_of(repeat, arithmetic)
    t_handler, derived = best_of(repeat, handler)
    return {"math_s": t_math, "handler_s": t_handler, "records": records, "derived": derived}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def processed(port: int) -> float | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return None
    total = 0.0
    for line in text.splitlines():
        if line.startswith("alcyon_events_processed_total{") and 'processor="emissions"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def publisher_child(conn: Any, env: dict[str, str], n: int, tag: str, copies: int) -> None:
    os.environ.update(env)
    from alcyon.config import load_config
    from alcyon.plugins import PluginHost
    from alcyon.runtime import Runtime
    from alcyon_emissions.samples import sample_event

    events = [sample_event(s, "bench") for s in workload(n, tag, copies)]
    config = load_config()
    runtime = Runtime(config, PluginHost(config).load_entry_points().validate(), processors=())
    runtime.declare()
    conn.send({"ready": True})
    conn.recv()
    cpu0, t0 = cpu_seconds(), time.time()
    for event in events:
        runtime.publish(event)
    runtime.flush()
    conn.send({"t0": t0, "t1": time.time(), "cpu": cpu_seconds() - cpu0})
    runtime.stop(grace_s=5)


def end_to_end(args: Any, tmp: Path, n: int) -> dict[str, Any]:
    import pika
    import redis

    tag = f"b{uuid.uuid4().hex[:8]}"
    exchange = f"alcyon.bench.{tag}"
    port = free_port()
    env = {"ALCYON_BROKER_URL": args.broker_url, "ALCYON_STATE_URL": args.redis_url, "ALCYON_EXCHANGE": exchange,
           "ALCYON_METRICS_PORT": str(port), "ALCYON_METRICS_DIR": str(tmp / "metrics"), "ALCYON_LOG_LEVEL": "warning",
           "ALCYON_PLUGINS__DISABLED": "", "ALCYON_CONFIG": str(tmp / "alcyon.toml")}
    (tmp / "alcyon.toml").write_text('[plugins]\ndisabled = ["geofence", "notify", "archive"]\n'
                                     '[plugins.emissions.sites.par-2]\npue = 1.16\n'
                                     '[plugins.emissions.sites.nl-ams]\npue = 1.3\n')
    env.pop("ALCYON_PLUGINS__DISABLED")
    full_env = {**os.environ, **env}
    full_env.pop("ALCYON_ARCHIVE_URL", None)
    queues = [f"alcyon.emissions{s}" for s in ("", ".DQ", ".XQ")] + ["alcyon.source.power.XQ"]

    def clean() -> None:
        connection = pika.BlockingConnection(pika.URLParameters(args.broker_url))
        channel = connection.channel()
        for q in queues:
            channel.queue_delete(q)
        channel.exchange_delete(exchange)
        connection.close()
        client = redis.Redis.from_url(args.redis_url)
        for key in client.scan_iter(match=f"alcyon:state:emissions:{tag}/*", count=1000):
            client.delete(key)

    clean()
    ctx = mp.get_context("spawn")
    procs: list[Any] = []
    worker = subprocess.Popen([sys.executable, "-m", "alcyon.cli", "worker", "-p", "emissions"], env=full_env,
                              cwd=tmp, stdout=subprocess.DEVNULL, stderr=open(tmp / "worker.log", "w"))
    try:
        deadline = time.monotonic() + 90
        while processed(port) is None:
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("worker did not start:\n" + (tmp / "worker.log").read_text()[-3000:])
            time.sleep(0.2)
        conn, proc = spawn(ctx, procs, publisher_child, env, n, tag, args.copies)
        conn.recv()
        base = processed(port) or 0.0
        wcpu0 = process_cpu(worker.pid)
        conn.send("go")
        progress = Progress(stall_s=60, timeout_s=1800)
        done_at, status = None, "ok"
        pub: dict[str, Any] | None = None
        seen: list[tuple[float, float]] = []
        while True:  # every 0.5 s, faster near the end (each scrape costs the worker some CPU)
            if pub is None and conn.poll(0):
                pub = conn.recv()
            count = (processed(port) or base) - base
            now = time.time()
            if count >= n:
                done_at = now
                break
            status = progress.status(count) or "ok"
            if status != "ok":
                break
            seen.append((now, count))
            pause = 0.5
            if len(seen) >= 2 and seen[-1][1] > seen[-2][1]:
                rate = (seen[-1][1] - seen[-2][1]) / (seen[-1][0] - seen[-2][0])
                pause = min(0.5, max(0.02, 0.5 * (n - count) / rate))
            time.sleep(pause)
        if pub is None:
            pub = conn.recv()
        wcpu = (process_cpu(worker.pid) or 0) - (wcpu0 or 0)
        return {"status": status, "seconds": (done_at or time.time()) - pub["t0"], "publish_s": pub["t1"] - pub["t0"],
                "publisher_cpu": pub["cpu"], "worker_cpu": wcpu}
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(40)
        except subprocess.TimeoutExpired:
            worker.kill()
        for p in procs:
            p.join(10)
        clean()


def archive_rate(url: str, records: list[Any]) -> dict[str, Any]:
    import psycopg

    from alcyon_archive.store import open_archive

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as c:
        c.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in url else "?"
    archive = open_archive(f"{url}{sep}options=-csearch_path%3D{schema}")
    try:
        archive.migrate()
        t0, c0 = time.perf_counter(), cpu_seconds()
        for i in range(0, len(records), BATCH):
            archive.insert(records[i:i + BATCH])
        seconds, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        rows = archive.count("emissions")
    finally:
        archive.close()
        with psycopg.connect(url, autocommit=True) as c:
            c.execute(f"DROP SCHEMA {schema} CASCADE")
    return {"seconds": seconds, "cpu": cpu, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--redis-url", default=os.environ.get("ALCYON_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
    parser.add_argument("--postgres-url", default=os.environ.get("ALCYON_TEST_POSTGRES_URL",
                                                                 "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--samples", type=int, default=200_000, help="samples per case (default 200,000)")
    parser.add_argument("--copies", type=int, default=20, help="sets of the trace's 3 devices (default 20)")
    parser.add_argument("--repeat", type=int, default=3, help="in-process runs, best kept (default 3)")
    parser.add_argument("--cases", default="inprocess,e2e,archive", help="subset of inprocess,e2e,archive")
    parser.add_argument("--quick", action="store_true", help="smoke run: 20,000 samples, one repeat")
    args = parser.parse_args(argv)
    if args.quick:
        args.samples, args.repeat = min(args.samples, 20_000), 1
    cases = set(args.cases.split(","))
    n = args.samples
    print(f"bench_emissions: {n:,} samples of {3 * args.copies} devices (synthetic demo trace), "
          f"nproc={len(os.sched_getaffinity(0))}")
    print_load("these cases")
    rows: list[tuple[str, str, str, str]] = []
    ip = None
    if cases & {"inprocess", "archive"}:
        samples = workload(n, "inproc", args.copies)
        ip = in_process(samples, args.repeat)
    if "inprocess" in cases and ip:
        rows.append(("in-process (a) arithmetic", f"{n / ip['math_s']:,.0f} samples/s",
                     f"{ip['math_s'] / n * 1e6:.1f} CPU us/sample", ">= 100,000"))
        rows.append(("in-process (b) handler + memory state", f"{n / ip['handler_s']:,.0f} samples/s",
                     f"{ip['handler_s'] / n * 1e6:.1f} CPU us/sample", ">= 100,000"))
    if "e2e" in cases:
        with tempfile.TemporaryDirectory(prefix="bench-emissions-") as tmp:
            e = end_to_end(args, Path(tmp), n)
        rows.append((f"end to end (RabbitMQ + Redis + worker) [{e['status']}]", f"{n / e['seconds']:,.0f} samples/s",
                     f"worker {e['worker_cpu'] / n * 1e6:.1f}, publisher {e['publisher_cpu'] / n * 1e6:.1f} "
                     f"CPU us/sample; publish {n / e['publish_s']:,.0f}/s", ">= 15,000"))
    if "archive" in cases and ip:
        records = [r for r in ip["derived"]]
        a = archive_rate(args.postgres_url, records)
        rows.append(("archive inserts (PostgreSQL, 500/txn)", f"{a['rows'] / a['seconds']:,.0f} rows/s",
                     f"client {a['cpu'] / a['rows'] * 1e6:.1f} CPU us/row ({a['rows']:,} rows)", ">= 20,000"))
    width = max(len(r[0]) for r in rows)
    print()
    for name, rate, cpu, target in rows:
        print(f"{name.ljust(width)}  {rate:>22}  target {target:<10}  {cpu}")
    print(f"\nload at end: {loadavg()} (1, 5, 15 min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
