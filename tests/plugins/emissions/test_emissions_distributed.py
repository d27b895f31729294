"""The trace through RabbitMQ + Redis + PostgreSQL (`alcyon ingest power` + `alcyon worker`) and through
the embedded mode (SQLite): the same records and totals, to the joule; a worker SIGKILLed mid-stream
and restarted changes no total."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pika
import pytest
import redis

from alcyon_emissions.make_trace import TRACE, make_trace
from alcyon_emissions.replay import read_file

pytestmark = [pytest.mark.rabbitmq, pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]

QUEUES = [f"alcyon.{p}{s}" for p in ("emissions", "archive") for s in ("", ".DQ", ".XQ")] + ["alcyon.source.power.XQ"]
CONFIG = """
[plugins]
disabled = ["geofence", "notify"]
[plugins.emissions]
inputs = ["file:{trace}"]
[plugins.emissions.sites.par-2]
pue = 1.16
[plugins.emissions.sites.nl-ams]
pue = 1.3
[plugins.archive]
url = "sqlite:///{cwd}/archive.sqlite"
"""


def setup_dir(path: Path, trace: Path) -> Path:
    path.mkdir()
    (path / "alcyon.toml").write_text(CONFIG.format(trace=trace, cwd=path))
    return path


def cli(*args: str, env: dict, cwd: Path, timeout: float = 180) -> str:
    done = subprocess.run([sys.executable, "-m", "alcyon.cli", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def report(env: dict, cwd: Path) -> list[dict]:
    return json.loads(cli("emissions", "report", "--by", "device", "--format", "json", env=env, cwd=cwd))


def record_ids(url: str) -> set[str]:
    from alcyon_archive.store import open_archive

    archive = open_archive(url)
    try:
        return {r[0] for r in archive._query("SELECT id FROM emissions", [])}
    finally:
        archive.close()


def rounded(rows: list[dict]) -> dict[str, tuple]:
    """Per group: energy and CO2e to the microjoule / microgram (SQL sums may differ in the last float bits)."""
    return {r["group"]: (round(r["energy_j"], 6), round(r["co2e_g"], 6), r["gaps"], r["basis"]) for r in rows}


def big_trace(path: Path, copies: int) -> Path:
    """The demo trace for ``copies`` sets of devices (ten times more samples to kill a worker in)."""
    lines = TRACE.read_text().splitlines()
    header, rows = lines[:2], lines[2:]
    with open(path, "w") as f:
        f.write("\n".join(header) + "\n")
        for row in rows:
            time_, device, rest = row.split(",", 2)
            for k in range(copies):
                f.write(f"{time_},copy{k}/{device},{rest}\n")
    return path


class Distributed:
    def __init__(self, tmp_path: Path, broker_url: str, redis_url: str, postgres_url: str, trace: Path) -> None:
        self.cwd = setup_dir(tmp_path / "distributed", trace)
        self.exchange = f"alcyon.test.{uuid.uuid4().hex[:12]}"
        self.redis = redis.Redis.from_url(redis_url)
        self.broker_url = broker_url
        self.archive_url = postgres_url
        self.env = {**os.environ, "ALCYON_METRICS_PORT": "0", "ALCYON_BROKER_URL": broker_url,
                    "ALCYON_STATE_URL": redis_url, "ALCYON_EXCHANGE": self.exchange,
                    "ALCYON_ARCHIVE_URL": postgres_url, "ALCYON_SHUTDOWN_GRACE_S": "2"}
        self.workers: list[subprocess.Popen] = []
        self.clean()

    def clean(self) -> None:
        for key in self.redis.scan_iter(match="alcyon:state:emissions:*"):
            self.redis.delete(key)
        connection = pika.BlockingConnection(pika.URLParameters(self.broker_url))
        channel = connection.channel()
        for queue in QUEUES:
            channel.queue_delete(queue)
        channel.exchange_delete(self.exchange)
        connection.close()

    def start_worker(self) -> subprocess.Popen:
        log = self.cwd / "worker.log"
        seen = log.read_text().count("worker_started") if log.exists() else 0
        worker = subprocess.Popen([sys.executable, "-m", "alcyon.cli", "worker", "-p", "emissions,archive"],
                                  env=self.env, cwd=self.cwd, stdout=subprocess.DEVNULL, stderr=open(log, "ab"))
        self.workers.append(worker)
        deadline = time.monotonic() + 60
        while log.read_text().count("worker_started") == seen:
            assert time.monotonic() < deadline and worker.poll() is None, log.read_text()[-3000:]
            time.sleep(0.1)
        return worker

    def ingest(self) -> None:
        cli("ingest", "power", "--until-idle", env=self.env, cwd=self.cwd)

    def wait_for(self, count: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while len(record_ids(self.archive_url)) < count:
            assert time.monotonic() < deadline, f"{len(record_ids(self.archive_url))} of {count} records archived"
            time.sleep(0.3)
        time.sleep(1)  # anything extra would show up now

    def close(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                worker.wait(timeout=30)
        self.clean()


def embedded(tmp_path: Path, trace: Path) -> tuple[list[dict], set[str]]:
    cwd = setup_dir(tmp_path / "embedded", trace)
    env = {**os.environ, "ALCYON_METRICS_PORT": "0"}
    env.pop("ALCYON_BROKER_URL", None), env.pop("ALCYON_STATE_URL", None), env.pop("ALCYON_ARCHIVE_URL", None)
    cli("run", "--until-idle", env=env, cwd=cwd)
    return report(env, cwd), record_ids(f"sqlite:///{cwd}/archive.sqlite")


def test_distributed_and_embedded_give_the_same_totals(tmp_path, broker_url, redis_url, postgres_url) -> None:
    expected_rows, expected_ids = embedded(tmp_path, TRACE)
    _, truth = make_trace()
    got = {r["group"]: r["energy_j"] for r in expected_rows if r["group"] != "total"}
    assert got == pytest.approx(truth, rel=1e-12)  # the embedded run credits what the generator made
    d = Distributed(tmp_path, broker_url, redis_url, postgres_url, TRACE)
    try:
        d.start_worker()
        d.ingest()
        d.wait_for(len(expected_ids))
        assert record_ids(postgres_url) == expected_ids
        assert rounded(report(d.env, d.cwd)) == rounded(expected_rows)
    finally:
        d.close()


def test_a_worker_killed_mid_stream_changes_no_total(tmp_path, broker_url, redis_url, postgres_url) -> None:
    trace = big_trace(tmp_path / "trace10.csv", 10)
    expected_rows, expected_ids = embedded(tmp_path, trace)
    assert len(expected_ids) > 10_000 and len(list(read_file(trace, "", ""))) > 10_000
    d = Distributed(tmp_path, broker_url, redis_url, postgres_url, trace)
    try:
        d.ingest()  # everything queued first: the worker is killed while it works through it
        worker = d.start_worker()
        deadline = time.monotonic() + 60
        while len(record_ids(postgres_url)) < 500:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        at_kill = len(record_ids(postgres_url))
        assert at_kill < len(expected_ids), "the kill must land mid-stream"
        d.start_worker()
        d.wait_for(len(expected_ids))
        assert record_ids(postgres_url) == expected_ids
        assert rounded(report(d.env, d.cwd)) == rounded(expected_rows)
    finally:
        d.close()
