"""Command output on stdout (parseable), logs on stderr, option help shown, plugins named either way."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def alcyon(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "alcyon.cli", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "ALCYON_BROKER_URL": "", **env})


def test_plugins_json_is_valid_json_with_option_help_and_logs_go_to_stderr():
    result = alcyon("plugins", "--json")
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert {"geofence", "notify"} <= set(plugins)
    zones = next(o for o in plugins["geofence"]["options"] if o["name"] == "zones")
    assert zones["type"] == ["str"] and "GeoJSON" in zones["help"]
    assert "zones_loaded" in result.stderr or result.stderr == ""  # log lines, if any, never on stdout


def test_config_check_shows_each_plugin_option_with_its_value_and_help():
    result = alcyon("config", "check", ALCYON_GEOFENCE__GAP_MINUTES="45")
    assert result.returncode == 0, result.stderr
    [line] = [text for text in result.stdout.splitlines() if text.strip().startswith("gap_minutes")]
    assert "= 45 " in line and "default 30" in line and "minutes without a position that make an AIS gap" in line


def test_worker_processors_may_be_named_by_plugin_or_processor():
    from alcyon import Processor, hookimpl
    from alcyon.cli import processor_names
    from alcyon.config import load_config
    from alcyon.plugins import PluginHost

    class Budget:
        @hookimpl
        def alcyon_processors(self, config):
            return [Processor(name=n, subscribe=("power.sample",), handle=lambda e, ctx: None)
                    for n in ("power-budget", "power-report")]

    host = PluginHost(load_config(env={}))
    host.register(Budget(), "power_budget")
    assert processor_names(host, "power_budget") == ["power-budget", "power-report"]
    assert processor_names(host, "power-report, power_budget") == ["power-report", "power-budget"]
    assert processor_names(host, None) is None
    import pytest

    from alcyon.runtime import Runtime

    with pytest.raises(Exception, match=r"unknown processor\(s\) nope; installed: power-budget, power-report, of "
                                        r"plugin\(s\) power_budget"):
        Runtime(load_config(env={}), host, processors=processor_names(host, "nope"))
