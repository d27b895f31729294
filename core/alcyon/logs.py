"""JSON logs with structlog, the standard library's loggers (dramatiq, pika) rendered the same way.

Per-event context (event id, type, subject, processor) is bound with
:func:`structlog.contextvars.bound_contextvars` around each handler call, so every line a
handler logs carries it.  Every line passes through :func:`redact_url`: a credential in a
URL never reaches the output, whoever logged it, and no value is longer than
:data:`MAX_VALUE_CHARS`.
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


#: No log value is longer: dramatiq logs a failed message with its arguments (a batch of 500
#: events made 175 KB lines). The head and the tail are kept, the middle is counted.
MAX_VALUE_CHARS = 4000


def bound(text: str, limit: int = MAX_VALUE_CHARS) -> str:
    """``text`` cut to about ``limit`` characters, saying how many were left out."""
    if len(text) <= limit:
        return text
    head, tail = limit * 3 // 4, limit // 4
    return f"{text[:head]}...[{len(text) - head - tail} chars left out]...{text[-tail:]}"


def _redact(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key, value in event_dict.items():
        if isinstance(value, str):
            event_dict[key] = redact(bound(value))
    return event_dict


def configure_logging(level: str = "info", fmt: str = "json", stream: TextIO | None = None) -> None:
    """Configure structlog and the standard library's root logger to write one JSON object per line.

    alcyon's own lines go straight from structlog to the stream (a third of the cost of passing
    through the standard library); dramatiq's and pika's go through a root handler that renders
    them with the same processors.
    """
    stream = stream or sys.stderr
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        _redact,
    ]
    renderer: Any = (structlog.processors.JSONRenderer() if fmt == "json"
                     else structlog.dev.ConsoleRenderer(colors=False))
    structlog.configure(
        processors=[_add_logger_name, *shared, renderer],
        logger_factory=lambda name=None, *_: _NamedWriteLogger(stream, name),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        # not cached: a later configure_logging (another stream or level) applies to every logger
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), structlog.stdlib.add_logger_name, *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # pika is chatty at INFO about every connection step.
    logging.getLogger("pika").setLevel(max(logging.WARNING, root.level))


def get_logger(name: str, **context: Any) -> Any:
    """A lazy logger: it takes the configuration in force when it logs, not when it is created."""
    return structlog.get_logger(name, **context)


class _NamedWriteLogger(structlog.WriteLogger):
    def __init__(self, file: TextIO, name: str | None) -> None:
        super().__init__(file)
        self.name = name


def _add_logger_name(logger: Any, _: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    name = getattr(logger, "name", None)
    if name is not None:
        event_dict.setdefault("logger", name)
    return event_dict

