"""The wheel installs in a clean venv with every module importable and the CLI on PATH."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow

IMPORT_ALL = """
import importlib, pkgutil, sys
names = sys.argv[1:]
for name in names:
    package = importlib.import_module(name)
    for module in pkgutil.walk_packages(package.__path__, name + "."):
        importlib.import_module(module.name)
print("imported", len(names), "packages")
"""


def run(*cmd: str, cwd: Path | None = None) -> str:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_wheel_installs_in_a_fresh_venv_with_a_working_cli(tmp_path):
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path / "dist"),
        str(ROOT))
    [wheel] = (tmp_path / "dist").glob("alcyon-*.whl")
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", str(venv))
    run(str(venv / "bin" / "pip"), "install", "-q", f"{wheel}[all]")
    # outside the source tree, so only the installed copy can be imported
    packages = run(str(venv / "bin" / "python"), "-c",
                   "from importlib.metadata import distribution; import json; "
                   "print(' '.join(sorted({p.parts[0] for p in distribution('alcyon').files "
                   "if p.suffix == '.py' and len(p.parts) > 1 and p.parts[1] == '__init__.py'})))",
                   cwd=tmp_path).split()
    assert "alcyon" in packages and "alcyon_workers" in packages
    assert "imported" in run(str(venv / "bin" / "python"), "-c", IMPORT_ALL, *packages, cwd=tmp_path)
    assert "usage: alcyon" in run(str(venv / "bin" / "alcyon"), "--help", cwd=tmp_path)
    listing = run(str(venv / "bin" / "alcyon"), "plugins", cwd=tmp_path)
    for plugin in sorted(p for p in packages if p.startswith("alcyon_") and p != "alcyon_workers"):
        assert plugin.removeprefix("alcyon_") in listing
