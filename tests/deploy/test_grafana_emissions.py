"""deploy/grafana/alcyon-emissions.json: PromQL that parses and names real metrics, SQL that runs on the archive."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any

import promql_parser
import pytest

from alcyon import Event

from .conftest import DEPLOY
from .metric_names import exposed_names, grafana_to_promql, selected_metrics

pytestmark = pytest.mark.chart

DASHBOARD = DEPLOY / "grafana" / "alcyon-emissions.json"


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def targets(dashboard: dict[str, Any], kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [(p["title"], t) for p in dashboard["panels"] for t in p["targets"] if t["datasource"]["type"] == kind]


def test_identity_and_datasources(dashboard: dict) -> None:
    assert dashboard["uid"] == "alcyon-emissions" and "id" not in dashboard
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["archive"]["query"] == "grafana-postgresql-datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for panel in dashboard["panels"]:
        uids = {"prometheus": "${datasource}", "grafana-postgresql-datasource": "${archive}"}
        uid = uids[panel["datasource"]["type"]]
        assert panel["datasource"]["uid"] == uid
        assert all(t["datasource"] == panel["datasource"] for t in panel["targets"])
    assert len(targets(dashboard, "grafana-postgresql-datasource")) >= 2


def test_promql_parses_and_names_real_metrics(dashboard: dict) -> None:
    exposed = exposed_names()
    used = set()
    for title, target in targets(dashboard, "prometheus"):
        expr = grafana_to_promql(target["expr"])
        promql_parser.parse(expr)
        for name in selected_metrics(expr):
            assert name in exposed, f"panel {title!r}: unknown metric {name}"
            used.add(name)
    assert {"alcyon_emissions_power_watts", "alcyon_emissions_co2e_grams_total",
            "alcyon_emissions_intensity_grams_per_kwh"} <= used


def expand_macros(sql: str, start: datetime, end: datetime) -> str:
    """Grafana's PostgreSQL macros, as Grafana expands them (for the columns used here)."""
    sql = re.sub(r"\$__timeGroupAlias\((\w+), 1h\)", r"date_trunc('hour', \1) AS time", sql)
    return re.sub(r"\$__timeFilter\((\w+)\)", rf"\1 BETWEEN '{start.isoformat()}' AND '{end.isoformat()}'", sql)


@pytest.mark.postgres
def test_archive_queries_run_on_postgresql(dashboard: dict, postgres_url: str) -> None:
    from alcyon_archive.store import open_archive

    archive = open_archive(postgres_url)
    archive.migrate()
    t = datetime(2026, 1, 15, tzinfo=timezone.utc).timestamp()

    def rec(i: int, device: str, site: str, energy: float, grams: float) -> Event:
        data = {"device": device, "site": site, "zone": "FR", "start": t + i * 10, "end": t + i * 10 + 10,
                "energy_j": energy, "co2e_g": grams, "pue": 1.0, "g_per_kwh": 56.0, "basis": "lifecycle; x; 2023",
                "method": "counter"}
        return Event("emissions.record", "t", device, data, id=f"r{i}")

    gap = Event("emissions.gap", "t", "plug", {"device": "plug", "site": "home", "zone": "FR", "start": t,
                                                "end": t + 100, "seconds": 100, "max_gap_s": 60}, id="g1")
    archive.insert([rec(0, "srv", "par-2", 3.6e6, 56.0), rec(1, "srv", "par-2", 1.8e6, 28.0),
                    rec(2, "plug", "home", 3600.0, 0.5), gap])
    window = (datetime(2026, 1, 14, tzinfo=timezone.utc), datetime(2026, 1, 16, tzinfo=timezone.utc))
    results = {title: archive._query(expand_macros(t["rawSql"], *window), [])
               for title, t in targets(dashboard, "grafana-postgresql-datasource")}
    archive.close()
    per_hour = results["CO2e per site (g per hour, archive)"]
    assert sorted((site, grams) for _, site, grams in per_hour) == [("home", 0.5), ("par-2", 84.0)]
    table = results["Energy and CO2e per device (archive)"]
    assert table == [("srv", "par-2", "FR", 1.5, 84.0, 0, "lifecycle; x; 2023"),
                     ("plug", "home", "FR", 0.001, 0.5, 1, "lifecycle; x; 2023")]
