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


@pytest.mark.slow
@pytest.mark.rabbitmq
@pytest.mark.redis
def test_a_generated_stateful_plugin_works_installed_in_a_fresh_venv(tmp_path, broker_url, redis_url):
    """The author's path: new-plugin --stateful, install beside alcyon in a new venv, its tests embedded and on
    RabbitMQ + Redis twice in a row, then listed by `alcyon plugins --json`.

    alcyon's dependencies come from this interpreter's site-packages (a .pth line in the new venv), so only the
    build backend (setuptools, wheel: pip's build isolation) may be fetched; alcyon is built from this checkout.
    """
    import json
    import sysconfig
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    project = tmp_path / "alcyon-power-budget"
    create_plugin("power_budget", project, stateful=True)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    parents = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    Path(site, "alcyon-test-dependencies.pth").write_text("\n".join(parents) + "\n")

    def run(*args: str, cwd: Path = tmp_path, **env: str) -> subprocess.CompletedProcess:
        result = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=300,
                                env={**os.environ, "PYTHONPATH": "", "VIRTUAL_ENV": str(venv), **env})
        assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
        return result

    pip = [str(python), "-m", "pip", "install", "-q", "--no-deps"]
    run(*pip, str(root))
    run(*pip, str(project))
    located = run(str(python), "-c", "import alcyon, alcyon_power_budget; print(alcyon.__file__); "
                                     "print(alcyon_power_budget.__file__)").stdout.split()
    assert all(path.startswith(str(venv)) for path in located), located  # installed, not from the checkout

    env = {"ALCYON_TEST_BROKER_URL": broker_url, "ALCYON_TEST_REDIS_URL": redis_url}
    for _ in range(2):  # twice in a row: the second run must not trip on the first one's state or queues
        result = run(str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=project, **env)
        assert "3 passed" in result.stdout, result.stdout
    listed = json.loads(run(str(venv / "bin" / "alcyon"), "plugins", "--json", ALCYON_BROKER_URL="").stdout)
    [plugin] = [p for p in listed if p["name"] == "power_budget"]
    assert plugin["version"] == "0.1.0"
    assert plugin["processors"] == [{"name": "power_budget", "subscribe": ["demo.energy"],
                                     "queue": "alcyon.power_budget", "batch": False, "stateful": True}]
    assert {o["name"] for o in plugin["options"]} == {"window_s", "budget_j"}
