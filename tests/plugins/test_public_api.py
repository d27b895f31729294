"""First-party plugins are ordinary plugins: they import only what ``alcyon`` exports to every author."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import alcyon

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
SOURCES = sorted(PLUGINS.glob("*/alcyon_*/**/*.py"))


def private_imports(path: Path) -> list[str]:
    """Every import in ``path`` that reaches past ``alcyon.__all__``, as 'line: what'."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("alcyon."):
                found.append(f"{node.lineno}: from {node.module} import ...")
            elif node.module == "alcyon":
                found += [f"{node.lineno}: alcyon.{a.name}" for a in node.names if a.name not in alcyon.__all__]
        elif isinstance(node, ast.Import):
            found += [f"{node.lineno}: import {a.name}" for a in node.names if a.name.startswith("alcyon.")]
    return found


def test_there_are_first_party_plugins_to_check():
    assert {p.parts[-3] for p in SOURCES} >= {"geofence", "notify"}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PLUGINS)))
def test_first_party_plugins_import_only_the_public_api(path):
    assert private_imports(path) == [], f"{path.relative_to(PLUGINS)} uses internals: export them from alcyon"


def test_every_public_name_is_importable_and_documented():
    for name in alcyon.__all__:
        value = getattr(alcyon, name)
        if callable(value):
            assert (value.__doc__ or "").strip(), f"alcyon.{name} has no docstring"


def test_the_check_catches_a_private_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from alcyon.state import RedisStateStore\nimport alcyon.logs\nfrom alcyon import _secrets\n")
    assert private_imports(bad) == ["1: from alcyon.state import ...", "2: import alcyon.logs", "3: alcyon._secrets"]
