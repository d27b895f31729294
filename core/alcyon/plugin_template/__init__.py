"""``alcyon new-plugin``: a plugin project that passes its own tests out of the box.

The files below are templates (``string.Template``: ``$name``, ``$module``).
The generated project registers its plugin through the ``alcyon.plugins`` entry point, has
one processor named like the plugin, and tests it with the ``alcyon_harness`` fixture: a
threshold over readings (stateless) or, with ``stateful=True``, an energy budget over a rolling
window in keyed state, tested on the embedded broker and on RabbitMQ + Redis.
"""

from __future__ import annotations

import keyword
import re
import string
from pathlib import Path

from ..errors import ConfigError

FILES = {
    "pyproject.toml": "pyproject.toml.tmpl",
    "README.md": "README.md.tmpl",
    "$module/__init__.py": "init.py.tmpl",
    "$module/plugin.py": "plugin.py.tmpl",
    "tests/test_plugin.py": "test_plugin.py.tmpl",
}
#: What ``stateful=True`` writes instead.
STATEFUL = {"README.md": "README_stateful.md.tmpl", "$module/plugin.py": "plugin_stateful.py.tmpl",
            "tests/test_plugin.py": "test_plugin_stateful.py.tmpl"}


def create_plugin(name: str, directory: Path, *, stateful: bool = False) -> list[Path]:
    """Write the project of plugin ``name`` into ``directory`` (which must not exist); returns its files."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or keyword.iskeyword(name):
        raise ConfigError(f"plugin name {name!r}: use lower-case letters, digits and '_', starting with a letter "
                          "(it is also the processor name, and part of the module name)")
    if directory.exists():
        raise ConfigError(f"{directory} already exists: choose a new directory")
    values = {"name": name, "name_upper": name.upper(), "module": f"alcyon_{name}"}
    here = Path(__file__).parent
    written = []
    for target, source in {**FILES, **(STATEFUL if stateful else {})}.items():
        path = directory / string.Template(target).substitute(values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(string.Template((here / source).read_text()).substitute(values))
        written.append(path)
    return written
