"""``alcyon demo``: the three pipelines over the bundled data, watched live, then summarised and drawn.

It is ``alcyon run --until-idle`` with a demo configuration layered over the user's: the
plugins' own ``demo`` inputs (recorded AIS tracks over the real French marine protected areas,
a smoke plume cut from a real photo with the baseline model, a synthetic power trace), the
archive in the run directory subscribed to what the report draws, notify's JSON-lines file
there too and no webhook.  Only configuration keys are set: core imports no plugin, and a
missing plugin is named with the extra that installs it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from alcyon.config import Config
from alcyon.errors import ConfigError
from alcyon.logs import for_humans
from alcyon.plugins import PluginHost
from alcyon.processors import Source
from alcyon.runtime import Runtime

from .watch import Figures, LiveDisplay

#: The first-party plugins the demo runs, and what it sets in each (over the user's keys).
DEMO_PLUGINS = ("geofence", "notify", "fire", "emissions", "archive")
#: What the archive keeps for the report: alerts, emissions, positions (tracks), detections (frames).
ARCHIVED = ["geofence.*", "*.alert", "*.alert.#", "emissions.record", "emissions.gap", "ais.position",
            "fire.detection"]
#: The files of a run directory, removed before a new run (nothing else in it is touched).
RUN_FILES = ("archive.sqlite", "archive.sqlite-wal", "archive.sqlite-shm", "blobs", "alerts.jsonl", "alerts-evidence",
             "dead-letters.jsonl", "summary.json", "report.html", "workers.log")


def demo_overlay(out: Path) -> dict[str, dict[str, Any]]:
    """The demo's plugin keys, its files in ``out``."""
    return {
        "geofence": {"inputs": ["demo"], "zones_reload_s": 0},
        "fire": {"cameras": {"tower-1": {"input": "demo", "azimuth": 215, "fov": 54}}},
        "emissions": {"inputs": ["demo"], "sites": {"par-2": {"pue": 1.16}, "nl-ams": {"pue": 1.3}}},
        "archive": {"url": f"sqlite:///{out / 'archive.sqlite'}", "subscribe": ARCHIVED,
                    "blobs_dir": str(out / "blobs")},
        "notify": {"jsonl_path": str(out / "alerts.jsonl"), "webhooks": {}},
    }


def demo_config(config: Config, overlay: dict[str, dict[str, Any]]) -> Config:
    """``config`` with the demo's keys layered over it; embedded, state in memory."""
    plugins = {name: {**config.plugins.get(name, {}), **overlay.get(name, {})}
               for name in {*config.plugins, *overlay}}
    settings = dict(config.settings)
    if config.embedded:
        settings["state_url"] = ""  # self-contained: a demo's delivery ledger is not kept in the user's Redis
    return dataclasses.replace(config, settings=settings, plugins=plugins,
                               disabled=config.disabled - set(DEMO_PLUGINS))


def run_demo(config: Config, out: Path, broker: str | None = None) -> int:
    """Run the demo (on RabbitMQ at ``broker``, else embedded), print its summary, write
    ``out/report.html``; the exit code."""
    from .runner import run_all

    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    for name in RUN_FILES:
        path = out / name
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    os.environ.pop("ALCYON_ARCHIVE_URL", None)  # it would win over the run directory's archive
    config = config.replace(broker_url=broker or "")  # embedded unless asked: whatever ALCYON_BROKER_URL says
    overlay = demo_overlay(out)
    config = demo_config(config, overlay)
    host = PluginHost(config).load_entry_points()
    missing = [name for name in DEMO_PLUGINS if name not in host.names()]
    if missing:
        raise ConfigError(f"alcyon demo needs the first-party plugins {', '.join(DEMO_PLUGINS)}; not installed: "
                          f"{', '.join(missing)} (pip install \"alcyon[all]\")")
    watcher = DemoWatcher(config, out)
    if config.embedded:
        return run_all(config, until_idle=True, host=host, observer=watcher) or watcher.code
    from alcyon.topology import Topology

    from .demo_broker import Workers, refuse_busy_queues, worker_environment

    topology = Topology.of(host.processors(), config.exchange)
    refuse_busy_queues(config, topology)
    watcher.workers = Workers(worker_environment(config, overlay), out / "workers.log")
    watcher.topology = topology
    try:
        return run_all(config, until_idle=True, processors=False, host=host, observer=watcher) or watcher.code
    finally:
        watcher.workers.stop()


class DemoWatcher:
    """The run's observer: live display on a terminal, then dead letters, summary and report."""

    def __init__(self, config: Config, out: Path) -> None:
        self.config, self.out = config, out
        self.figures = Figures()
        self.display: LiveDisplay | None = None
        self.code = 0
        #: Distributed: the worker subprocesses, the processors' queues, the tap on the exchange.
        self.workers: Any = None
        self.topology: Any = None
        self.tap: Any = None
        self.started_at = time.monotonic()

    def started(self, runtime: Runtime, sources: Sequence[Source]) -> None:
        self.started_at = time.monotonic()
        if self.config.embedded:
            runtime.listeners.append(self.figures.count)
        else:  # the workers derive the alerts: watch the exchange
            from .demo_broker import Tap

            self.tap = Tap(self.config, self.figures.count)
            self.tap.start()
            if not self.tap.ready.wait(30):
                raise ConfigError("alcyon demo --broker: could not bind a tap queue to the exchange within 30 s")
        mode = "embedded (no broker)" if self.config.embedded else "RabbitMQ"
        metrics = (f"metrics on http://127.0.0.1:{self.config.metrics_port}/metrics"
                   if self.config.metrics_port else "no metrics endpoint (metrics_port = 0)")
        if for_humans() and sys.stderr.isatty():
            print(f"alcyon demo: maritime, fire and emissions pipelines, {mode}; {metrics}", file=sys.stderr)
            self.display = LiveDisplay(self.figures)
            self.display.start(sources)

    def progress(self, source: str, done: int, total: int) -> None:
        if self.display is not None:
            self.display.progress(source, done, total)

    def finished(self, runtime: Runtime, seconds: float) -> None:
        from .report import write_report

        if self.tap is not None:
            from .demo_broker import wait_drained

            wait_drained(self.config, self.topology, self.tap, self.workers)
            self.tap.stop()
        if self.display is not None:
            self.display.stop()
        dead_letters = self._keep_dead_letters(runtime)
        figures = self.figures.as_dict(runtime.rejected)
        figures["seconds"] = round(time.monotonic() - self.started_at, 2)  # sources' run plus the drain
        figures["mode"] = "embedded" if self.config.embedded else "rabbitmq"
        (self.out / "summary.json").write_text(json.dumps(figures, indent=1) + "\n")
        report = self.out / "report.html"
        write_report(f"sqlite:///{self.out / 'archive.sqlite'}", report, summary=figures)
        print(summary_text(figures, dead_letters, report, self.out))

    def _keep_dead_letters(self, runtime: Runtime) -> str:
        """Embedded dead letters live in memory: written to ``dead-letters.jsonl``; RabbitMQ keeps its own."""
        if not self.config.embedded:
            return "in RabbitMQ, alcyon.source.ais.XQ and each processor's alcyon.<name>.XQ (alcyon dlq list ais)"
        path = self.out / "dead-letters.jsonl"
        queues = [*(p.queue for p in runtime.processors), *(s.queue for s in runtime.sources)]
        with path.open("w") as f:
            for queue in queues:
                for record in runtime.dead_letters.records(queue):
                    f.write(json.dumps({"processor": record.processor, "reason": record.reason, "error": record.error,
                                        "body": record.body.decode("utf-8", "replace"), "dead_at": record.dead_at,
                                        "event_type": record.event_type}) + "\n")
        return str(path)


def summary_text(f: dict[str, Any], dead_letters: str, report: Path, out: Path) -> str:
    """The summary a person reads at the end (its figures are also in ``summary.json``)."""
    def listing(counts: dict[str, Any]) -> str:
        return ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"

    alerts = f["alerts"]
    maritime = {k.split(".", 1)[1]: v for k, v in alerts.items() if k.startswith("geofence.")}
    fire = {k: v for k, v in alerts.items() if k.startswith(("fire.", "camera."))}
    energy, co2e = sum(f["energy_j"].values()), sum(f["co2e_g"].values())
    rejected = sum(f["rejected"].values())
    lines = [
        f"alcyon demo: {f['seconds']:.1f} s, {f['mode']} mode",
        f"  alerts: {sum(alerts.values())} ({listing(alerts)})",
        f"  maritime: {f['ais_positions']} AIS positions, {f['vessels_seen']} vessels seen; "
        f"geofence alerts: {listing(maritime)}",
        f"  fire: {f['frames']} frames, {f['frames_with_smoke']} with smoke ({f['smoke_boxes']} boxes); "
        f"fire alerts: {listing(fire)}",
        f"  emissions: {f['power_samples']} power samples, {f['emissions_records']} records, "
        f"{f['emissions_gaps']} gap(s); energy {energy / 1000:.1f} kJ ({energy / 3.6e6:.4f} kWh), "
        f"CO2e {co2e:.2f} g",
        *(f"    site {site}: {f['energy_j'][site] / 1000:.1f} kJ, {f['co2e_g'][site]:.3f} g CO2e"
          for site in f["energy_j"]),
        f"  rejected inputs: {rejected} ({listing(f['rejected'])})",
        f"  dead letters: {dead_letters}",
        f"  report: {report}",
        f"  archive: {out / 'archive.sqlite'} (alcyon report --archive sqlite:///{out / 'archive.sqlite'})",
    ]
    return "\n".join(lines)
