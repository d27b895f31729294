"""Secret references in configuration values: ``${env:NAME}`` and ``${file:/path}``.

``${env:NAME}`` is the environment variable ``NAME``; ``${file:PATH}`` the content of the file
(a mounted Kubernetes Secret), without surrounding whitespace.  ``$${`` writes a literal
``${``.  Error messages about a reference name the variable or file, never its value.
Plugins register what they resolve with :func:`alcyon.logs.add_secret` so logs mask it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Mapping

from .errors import ConfigError

_REFERENCE = re.compile(r"\$\$\{|\$\{(?P<kind>[a-z]+):(?P<name>[^}]*)\}")


def resolve_references(value: str, where: str, env: Mapping[str, str] | None = None) -> tuple[str, list[str]]:
    """``value`` with its references replaced, and the secret parts that were substituted.

    Raises :class:`ConfigError` naming ``where`` and the missing variable or file.
    """
    env = os.environ if env is None else env
    secrets: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        kind, name = match["kind"], match["name"].strip()
        if kind == "env":
            if name not in env:
                raise ConfigError(f"{where}: environment variable {name} (referenced as ${{env:{name}}}) is not set")
            secret = env[name]
        elif kind == "file":
            try:
                secret = Path(name).read_text().strip()
            except OSError as exc:
                raise ConfigError(f"{where}: cannot read secret file {name} (referenced as ${{file:{name}}}): "
                                  f"{exc.strerror or exc}") from None
        else:
            raise ConfigError(f"{where}: unknown reference ${{{kind}:...}}; use ${{env:NAME}} or ${{file:/path}} "
                              "(and $${ for a literal ${)")
        if not secret:
            raise ConfigError(f"{where}: ${{{kind}:{name}}} is empty")
        secrets.append(secret)
        return secret

    resolved = _REFERENCE.sub(substitute, value)
    return resolved, secrets
