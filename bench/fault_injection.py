"""Fault injection: replay a large AIS stream while killing workers, restarting Redis (and RabbitMQ), slowing sinks.

Prints the alerts expected (the embedded mode's, on the same stream, without faults) against
the alerts each sink got: lost, duplicated and unexpected. Not a test: it takes minutes.

WORKLOAD. --pings positions of shifted copies of the demo recording (bench_geofence_e2e's
build_workload: every copy is new vessels and new alerts, 9 per copy), written to one file.

REFERENCE. `alcyon run --until-idle` (embedded, no faults) over the file: the notify plugin's
JSON-lines sink gives the expected alert ids (deterministic: derived from the input lines).

RUN. A RabbitMQ vhost (--broker-url; its alcyon.geofence / alcyon.notify / alcyon.source.ais
queues are deleted before and after: give the script a vhost of its own), a redis-server of
the script's own on a free port (append-only, fsync per write: a SIGKILL loses nothing
written, as in production with AOF), a topic exchange of its own. `alcyon worker` runs
geofence and notify (JSON-lines sink + a local webhook answering after --webhook-delay-s);
`alcyon ingest ais` replays the file at its recorded pace sped up to last --replay-s (the
faults then land while alerts are being made). While the ingest runs, and --fault-s after
it ends:

* every --kill-every-s the worker is SIGKILLed and started again;
* every --redis-every-s Redis is SIGKILLed and started again --redis-down-s later;
* with --rabbitmq-restart (the default), `rabbitmqctl stop_app` / `start_app` once, midway.
  It restarts the WHOLE RabbitMQ node: use --no-rabbitmq-restart on a shared machine.

Then one worker runs until every expected alert is settled in both sinks (the delivery
ledger says so) or --timeout-s; a delivery cut by a kill is retried once its claim's lease
(about a minute) ends.

  python bench/fault_injection.py --pings 31000 --no-rabbitmq-restart
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pika
from bench_core import print_load
from bench_geofence_e2e import build_workload

DEFAULT_URL = os.environ.get("ALCYON_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/")
QUEUES = [f"alcyon.{p}{s}" for p in ("geofence", "notify") for s in ("", ".DQ", ".XQ")] + ["alcyon.source.ais.XQ"]
SINKS = ("jsonl", "webhook")


class Webhook:
    """A local webhook that answers 200 after ``delay_s`` and records every alert id it was sent."""

    def __init__(self, delay_s: float) -> None:
        self.ids: list[str] = []
        lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with lock:
                    hook.ids.append(json.loads(body)["id"])
                time.sleep(delay_s)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"


def jsonl_ids(path: Path) -> list[str]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line)["id"])
        except (ValueError, KeyError):
            out.append("<torn line>")
    return out


def write_config(directory: Path, stream: Path, jsonl: str, webhook: str | None, speed: float = 0.0) -> Path:
    notify = [f'jsonl_path = "{jsonl}"', "max_retries = 40", "retry_min_backoff_ms = 500",
              "retry_max_backoff_ms = 10000"]
    if webhook:
        notify.append(f'webhooks = {{ slow = "{webhook}" }}')
    path = directory / "alcyon.toml"
    pace = f"?speed={speed:g}" if speed else ""  # the pace is not part of the input's identity (nor the ids)
    path.write_text(f'[plugins.geofence]\ninputs = ["file:{stream}{pace}"]\n\n[plugins.notify]\n'
                    + "\n".join(notify) + "\n")
    return path


def alcyon(args: list[str], env: dict[str, str], cwd: Path, log: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "alcyon.cli", *args], env=env, cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=open(cwd / log, "ab"))


def clean_broker(url: str, exchange: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    for queue in QUEUES:
        channel.queue_delete(queue)
    channel.exchange_delete(exchange)
    connection.close()


def dead_letter_messages(url: str) -> dict[str, int]:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    out = {}
    for queue in ("alcyon.geofence.XQ", "alcyon.notify.XQ"):
        channel = connection.channel()
        try:
            out[queue] = channel.queue_declare(queue, passive=True).method.message_count
        except pika.exceptions.ChannelClosedByBroker:
            out[queue] = 0
    connection.close()
    return out


def reference(tmp: Path, stream: Path, base_env: dict[str, str]) -> list[str]:
    ref = tmp / "reference"
    ref.mkdir()
    config = write_config(ref, stream, str(ref / "alerts.jsonl"), None)
    done = subprocess.run([sys.executable, "-m", "alcyon.cli", "--config", str(config), "run", "--until-idle"],
                          env=base_env, cwd=ref, capture_output=True, text=True, timeout=1800)
    if done.returncode:
        sys.exit(f"the reference run failed:\n{done.stderr[-3000:]}")
    return jsonl_ids(ref / "alerts.jsonl")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--broker-url", default=DEFAULT_URL, help="AMQP URL with a vhost of the script's own")
    parser.add_argument("--pings", type=int, default=94_000, help="positions in the stream (1,573 per copy)")
    parser.add_argument("--replay-s", type=float, default=120.0,
                        help="replay the stream at its recorded pace, sped up to last this long (0: full speed)")
    parser.add_argument("--kill-every-s", type=float, default=8.0, help="SIGKILL the worker this often (0: never)")
    parser.add_argument("--redis-every-s", type=float, default=25.0, help="restart Redis this often (0: never)")
    parser.add_argument("--redis-down-s", type=float, default=10.0, help="how long Redis stays down")
    parser.add_argument("--rabbitmq-restart", action=argparse.BooleanOptionalAction, default=True,
                        help="restart the RabbitMQ node once (rabbitmqctl stop_app/start_app)")
    parser.add_argument("--webhook-delay-s", type=float, default=0.3, help="the webhook answers this late")
    parser.add_argument("--fault-s", type=float, default=20.0, help="keep injecting faults this long after ingest")
    parser.add_argument("--timeout-s", type=float, default=600.0, help="give up settling after this long")
    args = parser.parse_args()
    if shutil.which("redis-server") is None:
        sys.exit("redis-server is not on the PATH")

    from alcyon.state import open_state_store
    from alcyon.testing import RedisServer
    from alcyon_notify.ledger import DeliveryLedger

    print_load("the fault-injection run")
    tmp = Path(tempfile.mkdtemp(prefix="alcyon-faults-"))
    lines, info = build_workload(args.pings, time.time())
    stream = tmp / "stream.nmea"
    stream.write_text("\n".join(lines) + "\n")
    base_env = {**os.environ, "ALCYON_METRICS_PORT": "0", "ALCYON_BROKER_URL": "", "ALCYON_STATE_URL": ""}
    print(f"workload  : {info['copies']} copies of the demo recording, {len(lines)} lines, "
          f"{info['copies'] * info['pings_per_copy']} positions")
    started = time.monotonic()
    expected = reference(tmp, stream, base_env)
    print(f"reference : {len(expected)} alerts ({len(set(expected))} distinct), embedded, no faults, "
          f"{time.monotonic() - started:.0f} s")

    run = tmp / "run"
    run.mkdir()
    redis = RedisServer(str(run))
    redis.start()
    webhook = Webhook(args.webhook_delay_s)
    exchange = f"alcyon.faults.{uuid.uuid4().hex[:8]}"
    speed = info["copies"] * info["span_s"] / args.replay_s if args.replay_s else 0.0
    config = write_config(run, stream, str(run / "alerts.jsonl"), webhook.url, speed)
    env = {**base_env, "ALCYON_BROKER_URL": args.broker_url, "ALCYON_STATE_URL": redis.url,
           "ALCYON_EXCHANGE": exchange, "ALCYON_SHUTDOWN_GRACE_S": "5"}
    clean_broker(args.broker_url, exchange)
    faults: collections.Counter[str] = collections.Counter()
    workers = [0]

    def start_worker() -> subprocess.Popen:
        workers[0] += 1
        log = f"worker{workers[0]}.log"
        process = alcyon(["--config", str(config), "worker"], env, run, log)
        deadline = time.monotonic() + 60
        while "worker_started" not in (run / log).read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"the worker did not start: {(run / log).read_text()[-2000:]}")
            time.sleep(0.1)
        return process

    worker = start_worker()
    ingest = alcyon(["--config", str(config), "ingest", "ais", "--until-idle"], env, run, "ingest.log")
    began = time.monotonic()
    next_kill = began + args.kill_every_s if args.kill_every_s else float("inf")
    next_redis = began + args.redis_every_s if args.redis_every_s else float("inf")
    rabbit_at = began + 15 if args.rabbitmq_restart else float("inf")
    ingest_done: float | None = None
    try:
        while ingest_done is None or time.monotonic() < ingest_done + args.fault_s:
            now = time.monotonic()
            if ingest_done is None and ingest.poll() is not None:
                ingest_done = now
                print(f"ingest    : exit {ingest.returncode} after {now - began:.0f} s")
            if now >= next_kill:
                worker.send_signal(signal.SIGKILL)
                worker.wait(timeout=10)
                faults["worker SIGKILL"] += 1
                worker = start_worker()
                next_kill = time.monotonic() + args.kill_every_s
            if now >= next_redis:
                redis.kill()
                faults[f"Redis SIGKILL, down {args.redis_down_s:g} s"] += 1
                time.sleep(args.redis_down_s)
                redis.start()
                next_redis = time.monotonic() + args.redis_every_s
            if now >= rabbit_at:
                subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True)
                time.sleep(5)
                subprocess.run(["rabbitmqctl", "start_app"], check=True, capture_output=True)
                faults["RabbitMQ stop_app/start_app"] += 1
                rabbit_at = float("inf")
            time.sleep(0.2)
        # settle: every expected alert recorded as delivered by both sinks
        ledger = DeliveryLedger(open_state_store(redis.url), ttl_s=60, lease_s=60)
        names = {"jsonl": "jsonl", "webhook": "slow"}
        deadline = time.monotonic() + args.timeout_s
        while time.monotonic() < deadline:
            if worker.poll() is not None:
                worker = start_worker()
            try:
                if all(ledger.delivered(names[sink], alert) for sink in SINKS for alert in set(expected)):
                    break
            except Exception:  # Redis restarting
                pass
            time.sleep(2)
        time.sleep(5)  # a late repeat would show now
        settled = time.monotonic() - began
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        got = {"jsonl": jsonl_ids(run / "alerts.jsonl"), "webhook": list(webhook.ids)}
        dead = dead_letter_messages(args.broker_url)
    finally:
        for process in (worker, ingest):
            if process.poll() is None:
                process.kill()
        redis.kill()
        webhook.server.shutdown()
        clean_broker(args.broker_url, exchange)

    want = set(expected)
    print(f"faults    : {', '.join(f'{n} x {what}' for what, n in faults.items()) or 'none'}")
    print(f"settled   : {settled:.0f} s after the ingest started (timeout {args.timeout_s:g} s)")
    print(f"{'sink':<9} {'expected':>8} {'delivered':>9} {'distinct':>8} {'lost':>5} {'duplicated':>10} "
          f"{'unexpected':>10}")
    for sink in SINKS:
        ids = got[sink]
        counts = collections.Counter(ids)
        print(f"{sink:<9} {len(want):>8} {len(ids):>9} {len(counts):>8} {len(want - set(counts)):>5} "
              f"{sum(n - 1 for n in counts.values()):>10} {len(set(counts) - want):>10}")
    print(f"dead letters: {dead}")
    print(f"logs      : {run}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
