"""A real Prometheus scraping a running `alcyon worker`, a running `alcyon ingest` and RabbitMQ.

Debian's prometheus (``bash deploy/ci-tools.sh`` extracts it) runs as a process of its own on a
free port with temporary storage, loads ``deploy/prometheus/alerts.yaml`` and scrapes, every
second: the worker (geofence + notify on the real RabbitMQ, state in a private ``redis-server``),
the AIS source receiving the demo recording over UDP plus a bad line, the camera source replaying
the fire plugin's bundled frames (fire-detect and fire-alert in the worker), and RabbitMQ's
``rabbitmq_prometheus`` plugin on both its endpoints (``/metrics/per-object`` for the queues,
``/metrics`` for the alarms). Then:

- every metric a rule or a dashboard panel names is in those live scrapes;
- every alert rule loads and evaluates without error;
- every dashboard panel's query returns data, and the panels of a working pipeline show
  non-zero values; every dashboard variable lists the values of this deployment.

RabbitMQ's plugin must be enabled (``rabbitmq-plugins enable rabbitmq_prometheus``; ``.ci/run``
does it); a missing plugin or binary fails the test with that instruction, never skips it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.conftest import BROKER_URL

from .conftest import DEPLOY, ROOT, find_tool
from .metric_names import grafana_to_promql, selected_metrics

pytestmark = [pytest.mark.prometheus, pytest.mark.rabbitmq, pytest.mark.redis, pytest.mark.slow]  # redis: redis-server

RABBITMQ_PROMETHEUS = os.environ.get("ALCYON_TEST_RABBITMQ_PROMETHEUS_URL", "http://127.0.0.1:15692")
DASHBOARD = DEPLOY / "grafana" / "alcyon.json"
RULES = DEPLOY / "prometheus" / "alerts.yaml"
NAMESPACE, RELEASE = "alcyon-live", "live"
DEMO = ROOT / "plugins" / "geofence" / "alcyon_geofence" / "data" / "demo_tracks.nmea"
BAD_LINE = b"!AIVDM,1,1,,A,this is not an AIS payload,0*00"
PROCESSORS = ("geofence", "notify", "fire-detect", "fire-alert")
FIRE_CONFIG = """
[plugins.fire]
end_after = 3
[plugins.fire.cameras.tower-1]
input = "demo"
azimuth = 135.0
fov = 54.2
"""

#: Panels that must show a non-zero value once the demo recording went through the pipeline.
BUSY_PANELS = {"Events processed / s", "Alerts derived per kind / s", "Handler duration", "Event lag",
               "Handled batch size", "Handler threads busy", "CPU", "Memory (resident)", "Events per source / s",
               "Published events and batch size", "AIS records decoded / s", "AIS lines rejected / s",
               "Positions checked / s", "Geofence alerts / s", "Vessels inside zones", "Deliveries / s",
               "Delivery duration p95", "Dead letters waiting", "Processes up", "Consumers per queue"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def send_recording(port: int, lines: list[bytes], seconds: float) -> None:
    """Push NMEA lines over UDP at an even pace for ``seconds`` (an AIS receiver's stream)."""
    pause = seconds / len(lines)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for line in lines:
            s.sendto(line + b"\n", ("127.0.0.1", port))
            time.sleep(pause)


def fetch(url: str, timeout: float = 10) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode()


def vhost() -> str:
    return urllib.parse.unquote(urllib.parse.urlsplit(BROKER_URL).path.lstrip("/")) or "/"


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def api(self, path: str, **params: str) -> Any:
        query = urllib.parse.urlencode(params)
        body = json.loads(fetch(f"{self.url}/api/v1/{path}?{query}"))
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return self.api("query", query=expr)["result"]

    def query_range(self, expr: str, start: float, end: float) -> list[dict[str, Any]]:
        return self.api("query_range", query=expr, start=f"{start:.3f}", end=f"{end:.3f}", step="1")["result"]


def delete_queues() -> None:
    from alcyon.amqp import blocking_channel, connection_parameters

    with blocking_channel(connection_parameters(BROKER_URL)) as channel:
        for name in (*PROCESSORS, "source.ais", "source.camera"):
            for suffix in ("", ".DQ", ".XQ"):
                channel.queue_delete(f"alcyon.{name}{suffix}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    prometheus_bin = find_tool("prometheus")
    try:
        fetch(f"{RABBITMQ_PROMETHEUS}/metrics/per-object", timeout=5)
    except OSError as exc:
        pytest.fail(f"RabbitMQ's Prometheus plugin does not answer at {RABBITMQ_PROMETHEUS} ({exc}): run "
                    "`rabbitmq-plugins enable rabbitmq_prometheus` (.ci/run does it)", pytrace=False)
    tmp = tmp_path_factory.mktemp("live-prometheus")
    exchange = f"alcyon.live.{uuid.uuid4().hex[:10]}"
    ports = {"worker": free_port(), "ingest": free_port(), "camera": free_port(), "prometheus": free_port()}
    (tmp / "alcyon.toml").write_text(FIRE_CONFIG)
    base_env = {**os.environ, "PYTHONPATH": str(ROOT), "ALCYON_BROKER_URL": BROKER_URL, "ALCYON_EXCHANGE": exchange,
                "ALCYON_METRICS_HOST": "127.0.0.1", "ALCYON_NOTIFY__JSONL_PATH": str(tmp / "alerts.jsonl"),
                "ALCYON_SHUTDOWN_GRACE_S": "3", "ALCYON_CONFIG": str(tmp / "alcyon.toml")}
    base_env.pop("ALCYON_LOAD_PLUGINS", None)  # the installed plugins, as in a deployment
    delete_queues()
    processes: list[subprocess.Popen] = []

    def start(name: str, args: list[str], **env: str) -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, "-m", "alcyon.cli", *args], stdout=subprocess.DEVNULL,
                                   stderr=open(tmp / f"{name}.log", "ab"),
                                   env={**base_env, "ALCYON_METRICS_PORT": str(ports[name]),
                                        "ALCYON_METRICS_DIR": str(tmp / f"metrics-{name}"), **env})
        processes.append(process)
        return process

    try:
        # a Redis of its own: vessel state left by an earlier run would make this run's positions stale
        redis_port = free_port()
        redis = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                                  "--appendonly", "no", "--dir", str(tmp)], stdout=subprocess.DEVNULL)
        processes.append(redis)
        started = time.time()
        start("worker", ["worker", "-p", ",".join(PROCESSORS)],
              ALCYON_STATE_URL=f"redis://127.0.0.1:{redis_port}/0")
        wait_for(lambda: fetch(f"http://127.0.0.1:{ports['worker']}/readyz") == "ok\n", 60, "the worker to be ready")
        udp = free_udp_port()
        start("ingest", ["ingest", "ais", "-i", f"udp://127.0.0.1:{udp}"])  # a receiver pushes NMEA
        wait_for(lambda: fetch(f"http://127.0.0.1:{ports['ingest']}/readyz") == "ok\n", 60, "the source to be ready")
        rabbit = urllib.parse.urlsplit(RABBITMQ_PROMETHEUS).netloc
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(RULES)],
            "scrape_configs": [
                {"job_name": "alcyon", "static_configs": [{
                    "targets": [f"127.0.0.1:{ports[name]}" for name in ("worker", "ingest", "camera")],
                    "labels": {"namespace": NAMESPACE, "release": RELEASE}}]},
                {"job_name": "rabbitmq", "metrics_path": "/metrics/per-object",
                 "static_configs": [{"targets": [rabbit]}]},
                {"job_name": "rabbitmq-node", "metrics_path": "/metrics",
                 "static_configs": [{"targets": [rabbit]}]},
            ]}
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
        server = subprocess.Popen([prometheus_bin, f"--config.file={tmp / 'prometheus.yml'}",
                                   f"--storage.tsdb.path={tmp / 'tsdb'}",
                                   f"--web.listen-address=127.0.0.1:{ports['prometheus']}"],
                                  stdout=subprocess.DEVNULL, stderr=open(tmp / "prometheus.log", "ab"))
        processes.append(server)
        prometheus = Prometheus(f"http://127.0.0.1:{ports['prometheus']}")
        wait_for(lambda: fetch(f"{prometheus.url}/-/ready").strip() != "", 60, "Prometheus to be ready")
        wait_for(lambda: len(prometheus.query('up == 1')) == 4, 60, "the four targets to be scraped")
        time.sleep(2)  # samples before the traffic, so that rate() sees it arrive
        start("camera", ["ingest", "camera"])  # replays the bundled frames at once, then stays up
        wait_for(lambda: len(prometheus.query('up == 1')) == 5, 60, "the camera source to be scraped")
        send_recording(udp, [*DEMO.read_bytes().splitlines(), BAD_LINE], seconds=8)

        def delivered() -> bool:
            return bool(prometheus.query('sum(alcyon_notify_deliveries_total{outcome="delivered"}) > 0')) and \
                bool(prometheus.query('sum(alcyon_fire_alerts_total{kind="alert"}) > 0'))

        wait_for(delivered, 120, "geofence alerts delivered by notify and a smoke alert (the whole pipelines)")
        time.sleep(5)  # a few more scrapes and rule evaluations
        yield {"prometheus": prometheus, "ports": ports, "started": started, "tmp": tmp}
    finally:
        for process in reversed(processes):  # Prometheus, the source, the worker, then its Redis
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        delete_queues()
        shutil.rmtree(tmp / "tsdb", ignore_errors=True)


def dashboard_targets() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    found = []
    for panel in dashboard["panels"]:
        for p in [panel, *panel.get("panels", [])]:
            for target in p.get("targets", []):
                found.append((p["title"], target["expr"]))
    return found


def rule_exprs() -> list[tuple[str, str]]:
    return [(r["alert"], r["expr"]) for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


def resolve(expr: str) -> str:
    """A panel query as Grafana would send it for this deployment (All selected, the test vhost)."""
    values = {"job": "alcyon", "namespace": ".*", "release": ".*", "processor": ".*", "vhost": re.escape(vhost()),
              "datasource": ""}
    expr = expr.replace("$__rate_interval", "15s").replace("$__interval", "1s").replace("$__range", "2m")
    return re.sub(r"\$\{?(\w+)\}?", lambda m: values[m.group(1)], expr)


def scraped_names(text: str) -> set[str]:
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}


def test_every_metric_of_rules_and_panels_is_in_a_live_scrape(stack: dict) -> None:
    ports = stack["ports"]
    alcyon = set().union(*(scraped_names(fetch(f"http://127.0.0.1:{ports[name]}/metrics"))
                           for name in ("worker", "ingest", "camera")))
    per_object = scraped_names(fetch(f"{RABBITMQ_PROMETHEUS}/metrics/per-object"))
    node = scraped_names(fetch(f"{RABBITMQ_PROMETHEUS}/metrics"))
    live = alcyon | per_object | node | {"up"}
    for where, expr in rule_exprs() + dashboard_targets():
        for name in selected_metrics(grafana_to_promql(expr)):
            assert name in live, f"{where}: {name} is in no live scrape (worker, ingest, RabbitMQ)"
    # why both RabbitMQ endpoints are scraped
    assert "rabbitmq_alarms_memory_used_watermark" in node and "rabbitmq_alarms_memory_used_watermark" not in per_object
    # the dramatiq series that lie on alcyon's brokers are not exported
    assert not {"dramatiq_message_retries_total", "dramatiq_message_rejects_total",
                "dramatiq_delayed_messages_inprogress"} & alcyon
    assert "dramatiq_messages_total" in alcyon


def test_counters_start_at_zero(stack: dict) -> None:
    """A healthy worker shows failures and dead letters as 0, not "No data"."""
    text = fetch(f"http://127.0.0.1:{stack['ports']['worker']}/metrics")
    assert 'alcyon_events_failed_total{processor="geofence",reason="handler_error",type="ais.position"} 0.0' in text
    assert 'alcyon_dead_letters_total{processor="notify",reason="delivery_failed"} 0.0' in text
    assert 'alcyon_messages_rejected_total{queue="alcyon.geofence",reason="decode_error"} 0.0' in text
    ingest = fetch(f"http://127.0.0.1:{stack['ports']['ingest']}/metrics")
    assert re.search(r'alcyon_source_events_total\{source="ais"\} [1-9]', ingest)


def test_every_alert_rule_loads_and_evaluates(stack: dict) -> None:
    prometheus: Prometheus = stack["prometheus"]
    wait_for(lambda: all(r.get("lastEvaluation", "").startswith("2") and not r["lastEvaluation"].startswith("0001")
                         for g in prometheus.api("rules")["groups"] for r in g["rules"]), 30, "every rule to run")
    rules = {r["name"]: r for g in prometheus.api("rules")["groups"] for r in g["rules"]}
    assert set(rules) == {name for name, _ in rule_exprs()}
    for name, rule in rules.items():
        assert rule["health"] == "ok" and not rule.get("lastError"), f"{name}: {rule.get('lastError')}"
    for _name, expr in rule_exprs():
        prometheus.query(expr)  # evaluates (an error fails in api())
    firing = {a["labels"]["alertname"] for a in prometheus.api("alerts")["alerts"] if a["state"] == "firing"}
    assert "AlcyonWorkersAbsent" not in firing and "AlcyonWorkerDown" not in firing


def test_every_panel_returns_data_and_a_working_pipeline_shows_in_them(stack: dict) -> None:
    prometheus: Prometheus = stack["prometheus"]
    end = time.time()
    empty, busy = [], set()
    for title, expr in dashboard_targets():
        result = prometheus.query_range(resolve(expr), stack["started"], end)
        samples = [float(v) for series in result for _, v in series["values"]]
        if not samples:
            empty.append(f"{title}: {expr}")
        if any(v > 0 for v in samples if v == v):
            busy.add(title)
    assert not empty, "panels without data:\n" + "\n".join(empty)
    assert BUSY_PANELS <= busy, f"panels that stayed at zero: {sorted(BUSY_PANELS - busy)}"


def test_dashboard_variables_list_this_deployment(stack: dict) -> None:
    prometheus: Prometheus = stack["prometheus"]
    variables = {v["name"]: v for v in json.loads(DASHBOARD.read_text())["templating"]["list"]}

    def values(name: str) -> set[str]:
        query = variables[name]["query"]["query"]
        selector, label = re.fullmatch(r"label_values\((.*), (\w+)\)", query).groups()
        series = prometheus.api("series", **{"match[]": resolve(selector), "start": str(stack["started"])})
        return {s[label] for s in series if label in s}

    assert values("namespace") == {NAMESPACE} and values("release") == {RELEASE}
    assert vhost() in values("vhost")
    assert set(PROCESSORS) <= values("processor")
