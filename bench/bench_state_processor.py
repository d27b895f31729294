"""Keyed state at the processor level: events/s of a keyed no-op processor, memory vs Redis.

The issue's question: what does keyed state cost a processor, in memory and in Redis, at
publisher batch sizes 1, 50 and 500? bench_state.py measures KeyedState.apply alone; this
runs it inside a real processor, behind the real publisher, broker and worker threads.

The processor (one, subscribed to "bench.*", stateful=True, state_remember="all", no TTL)::

    def handle_batch(events, ctx):
        ctx.state.apply(events, lambda v, e, stale: ((v or 0) + 1, []))

over 1,000 subjects (event i has subject dev-<i mod 1000>): per subject, a counter plus
KeyedState's bookkeeping (the latest event time, and the ids of the last 256 events applied,
which is what makes a redelivery harmless; so each record grows with the events it has seen,
up to 256 ids, ~10.7 KB). Every transaction reads and rewrites the whole record of each
subject in the message, so the cost per event grows with that map: by default subjects start
empty (50 ids each after a 50,000-event run); --prefill 256 starts every subject at the 256
ids a long-running processor carries (the steady state). The BASELINE is the same processor without
state (stateful=False, the handler only counts), so that "state" columns show what the state costs
on top of everything else.

Modes (each run on a fresh processor name, so fresh queues and fresh state keys):
  embedded   One process (multiprocessing "spawn"): Runtime without a broker (dramatiq's
             in-memory broker routed by alcyon), the processor on the worker pool, the
             publisher loop in the main thread; memory state (the only kind it can have here
             that is not Redis). This is `alcyon run`.
  rabbitmq   A consumer process running Runtime.start(threads) as `alcyon worker` does
             (multiprocess Prometheus metrics and dramatiq's Prometheus middleware on) and a
             publisher process calling Runtime.publish; a fresh topic exchange per run.
             State: none, memory (MemoryStateStore in the worker process: valid for ONE
             worker process only) or Redis (ALCYON_STATE_URL, database 13 by default).
Publisher batch sizes: batch_max_events = 1, 50, 500 (batch_linger_ms 20, the default): one
broker message per event, per 50 and per 500 events; the processor's handle_batch gets one
broker message's events per call, so the state does one transaction per message.

Measured per run: events/s = events / (first publish .. last event handled), i.e. publisher
and consumer running concurrently; the publisher's own rate; CPU microseconds per event of the
consumer process (the whole process in embedded mode), of RabbitMQ (beam.smp) and of Redis
(redis-server), read from /proc when they run on this machine; for Redis, round trips per
broker message (2 when no transaction had to be retried: MGET, then the compare-and-set script).
Then, per batch size: memory/no-state and Redis/memory ratios. The machine is shared: the
load average is printed, and each figure is a single run.
This is a benchmark, not a test: it never asserts. From the repository root::

    /work/venv/bin/python bench/bench_state_processor.py [--quick] [--events 50000] [--batches 1,50,500]
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_core import (  # noqa: E402
    Progress,
    _receive,
    bench_parser,
    broker_pid,
    cpu_seconds,
    delete_everything,
    loadavg,
    machine,
    pid_of,
    print_load,
    process_cpu,
    spawn,
)

DEFAULT_URL = os.environ.get("ALCYON_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/")
DEFAULT_REDIS = "redis://127.0.0.1:6379/13"
SUBJECTS = 1_000
EVENT_TYPE = "bench.tick"
BATCHES = (1, 50, 500)
CONFIGS = (("embedded", "none"), ("embedded", "memory"), ("rabbitmq", "none"), ("rabbitmq", "memory"),
           ("rabbitmq", "redis"))


def increment(value: Any, event: Any, stale: bool) -> tuple[int, list[Any]]:
    return (value or 0) + 1, []


class Tally:
    """Events handled, messages handled and the time of the last one (any worker thread)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events = 0
        self.messages = 0
        self.last = 0.0

    def add(self, n: int) -> None:
        now = time.time()
        with self.lock:
            self.events += n
            self.messages += 1
            self.last = now

    def wait(self, expected: int, stall_s: float, timeout_s: float) -> str:
        progress = Progress(stall_s, timeout_s)
        while self.events < expected:
            status = progress.status(self.events)
            if status:
                return status
            time.sleep(0.005)
        return "ok"


def _runtime(name: str, stateful: bool, tally: Tally | None, *, url: str, state_url: str, exchange: str,
             batch: int, threads: int) -> Any:
    from alcyon import Processor, hookimpl
    from alcyon.config import SETTINGS, Config
    from alcyon.plugins import PluginHost
    from alcyon.runtime import Runtime

    if stateful:
        def handle_batch(events: Any, ctx: Any) -> None:
            ctx.state.apply(events, increment)
            if tally is not None:
                tally.add(len(events))
    else:
        def handle_batch(events: Any, ctx: Any) -> None:
            if tally is not None:
                tally.add(len(events))

    class BenchPlugin:
        @hookimpl
        def alcyon_processors(self, config: Any) -> list[Any]:
            return [Processor(name=name, subscribe=("bench.*",), handle_batch=handle_batch, stateful=stateful)]

    # Defaults of every core setting (no alcyon.toml, no ALCYON_* environment), then the run's.
    settings = {s.name: s.default for s in SETTINGS}
    settings.update(broker_url=url, state_url=state_url, exchange=exchange, worker_threads=threads, metrics_port=0,
                    batch_max_events=batch)
    host = PluginHost(Config(settings=settings))
    host.register(BenchPlugin(), "bench")
    host.validate()
    return Runtime(host.config, host)


def _event(i: int) -> Any:
    from alcyon import Event

    return Event(type=EVENT_TYPE, source="bench", subject=f"dev-{i % SUBJECTS}", data={"seq": i, "value": 21.5})


def _logs() -> None:
    from alcyon.logs import configure_logging

    configure_logging("warning", "console")


def _prod_metrics() -> str:
    """What `alcyon worker` does first (alcyon_workers.process.prepare_process): multiprocess metrics."""
    from alcyon.metrics import setup_multiprocess

    return setup_multiprocess(tempfile.mkdtemp(prefix="alcyon-bench-metrics-"))


def prefill(runtime: Any, ids: int) -> None:
    """Give each of the SUBJECTS records ``ids`` applied event ids, as after that many events each.

    KeyedState keeps the ids of the last 256 events applied to a subject (state_remember="all"),
    so a subject that has seen 256 events or more carries 256 ids for good: the steady state of
    a long-running processor. Written in KeyedState's record layout ({"v", "t", "a"}), with event
    times a day before the run's, in transactions of 500 subjects.
    """
    if not ids:
        return
    processor = runtime.processors[0]
    store = runtime.keyed_state(processor).store
    t_us = int((time.time() - 86_400) * 1e6)
    subjects = [f"dev-{k}" for k in range(SUBJECTS)]
    for start in range(0, SUBJECTS, 500):
        group = subjects[start:start + 500]
        records = {subject: {"v": ids, "t": t_us,
                             "a": {f"prefill-{subject}-{j:06d}-{'0' * 12}": [] for j in range(ids)}}
                   for subject in group}
        store.update(processor.name, group, lambda _old, records=records: (records, None))


def _round_trips(runtime: Any) -> int | None:
    return getattr(runtime._state_store, "round_trips", None)


def publish_all(runtime: Any, events: list[Any]) -> tuple[float, float]:
    """Hand every event to the batching publisher; the wall-clock times of the first and the last."""
    t0 = time.time()
    for event in events:
        runtime.publish(event)
    return t0, time.time()


def embedded_child(conn: Any, name: str, stateful: bool, n: int, batch: int, threads: int, stall_s: float,
                   timeout_s: float, prefill_ids: int) -> None:
    metrics_dir = _prod_metrics()  # `alcyon run` prepares the process the same way
    _logs()
    tally = Tally()
    runtime = _runtime(name, stateful, tally, url="", state_url="", exchange="alcyon.events", batch=batch,
                       threads=threads)
    try:
        runtime.start(threads)
        if stateful:
            prefill(runtime, prefill_ids)
        conn.send(("ready", {}))
        events = [_event(i) for i in range(n)]  # built before the clock, as in the RabbitMQ publisher
        cpu0 = cpu_seconds()
        t0, t_sent = publish_all(runtime, events)
        runtime.flush(120)
        status = tally.wait(n, stall_s, timeout_s)
        conn.send(("done", {"t0": t0, "t_sent": t_sent, "status": status, "events": tally.events,
                            "messages": tally.messages, "last": tally.last, "cpu_s": cpu_seconds() - cpu0}))
    finally:
        runtime.stop(grace_s=5)
        shutil.rmtree(metrics_dir, ignore_errors=True)


def consumer_child(conn: Any, name: str, stateful: bool, url: str, state_url: str, exchange: str, n: int,
                   threads: int, stall_s: float, timeout_s: float, prefill_ids: int) -> None:
    metrics_dir = _prod_metrics()
    _logs()
    tally = Tally()
    runtime = _runtime(name, stateful, tally, url=url, state_url=state_url, exchange=exchange, batch=500,
                       threads=threads)
    try:
        runtime.start(threads)
        if stateful:
            runtime.keyed_state(runtime.processors[0])  # open the store (and its connection) before the clock
            prefill(runtime, prefill_ids)
        import dramatiq.worker as dw

        conn.send(("ready", {"prefetch": dw.QUEUE_PREFETCH or 2 * threads}))
        cpu0 = cpu_seconds()
        rtt0 = _round_trips(runtime)
        status = tally.wait(n, stall_s, timeout_s)
        rtt1 = _round_trips(runtime)
        conn.send(("done", {"status": status, "events": tally.events, "messages": tally.messages, "last": tally.last,
                            "cpu_s": cpu_seconds() - cpu0,
                            "round_trips": None if rtt0 is None or rtt1 is None else rtt1 - rtt0}))
    finally:
        runtime.stop(grace_s=5)
        shutil.rmtree(metrics_dir, ignore_errors=True)


def publisher_child(conn: Any, name: str, url: str, exchange: str, n: int, batch: int) -> None:
    _logs()
    runtime = _runtime(name, False, None, url=url, state_url="", exchange=exchange, batch=batch, threads=1)
    runtime._publisher.wait_connected()  # connected before the clock starts, as a long-running source is
    events = [_event(i) for i in range(n)]
    conn.send(("ready", {}))
    cpu0 = cpu_seconds()
    t0, t_sent = publish_all(runtime, events)
    runtime.flush(300)
    conn.send(("done", {"t0": t0, "t_sent": t_sent, "t_confirmed": time.time(), "cpu_s": cpu_seconds() - cpu0}))
    runtime.stop(grace_s=5)


def run_one(ctx: Any, args: argparse.Namespace, mode: str, state: str, batch: int, n: int) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:10]
    name = f"bench-state-{tag}"
    exchange = f"bench.state.{tag}"
    stateful = state != "none"
    procs: list[Any] = []
    beam, redis_pid = broker_pid(), pid_of("redis-server")
    timeout_s = args.timeout
    try:
        if mode == "embedded":
            conn, proc = spawn(ctx, procs, embedded_child, name, stateful, n, batch, args.threads, args.stall,
                                timeout_s, args.prefill)
            _receive(conn, proc, "embedded run", 60)
            cpu0 = {"redis": process_cpu(redis_pid)}
            out = _receive(conn, proc, "embedded run", timeout_s + 120)
            cpu1 = {"redis": process_cpu(redis_pid)}
            pub = {"t0": out["t0"], "t_sent": out["t_sent"], "cpu_s": 0.0}
            cons = out
        else:
            state_url = args.redis_url if state == "redis" else ""
            c_conn, c_proc = spawn(ctx, procs, consumer_child, name, stateful, args.broker_url, state_url, exchange,
                                    n, args.threads, args.stall, timeout_s, args.prefill)
            _receive(c_conn, c_proc, "consumer", 60)
            p_conn, p_proc = spawn(ctx, procs, publisher_child, name, args.broker_url, exchange, n, batch)
            _receive(p_conn, p_proc, "publisher", 60)
            cpu0 = {"beam": process_cpu(beam), "redis": process_cpu(redis_pid)}
            pub = _receive(p_conn, p_proc, "publisher", timeout_s + 60)
            cons = _receive(c_conn, c_proc, "consumer", timeout_s + 60)
            cpu1 = {"beam": process_cpu(beam), "redis": process_cpu(redis_pid)}
        for proc in procs:
            proc.join(15)
        t0 = pub["t0"]
        handled = cons["events"]
        rate = handled / (cons["last"] - t0) if handled and cons["last"] > t0 else math.nan
        cpu = {k: (cpu1[k] - cpu0[k]) / handled * 1e6 if handled and cpu0.get(k) is not None
               and cpu1.get(k) is not None else None for k in cpu1}
        return {"mode": mode, "state": state, "batch": batch, "n": n, "status": cons["status"], "handled": handled,
                "rate": rate, "pub_rate": n / (pub["t_sent"] - t0) if pub["t_sent"] > t0 else math.nan,
                "messages": cons["messages"], "cons_cpu_us": cons["cpu_s"] / handled * 1e6 if handled else math.nan,
                "pub_cpu_us": pub["cpu_s"] / n * 1e6 if mode != "embedded" else None,
                "beam_us": cpu.get("beam"), "redis_us": cpu.get("redis") if state == "redis" else None,
                "rtt_per_msg": (cons["round_trips"] / cons["messages"]
                                if cons.get("round_trips") is not None and cons["messages"] else None)}
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
                proc.join(5)
        if mode == "rabbitmq":
            try:
                delete_everything(args.broker_url, [f"alcyon.{name}", f"alcyon.{name}.DQ", f"alcyon.{name}.XQ"],
                                  [exchange])
            except Exception as exc:
                print(f"!!! RabbitMQ cleanup failed: {type(exc).__name__}: {exc}", flush=True)
        if state == "redis":
            try:
                import redis

                client = redis.Redis.from_url(args.redis_url)
                keys = list(client.scan_iter(match=f"alcyon:state:{name}:*", count=2000))
                for i in range(0, len(keys), 1000):
                    client.delete(*keys[i:i + 1000])
                client.close()
            except Exception as exc:
                print(f"!!! Redis cleanup failed: {type(exc).__name__}: {exc}", flush=True)


def fmt(x: float | None, spec: str = ",.0f") -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def report(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print()
    head = (f"{'batch':>5} {'mode':<9} {'state':<7} {'events':>7} {'ev/s':>8} {'publish':>8} {'msgs':>7} "
            f"{'cons CPU':>8} {'pub CPU':>7} {'rabbit':>7} {'redis':>6} {'redis RTT':>9}")
    print(head)
    print(f"{'':>5} {'':<9} {'':<7} {'':>7} {'end2end':>8} {'ev/s':>8} {'handled':>7} {'us/ev':>8} {'us/ev':>7} "
          f"{'us/ev':>7} {'us/ev':>6} {'per msg':>9}")
    print("-" * len(head))
    for r in rows:
        status = "" if r["status"] == "ok" else f"  [{r['status'].upper()}: {r['handled']:,} handled]"
        print(f"{r['batch']:>5} {r['mode']:<9} {r['state']:<7} {r['n']:>7,} {fmt(r['rate']):>8} "
              f"{fmt(r['pub_rate']):>8} {r['messages']:>7,} {fmt(r['cons_cpu_us'], '.1f'):>8} "
              f"{fmt(r['pub_cpu_us'], '.1f'):>7} "
              f"{fmt(r['beam_us'], '.1f'):>7} {fmt(r['redis_us'], '.1f'):>6} {fmt(r['rtt_per_msg'], '.2f'):>9}{status}")
    print()
    print("note: ev/s end2end = events / (first publish .. last event handled); publish = the publisher's own rate "
          "(embedded: same process, same GIL as the handlers)")
    print("note: cons CPU = CPU of the consumer process (embedded: the one process, publisher included) per event; "
          "rabbit/redis = beam.smp/redis-server CPU per event; redis RTT per msg = 2 when no transaction was retried")
    by = {(r["batch"], r["mode"], r["state"]): r for r in rows}
    print()
    cols = [f"{m[:3]}/{s}" for m, s in CONFIGS]
    print(f"{'batch':>5} " + " ".join(f"{c:>13}" for c in cols) + f" {'emb mem/none':>12} {'rmq mem/none':>12} "
          f"{'redis/memory':>12} {'redis/none':>10}")
    print("-" * (6 + 14 * len(cols) + 50))

    def ratio(a: tuple, b: tuple) -> str:
        ra, rb = by.get(a), by.get(b)
        if not ra or not rb or math.isnan(ra["rate"]) or math.isnan(rb["rate"]) or not rb["rate"]:
            return "-"
        return f"{ra['rate'] / rb['rate']:.2f}"

    for batch in sorted({r["batch"] for r in rows}):
        cells = [fmt(by[(batch, m, s)]["rate"]) if (batch, m, s) in by else "-" for m, s in CONFIGS]
        print(f"{batch:>5} " + " ".join(f"{c:>13}" for c in cells)
              + f" {ratio((batch, 'embedded', 'memory'), (batch, 'embedded', 'none')):>12}"
              f" {ratio((batch, 'rabbitmq', 'memory'), (batch, 'rabbitmq', 'none')):>12}"
              f" {ratio((batch, 'rabbitmq', 'redis'), (batch, 'rabbitmq', 'memory')):>12}"
              f" {ratio((batch, 'rabbitmq', 'redis'), (batch, 'rabbitmq', 'none')):>10}")
    print("(events/s end to end; ratios of those; redis/memory and redis/none on RabbitMQ)")


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS, help=f"state store (default {DEFAULT_REDIS})")
    parser.add_argument("--events", type=int, default=50_000,
                        help="events per run at batch sizes 50 and 500 (default 50000; a fifth at batch 1)")
    parser.add_argument("--batches", default=",".join(map(str, BATCHES)),
                        help="publisher batch sizes (default 1,50,500)")
    parser.add_argument("--configs", default=",".join(f"{m}/{s}" for m, s in CONFIGS),
                        help="comma-separated subset of " + ",".join(f"{m}/{s}" for m, s in CONFIGS))
    parser.add_argument("--threads", type=int, default=None,
                        help="worker threads of the consumer (default: worker_threads, 4)")
    parser.add_argument("--timeout", type=float, default=180.0, help="give up a run after this many seconds")
    parser.add_argument("--stall", type=float, default=20.0, help="give up when nothing is handled for this long")
    parser.add_argument("--prefill", type=int, default=0,
                        help="stateful runs: give each subject this many applied event ids before the clock starts "
                             "(256, the limit KeyedState keeps, is the steady state of a long-running processor; "
                             "default 0: fresh subjects)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 5,000 events per run (a fifth at batch 1)")
    args = parser.parse_args(argv)
    if args.quick and "--events" not in " ".join(argv if argv is not None else sys.argv):
        args.events = 5_000
    from alcyon.config import SETTINGS

    args.threads = args.threads or next(s.default for s in SETTINGS if s.name == "worker_threads")
    batches = [int(b) for b in args.batches.split(",") if b.strip()]
    configs = [tuple(c.strip().split("/")) for c in args.configs.split(",") if c.strip()]
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        parser.error(f"unknown config(s) {unknown}; choose from " + ",".join(f"{m}/{s}" for m, s in CONFIGS))

    print("\n".join(machine(args.broker_url)))
    from alcyon.state import redact_url

    print(f"state     : Redis at {redact_url(args.redis_url)} (keys alcyon:state:bench-state-<run tag>:*)")
    print(f"run       : {args.events:,} events per run ({args.events // 5:,} at batch 1), {SUBJECTS:,} subjects, "
          f"{args.threads} worker threads, batch_linger_ms 20, multiprocess metrics (as alcyon worker)")
    ids_end = min(256, args.prefill + args.events // SUBJECTS)
    print(f"state     : each subject's record holds {args.prefill} applied event ids at the start of a run, "
          f"{ids_end} at the end of a 50/500 run (KeyedState keeps the last 256; --prefill 256 = steady state)")
    print_load("RabbitMQ, Redis, the publisher and the consumer")
    ctx = mp.get_context("spawn")
    rows: list[dict[str, Any]] = []
    for batch in batches:
        n = args.events if batch > 1 else max(1, args.events // 5)
        for mode, state in configs:
            label = f"batch {batch}, {mode}, state {state}"
            print(f"... {label} ({n:,} events)", end="", flush=True)
            began = time.monotonic()
            try:
                rows.append(run_one(ctx, args, mode, state, batch, n))
                print(f": {rows[-1]['rate']:,.0f} ev/s in {time.monotonic() - began:.1f} s (load {loadavg()})",
                      flush=True)
            except Exception as exc:
                print(f"\n!!! {label} failed: {exc}", flush=True)
    report(rows, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
