"""`alcyon new-plugin` makes a project whose own tests pass out of the box."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from alcyon import ConfigError
from alcyon.cli import main
from alcyon.plugin_template import create_plugin


def test_the_generated_plugin_passes_its_own_tests(tmp_path, capsys):
    directory = tmp_path / "alcyon-heat"
    assert main(["new-plugin", "heat", str(directory)]) == 0
    assert "created 5 files" in capsys.readouterr().out
    assert '[project.entry-points."alcyon.plugins"]\nheat = "alcyon_heat.plugin"' in \
        (directory / "pyproject.toml").read_text()
    # run its tests as its author would (without installing it: on its own path)
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                            cwd=directory, env={**os.environ, "PYTHONPATH": str(directory)},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    assert 'name="heat"' in (directory / "alcyon_heat" / "plugin.py").read_text(), "processor named like the plugin"
    assert "rabbitmq: needs RabbitMQ" in (directory / "pyproject.toml").read_text()


def test_the_generated_stateful_plugin_passes_its_own_embedded_tests(tmp_path, capsys):
    directory = tmp_path / "alcyon-power-budget"
    assert main(["new-plugin", "--stateful", "power_budget", str(directory)]) == 0
    source = (directory / "alcyon_power_budget" / "plugin.py").read_text()
    assert "stateful=True" in source and "ctx.state.apply" in source
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not rabbitmq",
                             "tests"], cwd=directory, env={**os.environ, "PYTHONPATH": str(directory)},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed, 1 deselected" in result.stdout


@pytest.mark.parametrize("name", ["Heat", "9lives", "class", "a-b"])
def test_bad_plugin_names_are_refused(tmp_path, name):
    with pytest.raises(ConfigError, match="lower-case letters"):
        create_plugin(name, tmp_path / "x")


def test_an_existing_directory_is_not_overwritten(tmp_path):
    with pytest.raises(ConfigError, match="already exists"):
        create_plugin("heat", tmp_path)
