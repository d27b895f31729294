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

import re

from alcyon import resolve_references as resolve  # noqa: F401  (re-exported: settings uses it)
from alcyon.logs import add_secret

_SENSITIVE_HEADER = re.compile(r"authorization|cookie|token|secret|password|passwd|api[-_]?key|signature|"
                               r"^x-.*-key$", re.IGNORECASE)


def is_sensitive_header(name: str) -> bool:
    """Whether a header's value is a credential even when written literally in the configuration."""
    return bool(_SENSITIVE_HEADER.search(name))


def register(secrets: list[str]) -> None:
    """Mask these values in every log line of this process."""
    for secret in secrets:
        add_secret(secret)
