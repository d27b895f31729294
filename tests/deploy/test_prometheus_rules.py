"""deploy/prometheus: the alert rules pass promtool's checks and unit tests, and name real metrics."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from .conftest import DEPLOY
from .metric_names import exposed_names, selected_metrics

pytestmark = pytest.mark.chart

RULES = DEPLOY / "prometheus" / "alerts.yaml"
RULE_TESTS = DEPLOY / "prometheus" / "alerts.test.yaml"

#: Series that come from elsewhere than alcyon's workers.
EXTERNAL = {"up",  # Prometheus, per scrape target
            # RabbitMQ's rabbitmq_prometheus plugin (/metrics/per-object)
            "rabbitmq_queue_messages_ready", "rabbitmq_queue_messages", "rabbitmq_queue_consumers",
            "rabbitmq_alarms_memory_used_watermark", "rabbitmq_alarms_free_disk_space_watermark",
            "rabbitmq_alarms_file_descriptor_limit"}


def promtool(binary: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([binary, *args], check=False, capture_output=True, text=True, cwd=cwd, timeout=120)


def rules() -> list[dict]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


def test_promtool_check_rules(promtool_bin: str) -> None:
    result = promtool(promtool_bin, "check", "rules", RULES.name, cwd=RULES.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


def test_promtool_unit_tests(promtool_bin: str) -> None:
    result = promtool(promtool_bin, "test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_is_unit_tested() -> None:
    tested = {t["alertname"] for case in yaml.safe_load(RULE_TESTS.read_text())["tests"]
              for t in case.get("alert_rule_test", []) if t.get("exp_alerts")}
    assert {r["alert"] for r in rules()} == tested


def test_rules_name_real_metrics() -> None:
    exposed = exposed_names()
    for rule in rules():
        for name in selected_metrics(rule["expr"]):
            assert name in exposed or name in EXTERNAL, f"{rule['alert']}: unknown metric {name}"


def test_rules_have_severity_and_text() -> None:
    for rule in rules():
        assert rule["labels"]["severity"] in ("info", "warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]


def test_compose_prometheus_config(promtool_bin: str) -> None:
    """The local stack's prometheus.yml is valid and loads alerts.yaml (both mounted in /etc/prometheus)."""
    result = promtool(promtool_bin, "check", "config", "prometheus.yml", cwd=RULES.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load((RULES.parent / "prometheus.yml").read_text())
    assert config["rule_files"] == ["alerts.yaml"]
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    assert jobs["rabbitmq"]["metrics_path"] == "/metrics/per-object"
    assert "alcyon" in jobs
