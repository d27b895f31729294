"""deploy/grafana/alcyon.json: a provisionable dashboard whose every query parses and names real metrics."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import promql_parser
import pytest
import yaml

from .conftest import DEPLOY
from .metric_names import exposed_names, grafana_to_promql, selected_metrics

pytestmark = pytest.mark.chart

DASHBOARD = DEPLOY / "grafana" / "alcyon.json"
#: Series from elsewhere than alcyon's processes (Prometheus itself, RabbitMQ's plugin); the live test
#: (test_live_prometheus.py) finds every one of them in real scrapes.
EXTERNAL = {"up", "rabbitmq_queue_messages_ready", "rabbitmq_queue_messages", "rabbitmq_queue_consumers",
            "rabbitmq_queue_messages_unacked", "rabbitmq_alarms_memory_used_watermark",
            "rabbitmq_alarms_free_disk_space_watermark", "rabbitmq_alarms_file_descriptor_limit"}


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def targets(dashboard: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            yield panel["title"], target


def test_identity(dashboard: dict) -> None:
    assert dashboard["uid"] == "alcyon-overview" and dashboard["title"] == "alcyon"
    assert "id" not in dashboard, "a provisioned dashboard must not carry a database id"


def test_datasource_is_a_variable(dashboard: dict) -> None:
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for panel in panels(dashboard):
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
    for _, target in targets(dashboard):
        assert target["datasource"]["uid"] == "${datasource}"
    assert variables["processor"]["datasource"]["uid"] == "${datasource}"


def test_every_query_parses_as_promql(dashboard: dict) -> None:
    queries = [(title, t["expr"]) for title, t in targets(dashboard)]
    variables = [v for v in dashboard["templating"]["list"] if v["type"] == "query"]
    queries += [(v["name"], v["query"]["query"].removeprefix("label_values(").rsplit(",", 1)[0])
                for v in variables]
    assert len(queries) > 20
    for title, expr in queries:
        try:
            promql_parser.parse(grafana_to_promql(expr))
        except ValueError as exc:
            pytest.fail(f"panel {title!r}: {exc}: {expr}")


def test_queries_name_real_metrics(dashboard: dict) -> None:
    exposed = exposed_names()
    used = set()
    for title, target in targets(dashboard):
        for name in selected_metrics(grafana_to_promql(target["expr"])):
            assert name in exposed or name in EXTERNAL, f"panel {title!r}: unknown metric {name}"
            used.add(name)
    # RED per processor, lag, batches, dead letters, unrouted, rejects, saturation, sources, plugins
    assert {"alcyon_events_processed_total", "alcyon_events_failed_total", "alcyon_handler_duration_seconds_bucket",
            "alcyon_event_lag_seconds_bucket", "alcyon_handled_batch_events_bucket",
            "alcyon_published_batch_events_sum", "alcyon_dead_letters_total", "alcyon_unrouted_messages",
            "alcyon_messages_rejected_total", "dramatiq_messages_inprogress", "alcyon_worker_threads",
            "process_cpu_seconds_total", "process_resident_memory_bytes", "alcyon_source_events_total",
            "alcyon_ais_decoded_total", "alcyon_ais_rejected_total", "alcyon_geofence_positions_checked_total",
            "alcyon_geofence_alerts_total", "alcyon_geofence_vessels_inside", "alcyon_geofence_zones",
            "alcyon_notify_deliveries_total", "alcyon_notify_delivery_duration_seconds_bucket"} <= used
    from .metric_names import NOT_EXPORTED

    assert not used & NOT_EXPORTED, "dramatiq series that lie on alcyon's brokers"


def test_namespace_release_and_vhost_filters(dashboard: dict) -> None:
    """Staging and production in one Prometheus do not add up: every query filters on them."""
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    for name in ("namespace", "release", "vhost"):
        assert variables[name]["type"] == "query" and variables[name]["allValue"] == ".*", name
        assert variables[name]["datasource"]["uid"] == "${datasource}"
    for title, target in targets(dashboard):
        names = selected_metrics(grafana_to_promql(target["expr"]))
        if any(n.startswith("rabbitmq_queue_") for n in names):
            assert 'vhost=~"$vhost"' in target["expr"], title
        if any(n.startswith(("alcyon_", "dramatiq_", "process_")) or n == "up" for n in names):
            assert 'namespace=~"$namespace", release=~"$release"' in target["expr"], title


def test_rows_in_order(dashboard: dict) -> None:
    rows = [p["title"] for p in dashboard["panels"] if p["type"] == "row"]
    assert rows[:2] == ["Overview", "Alerts and failures"], "alerts high on the page"
    assert {"Worker saturation", "RabbitMQ", "Sources", "Maritime: AIS and geofence", "Notify"} <= set(rows)
    assert rows.index("Maritime: AIS and geofence") > rows.index("Sources"), "plugin rows after the core ones"


def test_quantiles_come_from_histogram_buckets(dashboard: dict) -> None:
    for title, target in targets(dashboard):
        if "histogram_quantile" in target["expr"]:
            assert "_bucket" in target["expr"] and "le" in target["expr"], title


def test_layout(dashboard: dict) -> None:
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    cells: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        g = panel["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24, panel["title"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"panel {panel['title']!r} overlaps another"
                cells.add((x, y))
    for panel in panels(dashboard):
        for i, target in enumerate(panel.get("targets", [])):
            assert target["refId"] == chr(65 + i)


def test_grafana_provisioning_files() -> None:
    provisioning = DEPLOY / "grafana" / "provisioning"
    datasources = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())
    (ds,) = datasources["datasources"]
    assert ds["type"] == "prometheus" and ds["url"] == "http://prometheus:9090"
    providers = yaml.safe_load((provisioning / "dashboards" / "alcyon.yaml").read_text())
    assert providers["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
