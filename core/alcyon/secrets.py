"""Secret references in configuration values: ``${env:NAME}`` and ``${file:/path}``.

Any plugin may let its users write a secret as a reference instead of a literal, resolved
once when the configuration is read::

    url = "${file:/run/secrets/slack_webhook_url}"
    headers = { Authorization = "Bearer ${env:RANGERS_TOKEN}" }

``${env:NAME}`` is the environment variable ``NAME``; ``${file:PATH}`` the content of the file
(a mounted Kubernetes Secret), without surrounding whitespace.  ``$${`` writes a literal
``${``.  Every resolved value is masked in every log line of the process (see
:func:`mask_secret`).  Error messages about a reference name the variable or file, never its
value.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Mapping

from .errors import ConfigError
from .logs import add_secret

_REFERENCE = re.compile(r"\$\$\{|\$\{(?P<kind>[a-z]+):(?P<name>[^}]*)\}")


def resolve_secrets(value: str, where: str, env: Mapping[str, str] | None = None) -> tuple[str, list[str]]:
    """``value`` with its references replaced, and the secret values that were substituted.

    Each substituted value is masked in every log line from then on.  Raises
    :class:`alcyon.ConfigError` naming ``where`` and the missing variable or file.
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
    for secret in secrets:
        mask_secret(secret)
    return resolved, secrets


def mask_secret(value: str) -> None:
    """Mask ``value`` (a password, a token, a secret URL) in every log line of this process."""
    add_secret(value)
