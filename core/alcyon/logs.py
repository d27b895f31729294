"""JSON logs with structlog, the standard library's loggers (dramatiq, pika) rendered the same way.

Per-event context (event id, type, subject, processor) is bound with
:func:`structlog.contextvars.bound_contextvars` around each handler call, so every line a
handler logs carries it.  Every line passes through :func:`redact_url`: a credential in a
URL never reaches the output, whoever logged it.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog

from .redact import redact_text

_secrets: list[str] = []


def add_secret(value: str) -> None:
    """Register a secret value (a password, a token) to be masked in every log line."""
    if value and value not in _secrets:
        _secrets.append(value)


def redact(text: str) -> str:
    """``text`` with URL credentials and every registered secret masked."""
    return redact_text(text, _secrets)


def _redact(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key, value in event_dict.items():
        if isinstance(value, str):
            event_dict[key] = redact(value)
    return event_dict


def configure_logging(level: str = "info", fmt: str = "json", stream: TextIO | None = None) -> None:
    """Configure structlog and the standard library's root logger to write one JSON object per line."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        _redact,
    ]
    renderer: Any = (structlog.processors.JSONRenderer() if fmt == "json"
                     else structlog.dev.ConsoleRenderer(colors=False))
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, *shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # pika is chatty at INFO about every connection step.
    logging.getLogger("pika").setLevel(max(logging.WARNING, root.level))


def get_logger(name: str, **context: Any) -> Any:
    """A lazy logger: it takes the configuration in force when it first logs, not when it is created."""
    return structlog.get_logger(name, **context)
