"""deploy/prometheus: the alert rules pass promtool's checks and unit tests, and name real metrics."""

from __future__ import annotations

import re
import shlex
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
            # RabbitMQ's rabbitmq_prometheus plugin (/metrics/per-object, and /metrics for the alarms);
            # tests/deploy/test_live_prometheus.py checks them against a live RabbitMQ
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


def readme_anchors() -> set[str]:
    """GitHub's anchors of deploy/README.md's headings (lower case, spaces to '-', punctuation dropped)."""
    anchors = set()
    for line in (DEPLOY / "README.md").read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^a-z0-9 _-]", "", title).replace(" ", "-"))
    return anchors


def test_every_alert_has_a_runbook_section() -> None:
    anchors = readme_anchors()
    for rule in rules():
        url = rule["annotations"]["runbook_url"]
        page, _, anchor = url.partition("#")
        assert page == "https://github.com/alcyon-project/alcyon/blob/main/deploy/README.md", rule["alert"]
        assert anchor == rule["alert"].lower() and anchor in anchors, f"{rule['alert']}: no section {anchor}"


def test_runbook_commands_are_real_commands() -> None:
    """Every `alcyon ...` command of the runbook and of the alert texts parses with alcyon's own CLI."""
    from alcyon.cli import build_parser
    from alcyon.config import load_config
    from alcyon.plugins import PluginHost

    host = PluginHost(load_config(env={})).load_entry_points()
    parser = build_parser(host)
    section = (DEPLOY / "README.md").read_text().split("## Alert runbook", 1)[1]
    texts = [section] + [r["annotations"]["description"] for r in rules()]
    commands = [c for text in texts for c in re.findall(r"`(alcyon [^`]+)`", text)]
    assert len(commands) >= 5
    names = {"PROCESSOR": "notify", "SOURCE": "ais", "ID": "0", "{{ $labels.processor }}": "notify"}
    for command in commands:
        for placeholder, value in names.items():
            command = command.replace(placeholder, value)
        try:
            parser.parse_args(shlex.split(command)[1:])
        except SystemExit:
            pytest.fail(f"the runbook's `{command}` is not a valid alcyon command")


def test_compose_prometheus_config(promtool_bin: str) -> None:
    """The local stack's prometheus.yml is valid and loads alerts.yaml (both mounted in /etc/prometheus)."""
    result = promtool(promtool_bin, "check", "config", "prometheus.yml", cwd=RULES.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load((RULES.parent / "prometheus.yml").read_text())
    assert config["rule_files"] == ["alerts.yaml"]
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    assert jobs["rabbitmq"]["metrics_path"] == "/metrics/per-object"
    assert jobs["rabbitmq-node"]["metrics_path"] == "/metrics", "rabbitmq_alarms_* are only there"
    assert "alcyon" in jobs
