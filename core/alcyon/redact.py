"""Keep credentials out of logs, errors and reprs."""

from __future__ import annotations

import re

_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^:/@\s]*)(?::(?P<password>[^@/\s]*))?@")


def redact_url(url: str) -> str:
    """``amqp://user:secret@host/`` -> ``amqp://user:***@host/``; text without credentials is unchanged."""
    return _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}{':***' if m['password'] is not None else ''}@", url)


def redact_text(text: str, secrets: "list[str] | tuple[str, ...]" = ()) -> str:
    """Redact URL credentials and every given secret value from ``text``."""
    text = redact_url(text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
