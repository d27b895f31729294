"""Secrets in webhook settings: ``${env:NAME}`` and ``${file:/path}`` references.

A webhook's ``url`` and header values may embed references that are resolved once, when
the configuration is read::

    headers = { Authorization = "Bearer ${env:RANGERS_TOKEN}" }
    url = "${file:/run/secrets/slack_webhook_url}"

``${env:NAME}`` is the environment variable ``NAME``; ``${file:PATH}`` the content of the file
(a mounted Kubernetes Secret), without surrounding whitespace.  ``$${`` writes a literal
``${``.  Every resolved value is registered with :func:`alcyon.logs.add_secret`, so it is
masked in every log line whoever logs it; the values of credential-like headers
(``Authorization``, ``Cookie``, anything naming a token, key, secret, password or
signature) are registered too when written literally.  Error messages about a reference
name the variable or file, never its value.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Mapping

from alcyon.errors import ConfigError
from alcyon.logs import add_secret

_REFERENCE = re.compile(r"\$\$\{|\$\{(?P<kind>[a-z]+):(?P<name>[^}]*)\}")

_SENSITIVE_HEADER = re.compile(r"authorization|cookie|token|secret|password|passwd|api[-_]?key|signature|"
                               r"^x-.*-key$", re.IGNORECASE)


def resolve(value: str, where: str, env: Mapping[str, str] | None = None) -> tuple[str, list[str]]:
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


def is_sensitive_header(name: str) -> bool:
    """Whether a header's value is a credential even when written literally in the configuration."""
    return bool(_SENSITIVE_HEADER.search(name))


def register(secrets: list[str]) -> None:
    """Mask these values in every log line of this process."""
    for secret in secrets:
        add_secret(secret)
