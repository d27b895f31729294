"""Core throughput and latency: raw pika vs plain dramatiq vs alcyon, on one RabbitMQ.

Every case runs on fresh, uniquely named queues (deleted afterwards), with a PUBLISHER
PROCESS and a CONSUMER PROCESS started fresh for that case (multiprocessing "spawn"), so no
global state (dramatiq's encoder and broker, prefetch settings, metrics) leaks from one case
into the next and the publisher never competes with the consumer for the GIL. The consumer
is started and ready (queues declared, consuming) before the publisher begins. Events are
~200 B CloudEvents envelopes (id, source, type, time, subject, small data map); messages
are persistent and queues durable in every case.

  (a) raw-pika   One event per message, JSON body, default exchange -> one durable queue.
                 Publisher: pika SelectConnection in confirm mode with ASYNCHRONOUS confirms
                 (up to 1,000 unconfirmed messages in flight; the run ends when the last
                 confirm arrives). Consumer: pika BlockingConnection, prefetch 1,000, the
                 "handler" runs inline in the delivery callback, acks batched (multiple=True
                 every 100 messages). No threads, no framework: the ceiling for one event
                 per message.
  (b) dramatiq   Plain dramatiq defaults: RabbitmqBroker (confirm_delivery off, default
                 middleware, JSON encoder), one no-op actor, one event per message sent with
                 actor.send(). Consumer: a dramatiq Worker IN the consumer process, 8 worker
                 threads (prefetch 2 x threads = 16).
  (c) alcyon     alcyon's Runtime with its default batching (batch_max_events=500,
                 batch_linger_ms=20) and confirmed, pipelined publishes to a topic exchange.
                 TWO no-op batch processors subscribe to "bench.*", so RabbitMQ fans every
                 batch out to two queues; both run in one worker process (Runtime.start,
                 8 threads, as `alcyon worker` does: multiprocess Prometheus metrics and
                 dramatiq's Prometheus middleware on, unless --in-process-metrics).
                 Events/s is counted PER SUBSCRIBER (each processor sees every event);
                 deliveries/s is the sum over both.
  (d) alcyon-rate  As (c), but the publisher offers a fixed rate (--rate, default 5,000
                 events/s) for --duration seconds (default 10). Reports publish-to-handler
                 latency at that load.

Measures, per case:
  publish ev/s    events / (publisher start .. last publish confirmed, or last send for (b))
  ev/s per sub    events / (publisher start .. last event handled by that subscriber):
                  end-to-end throughput with publisher and consumer running concurrently
  latency         handler wall-clock time minus the event time set by the publisher just
                  before publishing (same machine, same clock). In (a)-(c) the publisher
                  runs flat out, so when it outpaces the consumer these latencies include
                  waiting behind the backlog; (d) is the latency at a sustainable load.
  CPU us/ev       CPU time of the consumer process / of RabbitMQ (beam.smp, if readable
                  from /proc) per event delivered, over the case.

Targets (from the issue) are printed with PASS/MISS: alcyon >= 3x plain dramatiq events/s,
alcyon >= raw pika per-message events/s, p99 < 250 ms at 5,000 events/s. This is a
benchmark, not a test: it never asserts. Run from the repository root::

    /work/venv/bin/python bench/bench_core.py [--events 100000] [--quick] [--broker-url URL]
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any

DEFAULT_URL = os.environ.get("ALCYON_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/")
EVENT_TYPE = "bench.tick"
SUBJECTS = 1_000


# ---------------------------------------------------------------------------------------------
# Helpers shared by the child processes
# ---------------------------------------------------------------------------------------------
def envelope(i: int) -> dict[str, Any]:
    """The event sent by (a) and (b): the CloudEvents envelope alcyon sends, time as epoch seconds."""
    return {"id": str(uuid.uuid4()), "source": "bench", "type": EVENT_TYPE, "specversion": "1.0",
            "time": time.time(), "subject": f"dev-{i % SUBJECTS}", "datacontenttype": "application/json",
            "data": {"seq": i, "value": 21.5, "unit": "C"}}


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


class Progress:
    """Watches a count that should keep rising while a case runs.

    ``status(count)`` is "stalled" once the count has not moved for ``stall_s``, "timeout" past
    ``timeout_s``, else None (keep waiting).
    """

    def __init__(self, stall_s: float, timeout_s: float) -> None:
        now = time.monotonic()
        self.stall_s, self.deadline = stall_s, now + timeout_s
        self._seen: float | None = None
        self._moved_at = now

    def status(self, count: float) -> str | None:
        now = time.monotonic()
        if count != self._seen:
            self._seen, self._moved_at = count, now
        elif now - self._moved_at > self.stall_s:
            return "stalled"
        return "timeout" if now > self.deadline else None


def spawn(ctx: Any, procs: list[Any], body: Any, *args: Any) -> tuple[Any, Any]:
    """Start ``body(conn, *args)`` in a child process (see :func:`_child`); its pipe end and process."""
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_child, args=(child, body, *args), daemon=True)
    proc.start()
    procs.append(proc)
    return parent, proc


def bench_parser(doc: str) -> argparse.ArgumentParser:
    """A parser whose help is the script's docstring, with the common --broker-url option."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0], epilog=doc.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--broker-url", default=DEFAULT_URL, help="AMQP URL (default: $ALCYON_TEST_BROKER_URL "
                        "or amqp://guest:guest@127.0.0.1:5672/)")
    return parser


class Recorder:
    """Latencies and last-handled times per subscriber, filled by handlers in any thread."""

    def __init__(self, names: list[str]) -> None:
        self.lat: dict[str, list[float]] = {n: [] for n in names}
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {n: 0.0 for n in names}

    def wait(self, expected: int, *, stall_s: float, timeout_s: float) -> str:
        """Until every subscriber has ``expected`` events; 'ok', 'stalled' or 'timeout'."""
        progress = Progress(stall_s, timeout_s)
        while True:
            counts = [len(v) for v in self.lat.values()]
            if min(counts) >= expected:
                return "ok"
            status = progress.status(sum(counts))
            if status:
                return status
            time.sleep(0.005)

    def result(self) -> dict[str, Any]:
        import numpy as np

        return {n: {"count": len(v), "first": self.first.get(n), "last": self.last[n],
                    "lat": np.asarray(v, dtype=np.float64)} for n, v in self.lat.items()}


def _child(conn: Any, body: Callable[..., None], *args: Any) -> None:
    try:
        body(conn, *args)
    except BaseException:
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def _finish(conn: Any, rec: Recorder, status: str, cpu0: float, **extra: Any) -> None:
    conn.send(("done", {"status": status, "subs": rec.result(), "cpu_s": cpu_seconds() - cpu0, **extra}))


# ---------------------------------------------------------------------------------------------
# (a) raw pika
# ---------------------------------------------------------------------------------------------
PIKA_WINDOW = 1_000
PIKA_PREFETCH = 1_000
PIKA_ACK_EVERY = 100


def pika_consumer(conn: Any, url: str, queue: str, expected: int, stall_s: float, timeout_s: float) -> None:
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.queue_declare(queue=queue, durable=True)
    channel.basic_qos(prefetch_count=PIKA_PREFETCH)
    rec = Recorder(["consumer"])
    lat = rec.lat["consumer"]
    unacked = [0]

    def on_message(ch: Any, method: Any, _props: Any, body: bytes) -> None:
        now = time.time()
        event = json.loads(body)
        lat.append(now - event["time"])
        rec.last["consumer"] = now
        unacked[0] += 1
        if unacked[0] >= PIKA_ACK_EVERY or len(lat) >= expected:
            ch.basic_ack(method.delivery_tag, multiple=True)
            unacked[0] = 0

    channel.basic_consume(queue, on_message)
    conn.send(("ready", {}))
    cpu0 = cpu_seconds()
    progress, status = Progress(stall_s, timeout_s), "ok"
    while len(lat) < expected:
        connection.process_data_events(time_limit=0.05)
        stopped = progress.status(len(lat))
        if stopped:
            status = stopped
            break
    _finish(conn, rec, status, cpu0)
    connection.close()


def pika_publisher(conn: Any, url: str, queue: str, n: int) -> None:
    import pika
    from pika.adapters.select_connection import SelectConnection

    props = pika.BasicProperties(delivery_mode=2, content_type="application/json")
    st = {"published": 0, "confirmed": 0, "nacked": 0, "t0": 0.0, "t1": 0.0, "error": None}
    channel: list[Any] = []

    def pump() -> None:
        ch = channel[0]
        while st["published"] < n and st["published"] - st["confirmed"] < PIKA_WINDOW:
            ch.basic_publish("", queue, json.dumps(envelope(st["published"])).encode(), props)
            st["published"] += 1

    def on_confirm(frame: Any) -> None:
        method = frame.method
        done = method.delivery_tag if method.multiple else st["confirmed"] + 1
        if isinstance(method, pika.spec.Basic.Nack):
            st["nacked"] += done - st["confirmed"]
        st["confirmed"] = max(st["confirmed"], done)
        if st["confirmed"] >= n:
            st["t1"] = time.time()
            connection.close()
        else:
            pump()

    def on_confirm_mode(_frame: Any) -> None:
        st["t0"] = time.time()
        pump()

    def on_channel(ch: Any) -> None:
        channel.append(ch)
        ch.confirm_delivery(ack_nack_callback=on_confirm, callback=on_confirm_mode)

    def on_open_error(_c: Any, error: Any) -> None:
        st["error"] = repr(error)
        connection.ioloop.stop()

    connection = SelectConnection(pika.URLParameters(url),
                                  on_open_callback=lambda c: c.channel(on_open_callback=on_channel),
                                  on_open_error_callback=on_open_error,
                                  on_close_callback=lambda c, r: c.ioloop.stop())
    cpu0 = cpu_seconds()
    connection.ioloop.start()
    if st["error"]:
        raise RuntimeError(st["error"])
    conn.send(("done", {"t0": st["t0"], "t1": st["t1"], "published": st["published"], "nacked": st["nacked"],
                        "cpu_s": cpu_seconds() - cpu0,
                        "body_bytes": len(json.dumps(envelope(0)).encode())}))


# ---------------------------------------------------------------------------------------------
# (b) plain dramatiq
# ---------------------------------------------------------------------------------------------
def dramatiq_consumer(conn: Any, url: str, queue: str, expected: int, threads: int, stall_s: float,
                      timeout_s: float) -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)
    import dramatiq
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    broker = RabbitmqBroker(url=url)
    dramatiq.set_broker(broker)
    rec = Recorder(["consumer"])
    lat = rec.lat["consumer"]

    def noop(event: dict[str, Any]) -> None:
        now = time.time()
        lat.append(now - event["time"])
        rec.last["consumer"] = now

    dramatiq.Actor(noop, broker=broker, actor_name="bench_noop", queue_name=queue, priority=0, options={})
    broker.declare_queue(queue, ensure=True)
    worker = dramatiq.Worker(broker, worker_threads=threads)
    worker.start()
    conn.send(("ready", {"prefetch": worker.queue_prefetch}))
    cpu0 = cpu_seconds()
    status = rec.wait(expected, stall_s=stall_s, timeout_s=timeout_s)
    _finish(conn, rec, status, cpu0)
    worker.stop(timeout=5000)
    broker.close()


def dramatiq_publisher(conn: Any, url: str, queue: str, n: int) -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)
    import dramatiq
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    broker = RabbitmqBroker(url=url)
    dramatiq.set_broker(broker)
    actor = dramatiq.Actor(lambda event: None, broker=broker, actor_name="bench_noop", queue_name=queue,
                           priority=0, options={})
    broker.declare_queue(queue, ensure=True)
    cpu0 = cpu_seconds()
    t0 = time.time()
    for i in range(n):
        actor.send(envelope(i))
    t1 = time.time()
    conn.send(("done", {"t0": t0, "t1": t1, "published": n, "cpu_s": cpu_seconds() - cpu0,
                        "body_bytes": len(actor.message(envelope(0)).encode())}))
    broker.close()


# ---------------------------------------------------------------------------------------------
# (c), (d) alcyon
# ---------------------------------------------------------------------------------------------
def _alcyon_runtime(url: str, exchange: str, names: list[str], handler_for: Callable[[str], Any] | None,
                    threads: int) -> Any:
    from alcyon import Processor, hookimpl
    from alcyon.config import SETTINGS, Config
    from alcyon.plugins import PluginHost
    from alcyon.runtime import Runtime

    class BenchPlugin:
        @hookimpl
        def alcyon_processors(self, config: Any) -> list[Any]:
            return [Processor(name=n, subscribe=("bench.*",),
                              handle_batch=handler_for(n) if handler_for else (lambda events, ctx: None))
                    for n in names]

    # Defaults of every core setting (no alcyon.toml, no ALCYON_* environment), then the broker.
    settings = {s.name: s.default for s in SETTINGS}
    settings.update(broker_url=url, exchange=exchange, worker_threads=threads, metrics_port=0)
    config = Config(settings=settings)
    host = PluginHost(config)
    host.register(BenchPlugin(), "bench")
    host.validate()
    return Runtime(config, host)


def alcyon_consumer(conn: Any, url: str, exchange: str, names: list[str], expected: int, threads: int,
                    stall_s: float, timeout_s: float, prod_metrics: bool) -> None:
    metrics_dir = None
    if prod_metrics:  # what `alcyon worker` does (alcyon_workers.process.prepare_process)
        from alcyon.metrics import setup_multiprocess

        metrics_dir = setup_multiprocess(tempfile.mkdtemp(prefix="alcyon-bench-metrics-"))
    from alcyon.logs import configure_logging

    configure_logging("warning", "console")
    rec = Recorder(names)

    def handler_for(name: str) -> Any:
        lat, last = rec.lat[name], rec.last

        def handle_batch(events: Any, ctx: Any) -> None:
            now = time.time()
            lat.extend([now - e.timestamp for e in events])
            last[name] = now

        return handle_batch

    runtime = _alcyon_runtime(url, exchange, names, handler_for, threads)
    try:
        runtime.start(threads)
        import dramatiq.worker as dw

        conn.send(("ready", {"prefetch": dw.QUEUE_PREFETCH or 2 * threads,
                             "batch_max_events": runtime.config.batch_max_events,
                             "batch_linger_ms": runtime.config.batch_linger_ms,
                             "prometheus_middleware": any(type(m).__name__ == "Prometheus"
                                                          for m in runtime.broker.middleware)}))
        cpu0 = cpu_seconds()
        status = rec.wait(expected, stall_s=stall_s, timeout_s=timeout_s)
        _finish(conn, rec, status, cpu0)
    finally:
        runtime.stop(grace_s=5)
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def alcyon_publisher(conn: Any, url: str, exchange: str, names: list[str], n: int, rate: float | None) -> None:
    from alcyon.logs import configure_logging

    configure_logging("warning", "console")
    from datetime import datetime, timezone

    from alcyon import Event
    from alcyon.codec import encode_batch

    runtime = _alcyon_runtime(url, exchange, names, None, 1)
    runtime._publisher.wait_connected()  # connect before the clock starts, as a long-running source would be
    publish, utc, now = runtime.publish, timezone.utc, datetime.now
    cpu0 = cpu_seconds()
    t0 = time.time()
    if rate is None:
        for i in range(n):
            publish(Event(type=EVENT_TYPE, source="bench", subject=f"dev-{i % SUBJECTS}",
                          data={"seq": i, "value": 21.5, "unit": "C"}))
    else:  # paced: event i is due at t0 + i / rate; each event's time is set when it is published
        start, i = time.perf_counter(), 0
        while i < n:
            due = min(n, int((time.perf_counter() - start) * rate) + 1)
            while i < due:
                publish(Event(type=EVENT_TYPE, source="bench", subject=f"dev-{i % SUBJECTS}",
                              time=now(utc), data={"seq": i, "value": 21.5, "unit": "C"}))
                i += 1
            ahead = i / rate - (time.perf_counter() - start)
            if ahead > 0:
                time.sleep(min(ahead, 0.001))
    t_sent = time.time()
    runtime.flush(60)
    t1 = time.time()
    sample = [Event(type=EVENT_TYPE, source="bench", subject="dev-1", data={"seq": k, "value": 21.5, "unit": "C"})
              for k in range(runtime.config.batch_max_events)]
    conn.send(("done", {"t0": t0, "t1": t1, "t_sent": t_sent, "published": n, "cpu_s": cpu_seconds() - cpu0,
                        "body_bytes": len(encode_batch(sample)) / len(sample)}))
    runtime.stop(grace_s=5)


# ---------------------------------------------------------------------------------------------
# Parent: orchestration, cleanup, report
# ---------------------------------------------------------------------------------------------
def server_properties(url: str) -> dict[str, Any]:
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        props = dict(connection._impl.server_properties or {})
    finally:
        connection.close()
    return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in props.items()}


def delete_everything(url: str, queues: list[str], exchanges: list[str]) -> None:
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        for queue in queues:  # deleting a queue that does not exist is not an error in RabbitMQ
            channel.queue_delete(queue)
        for exchange in exchanges:
            channel.exchange_delete(exchange)
    finally:
        connection.close()


def pid_of(comm: str) -> int | None:
    """A local process by its command name (beam.smp, redis-server), to read its CPU time; None if not found."""
    try:
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/comm") as f:
                        if f.read().strip() == comm:
                            return int(entry)
                except OSError:
                    continue
    except OSError:
        pass
    return None


def broker_pid() -> int | None:
    """The local RabbitMQ (beam.smp) process."""
    return pid_of("beam.smp")


def print_load(sharing: str) -> None:
    """Print the load average, and warn when the machine is already busy."""
    load = loadavg()
    print(f"load      : {load} (1, 5, 15 min) at start")
    if load != "?" and float(load.split()[0]) > 0.5 * len(os.sched_getaffinity(0)):
        print(f"WARNING   : the machine is already busy; other processes share the CPUs with {sharing}, so every "
              "figure below is lower and noisier than on an idle machine")


def process_cpu(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _receive(conn: Any, proc: Any, what: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while not conn.poll(0.1):
        if not proc.is_alive() and not conn.poll(0):
            raise RuntimeError(f"{what} process exited (code {proc.exitcode}) without reporting")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not report within {timeout:.0f}s")
    kind, payload = conn.recv()
    if kind == "error":
        raise RuntimeError(f"{what} failed:\n{payload}")
    return payload


def run_case(ctx: Any, consumer: tuple[Callable[..., Any], tuple], publisher: tuple[Callable[..., Any], tuple],
             timeout_s: float, beam: int | None) -> dict[str, Any]:
    procs = []
    try:
        c_parent, cproc = spawn(ctx, procs, consumer[0], *consumer[1])
        ready = _receive(c_parent, cproc, "consumer", 60)
        beam0 = process_cpu(beam)
        p_parent, pproc = spawn(ctx, procs, publisher[0], *publisher[1])
        pub = _receive(p_parent, pproc, "publisher", timeout_s + 60)
        cons = _receive(c_parent, cproc, "consumer", timeout_s + 60)
        beam1 = process_cpu(beam)
        for proc in procs:
            proc.join(15)
        return {"ready": ready, "pub": pub, "cons": cons,
                "broker_cpu_s": beam1 - beam0 if beam0 is not None and beam1 is not None else None}
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
                proc.join(5)


def summarize(name: str, label: str, case: dict[str, Any], expected: int) -> dict[str, Any]:
    import numpy as np

    pub, cons = case["pub"], case["cons"]
    subs = cons["subs"]
    t0 = pub["t0"]
    per_sub = [s["count"] / (s["last"] - t0) if s["count"] and s["last"] > t0 else 0.0 for s in subs.values()]
    lat = np.concatenate([s["lat"] for s in subs.values()]) * 1000.0
    deliveries = sum(s["count"] for s in subs.values())
    p50, p95, p99 = (np.percentile(lat, [50, 95, 99]) if lat.size else (float("nan"),) * 3)
    last = max(s["last"] for s in subs.values())
    return {
        "name": name, "label": label, "expected": expected, "status": cons["status"],
        "counts": {k: s["count"] for k, s in subs.items()}, "subs": len(subs),
        "publish_rate": pub["published"] / (pub["t1"] - t0) if pub["t1"] > t0 else 0.0,
        "per_sub_rate": min(per_sub), "deliveries_rate": deliveries / (last - t0) if last > t0 else 0.0,
        "p50": p50, "p95": p95, "p99": p99, "max": float(lat.max()) if lat.size else float("nan"),
        "cons_cpu_us": cons["cpu_s"] / deliveries * 1e6 if deliveries else float("nan"),
        "pub_cpu_us": pub["cpu_s"] / pub["published"] * 1e6 if pub["published"] else float("nan"),
        "broker_cpu_us": (case["broker_cpu_s"] / pub["published"] * 1e6
                          if case["broker_cpu_s"] is not None and pub["published"] else None),
        "body_bytes": pub.get("body_bytes"), "duration": last - t0, "ready": case["ready"], "pub": pub,
    }


def machine(url: str) -> list[str]:
    from importlib import metadata

    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    try:
        sp = server_properties(url)
        rabbit = f"{sp.get('product', 'RabbitMQ')} {sp.get('version', '?')} ({sp.get('platform', '?')})"
    except Exception as exc:  # pragma: no cover - printed, the cases will fail loudly anyway
        rabbit = f"unknown ({type(exc).__name__}: {exc})"
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in ("alcyon", "dramatiq", "pika", "msgpack"))
    return [(f"machine   : nproc={len(os.sched_getaffinity(0))} ({os.cpu_count()} CPUs) {cpu}, "
             f"{platform.system()} {platform.release()}"),
            f"python    : {platform.python_version()} ({sys.executable})",
            f"broker    : {rabbit} at {_redact(url)}",
            f"packages  : {versions}"]


def _redact(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return url.replace(f":{parts.password}@", ":***@") if parts.password else url


def loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def fmt_rate(x: float) -> str:
    return f"{x:,.0f}"


def fmt_ms(x: float) -> str:
    return "-" if math.isnan(x) else (f"{x:,.1f}" if x < 100 else f"{x:,.0f}")


def report(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print()
    head = (f"{'case':<22} {'events':>8} {'subs':>4} {'publish ev/s':>12} {'ev/s per sub':>12} {'deliv/s':>9} "
            f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'cons CPU':>8} {'pub CPU':>8} "
            f"{'broker CPU':>10}")
    print(head)
    print(f"{'':<22} {'':>8} {'':>4} {'':>12} {'':>12} {'':>9} {'':>8} {'':>8} {'':>8} {'':>8} "
          f"{'us/event':>8} {'us/event':>8} {'us/event':>10}")
    print("-" * len(head))
    for r in rows:
        broker = "-" if r["broker_cpu_us"] is None else f"{r['broker_cpu_us']:.1f}"
        status = "" if r["status"] == "ok" else f"  [{r['status'].upper()}: got {r['counts']}]"
        print(f"{r['label']:<22} {r['expected']:>8,} {r['subs']:>4} {fmt_rate(r['publish_rate']):>12} "
              f"{fmt_rate(r['per_sub_rate']):>12} {fmt_rate(r['deliveries_rate']):>9} {fmt_ms(r['p50']):>8} "
              f"{fmt_ms(r['p95']):>8} {fmt_ms(r['p99']):>8} {fmt_ms(r['max']):>8} {r['cons_cpu_us']:>8.1f} "
              f"{r['pub_cpu_us']:>8.1f} {broker:>10}{status}")
    print()
    print("message size: " + ", ".join(
        f"{r['label'].split()[0]} {r['body_bytes']:.0f} B/{'event' if r['name'] in ('alcyon', 'rate') else 'message'}"
        for r in rows if r.get("body_bytes")))
    by = {r["name"]: r for r in rows}
    notes = []
    if "dramatiq" in by:
        notes.append(f"(b) dramatiq worker prefetch: {by['dramatiq']['ready'].get('prefetch')} messages")
    if "alcyon" in by:
        ready = by["alcyon"]["ready"]
        notes.append(f"(c) alcyon batch_max_events={ready.get('batch_max_events')} "
                     f"batch_linger_ms={ready.get('batch_linger_ms')}, prefetch {ready.get('prefetch')} batches "
                     f"per queue, Prometheus middleware {'on' if ready.get('prometheus_middleware') else 'off'}")
    if "rate" in by:
        r = by["rate"]
        offered = r["pub"]["published"] / (r["pub"]["t_sent"] - r["pub"]["t0"])
        notes.append(f"(d) offered {offered:,.0f} events/s for {r['pub']['t_sent'] - r['pub']['t0']:.1f} s "
                     f"(target rate {args.rate:,.0f})")
    notes.append("latency = handler time - event time set at publish; in (a)-(c) it includes queueing "
                 "behind the backlog when the publisher outpaces the consumer")
    for note in notes:
        print("note: " + note)

    print()
    print(f"{'target (from the issue)':<48} {'measured':>28} {'status':>7}")
    print("-" * 85)
    if "alcyon" in by and "dramatiq" in by and by["dramatiq"]["per_sub_rate"]:
        ratio = by["alcyon"]["per_sub_rate"] / by["dramatiq"]["per_sub_rate"]
        agg = by["alcyon"]["deliveries_rate"] / by["dramatiq"]["per_sub_rate"]
        print(f"{'alcyon >= 3x plain dramatiq events/s':<48} {f'{ratio:.2f}x per sub ({agg:.2f}x deliv.)':>28} "
              f"{'PASS' if ratio >= 3 else 'MISS':>7}")
    if "alcyon" in by and "pika" in by and by["pika"]["per_sub_rate"]:
        ratio = by["alcyon"]["per_sub_rate"] / by["pika"]["per_sub_rate"]
        agg = by["alcyon"]["deliveries_rate"] / by["pika"]["per_sub_rate"]
        print(f"{'alcyon >= raw pika per-message events/s':<48} {f'{ratio:.2f}x per sub ({agg:.2f}x deliv.)':>28} "
              f"{'PASS' if ratio >= 1 else 'MISS':>7}")
    if "rate" in by:
        r = by["rate"]
        ok = r["p99"] < 250 and r["status"] == "ok"
        target, measured = f"p99 < 250 ms at {args.rate:,.0f} events/s", f"{r['p99']:.1f} ms"
        print(f"{target:<48} {measured:>28} {'PASS' if ok else 'MISS':>7}")
    print("(ratios use the slower of alcyon's two subscribers: each of them handles every event)")


CASES = ("pika", "dramatiq", "alcyon", "rate")


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--events", type=int, default=100_000, help="events per throughput case (default 100000)")
    parser.add_argument("--rate", type=float, default=5_000.0, help="offered events/s in case (d) (default 5000)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of offered load in (d) (default 10)")
    parser.add_argument("--threads", type=int, default=8, help="worker threads for (b), (c), (d) (default 8)")
    parser.add_argument("--cases", default=",".join(CASES),
                        help=f"comma-separated subset of {','.join(CASES)} (default: all, in that order)")
    parser.add_argument("--in-process-metrics", action="store_true",
                        help="alcyon cases: plain in-process Prometheus registry and no dramatiq Prometheus "
                             "middleware (as the test Harness), instead of `alcyon worker`'s multiprocess metrics")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 10,000 events and 3 s of offered load (unless given explicitly)")
    args = parser.parse_args(argv)
    if args.quick:
        if "--events" not in " ".join(argv or sys.argv):
            args.events = 10_000
        if "--duration" not in " ".join(argv or sys.argv):
            args.duration = 3.0
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = set(cases) - set(CASES)
    if unknown:
        parser.error(f"unknown case(s) {', '.join(sorted(unknown))}; choose from {', '.join(CASES)}")

    print("\n".join(machine(args.broker_url)))
    print(f"run       : {args.events:,} events per throughput case, {args.rate:,.0f} events/s x {args.duration:g} s "
          f"offered in (d), {args.threads} worker threads, metrics "
          f"{'in-process' if args.in_process_metrics else 'multiprocess (as alcyon worker)'}")
    print_load("the broker, the publishers and the consumers")
    ctx = mp.get_context("spawn")
    beam = broker_pid()
    stall_s = 20.0
    rows: list[dict[str, Any]] = []
    tag = uuid.uuid4().hex[:8]
    for case in cases:
        n = args.events if case != "rate" else int(args.rate * args.duration)
        timeout_s = 60.0 + n / 500.0
        print(f"... running {case} ({n:,} events)", flush=True)
        queues: list[str] = []
        exchanges: list[str] = []
        started = time.monotonic()
        try:
            if case == "pika":
                queue = f"bench.pika.{tag}"
                queues = [queue]
                result = run_case(ctx, (pika_consumer, (args.broker_url, queue, n, stall_s, timeout_s)),
                                  (pika_publisher, (args.broker_url, queue, n)), timeout_s, beam)
                rows.append(summarize("pika", "(a) raw pika", result, n))
            elif case == "dramatiq":
                queue = f"bench.dramatiq.{tag}"
                queues = [queue, f"{queue}.DQ", f"{queue}.XQ"]
                result = run_case(ctx, (dramatiq_consumer, (args.broker_url, queue, n, args.threads, stall_s,
                                                            timeout_s)),
                                  (dramatiq_publisher, (args.broker_url, queue, n)), timeout_s, beam)
                rows.append(summarize("dramatiq", "(b) plain dramatiq", result, n))
            else:
                sub = f"{tag}-{case}"
                names = [f"bench-{sub}-a", f"bench-{sub}-b"]
                exchange = f"bench.{sub}"
                exchanges = [exchange]
                queues = [q for name in names for q in (f"alcyon.{name}", f"alcyon.{name}.DQ", f"alcyon.{name}.XQ")]
                rate = args.rate if case == "rate" else None
                result = run_case(ctx, (alcyon_consumer, (args.broker_url, exchange, names, n, args.threads, stall_s,
                                                          timeout_s, not args.in_process_metrics)),
                                  (alcyon_publisher, (args.broker_url, exchange, names, n, rate)), timeout_s, beam)
                label = "(c) alcyon, 2 subs" if case == "alcyon" else f"(d) alcyon @{args.rate:,.0f}/s"
                rows.append(summarize(case, label, result, n))
        except Exception as exc:
            print(f"!!! case {case} failed: {exc}", flush=True)
        finally:
            try:
                delete_everything(args.broker_url, queues, exchanges)
            except Exception as exc:
                print(f"!!! cleanup of {case} failed: {type(exc).__name__}: {exc}", flush=True)
        print(f"    done in {time.monotonic() - started:.1f} s (load {loadavg()})", flush=True)
    report(rows, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
