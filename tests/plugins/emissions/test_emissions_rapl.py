"""RAPL: domains chosen on a fake powercap tree (nothing counted twice), wraps, and the real 'not readable'."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from alcyon import ConfigError, SourceContext, get_logger
from alcyon_emissions.energy import step
from alcyon_emissions.rapl import ROOT, domains, rapl_reader


def zone(root: Path, dirname: str, name: str, energy: int, max_range: int = 1000) -> None:
    d = root / dirname
    d.mkdir(parents=True)
    (d / "name").write_text(name + "\n")
    (d / "energy_uj").write_text(f"{energy}\n")
    (d / "max_energy_range_uj").write_text(f"{max_range}\n")


@pytest.fixture
def powercap(tmp_path) -> Path:
    root = tmp_path / "powercap"
    zone(root, "intel-rapl:0", "package-0", 900)
    zone(root, "intel-rapl:0:0", "core", 500)       # inside package-0: skipped
    zone(root, "intel-rapl:0:1", "uncore", 100)     # inside package-0: skipped
    zone(root, "intel-rapl:0:2", "dram", 300)       # nested in sysfs, not in the package's energy
    zone(root, "intel-rapl:1", "package-1", 10)
    zone(root, "intel-rapl:1:0", "dram", 20)
    zone(root, "intel-rapl:2", "psys", 5000)        # the platform: contains everything, skipped
    zone(root, "intel-rapl-mmio:0", "package-0", 900)  # the same counter again: skipped
    return root


def test_packages_and_dram_only(powercap) -> None:
    found = domains(powercap, "h")
    assert [(d.device, d.max_range_uj) for d in found] == [
        ("h/package-0", 1000), ("h/package-0/dram", 1000), ("h/package-1", 1000), ("h/package-1/dram", 1000)]


def test_reader_samples_and_a_wrap(powercap) -> None:
    stopping = threading.Event()
    ctx = SourceContext("power", {}, get_logger("test"), lambda e: None, stopping, lambda *a: None)
    read = rapl_reader("rapl:?interval=0.01", {"rapl": {"root": str(powercap), "prefix": "h"}, "zone": "FR"})(ctx)
    first = [next(read) for _ in range(4)]
    (powercap / "intel-rapl:0" / "energy_uj").write_text("100\n")      # wrapped: 900 -> 1000 -> 100
    (powercap / "intel-rapl:0:2" / "energy_uj").write_text("450\n")
    second = [next(read) for _ in range(4)]
    stopping.set()
    assert [s.value for s in first] == [900, 300, 10, 20] and [s.value for s in second] == [100, 450, 10, 20]
    assert {s.zone for s in first} == {"FR"} and all(s.kind == "energy_uj" for s in first)
    energy = {}
    for a, b in zip(first, second):
        state, _ = step(None, a, 60)
        _, st = step(state, b, 60)
        energy[a.device] = (st.method, round(st.energy_j * 1e6))
    # package-0: 100 + (1000 - 900) = 200 uJ through the wrap; its DRAM 150 uJ, separately
    assert energy == {"h/package-0": ("wrap", 200), "h/package-0/dram": ("counter", 150),
                      "h/package-1": ("counter", 0), "h/package-1/dram": ("counter", 0)}


def test_no_tree_says_so(tmp_path) -> None:
    with pytest.raises(ConfigError, match="RAPL is not readable here: .* does not exist"):
        domains(tmp_path / "nope", "h")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no package or dram zone"):
        domains(tmp_path / "empty", "h")


@pytest.mark.skipif(os.access(Path(ROOT), os.R_OK) and any(Path(ROOT).glob("intel-rapl:*")),
                    reason="this machine has readable RAPL: the 'not readable' path needs one without")
def test_real_machine_without_rapl_says_so_and_exits_non_zero(tmp_path) -> None:
    env = {**os.environ, "ALCYON_EMISSIONS__INPUTS": "rapl", "ALCYON_METRICS_PORT": "0"}
    env.pop("ALCYON_BROKER_URL", None)
    done = subprocess.run([sys.executable, "-m", "alcyon.cli", "run", "--until-idle", "--source", "power"],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "RAPL is not readable here" in done.stderr and "power.sample" not in done.stdout


@pytest.mark.rabbitmq
@pytest.mark.skipif(os.access(Path(ROOT), os.R_OK) and any(Path(ROOT).glob("intel-rapl:*")),
                    reason="this machine has readable RAPL")
def test_ingest_rapl_without_rapl_exits_non_zero(tmp_path, broker_url) -> None:
    import pika

    exchange = f"alcyon.test.{uuid.uuid4().hex[:12]}"
    env = {**os.environ, "ALCYON_BROKER_URL": broker_url, "ALCYON_METRICS_PORT": "0", "ALCYON_EXCHANGE": exchange}
    env.pop("ALCYON_ARCHIVE_URL", None)
    try:
        done = subprocess.run([sys.executable, "-m", "alcyon.cli", "ingest", "power", "-i", "rapl"],
                              env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    finally:  # ingest declared the installed processors' queues on its exchange
        connection = pika.BlockingConnection(pika.URLParameters(broker_url))
        channel = connection.channel()
        for name in ("alcyon.geofence", "alcyon.notify", "alcyon.emissions"):
            for suffix in ("", ".DQ", ".XQ"):
                channel.queue_delete(name + suffix)
        for source in ("ais", "power"):
            channel.queue_delete(f"alcyon.source.{source}.XQ")
        channel.exchange_delete(exchange)
        connection.close()
    assert done.returncode == 1, done.stderr[-2000:]
    assert "RAPL is not readable here" in done.stderr and "source(s) power failed" in done.stderr
