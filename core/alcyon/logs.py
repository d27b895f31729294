"""JSON logs with structlog, the standard library's loggers (dramatiq, pika) rendered the same way.

Per-event context (event id, type, subject, processor) is bound with
:func:`structlog.contextvars.bound_contextvars` around each handler call, so every line a
handler logs carries it.  Every line passes through :func:`redact_url`: a credential in a
URL never reaches the output, whoever logged it, and no value is longer than
:data:`MAX_VALUE_CHARS`.

The format fits the reader: on a terminal, human-readable lines from warning up; JSON at
info otherwise (pods, CI, files).  A warning identical to one said in the last minute is not
said again; the next time it is said, it carries how many repeats were held back.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Any, Protocol

import structlog
from structlog.typing import EventDict

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


class _SayOnce(logging.Filter):
    """Warnings (or worse) identical to one said within ``window_s`` are held back.

    Identical means the same logger, level, event and fields.  When it is said again after the
    window, it carries ``repeated``: how many were held back.  At most ``keep`` lines are
    remembered (the oldest are forgotten first).  A structlog processor for alcyon's lines and
    a :class:`logging.Filter` for the standard library's.
    """

    def __init__(self, window_s: float = 60.0, keep: int = 4096) -> None:
        super().__init__()
        self.window_s, self.keep = window_s, keep
        self._said: dict[tuple[Any, ...], list[float]] = {}  # key -> [last said at, held back]
        self._lock = threading.Lock()

    def _held_back(self, key: tuple[Any, ...]) -> int | None:
        """None to hold this line back, else how many identical lines were held back before it."""
        now = _clock()
        with self._lock:
            seen = self._said.pop(key, None)
            if seen is not None and now - seen[0] < self.window_s:
                seen[1] += 1
                self._said[key] = seen
                return None
            if len(self._said) >= self.keep:
                del self._said[next(iter(self._said))]
            self._said[key] = [now, 0]
            return int(seen[1]) if seen is not None else 0

    def __call__(self, logger: Any, method: str, event_dict: EventDict) -> EventDict:
        if event_dict.get("level") not in ("warning", "error", "critical"):
            return event_dict
        repeated = self._held_back(tuple(sorted((k, repr(v)) for k, v in event_dict.items())))
        if repeated is None:
            raise structlog.DropEvent
        if repeated:
            event_dict["repeated"] = repeated
        return event_dict

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        repeated = self._held_back((record.name, record.levelno, record.getMessage()))
        if repeated:
            record.repeated = repeated
        return repeated is not None


_clock = time.monotonic
_for_humans = False


def for_humans() -> bool:
    """Whether logs go to a person (console format) rather than to a machine (JSON)."""
    return _for_humans


class LogStream(Protocol):
    """Where log lines go: a text stream, or anything with its ``write`` and ``flush``."""

    def write(self, text: str, /) -> object: ...

    def flush(self) -> object: ...


def configure_logging(level: str = "auto", fmt: str = "auto", stream: LogStream | None = None) -> None:
    """Configure structlog and the standard library's root logger.

    ``fmt`` is ``json`` (one object per line), ``console`` (for people) or ``auto``: console
    when ``stream`` is a terminal.  ``level`` ``auto`` is warning on a terminal, info otherwise.
    alcyon's own lines go straight from structlog to the stream (a third of the cost of passing
    through the standard library); dramatiq's and pika's go through a root handler that renders
    them with the same processors.
    """
    global _for_humans
    stream = stream or _Stderr()
    tty = _isatty(stream)
    fmt = ("console" if tty else "json") if fmt == "auto" else fmt
    level = ("warning" if tty else "info") if level == "auto" else level
    _for_humans = fmt == "console"
    say_once = _SayOnce()
    shared: list[Any] = [structlog.contextvars.merge_contextvars, structlog.processors.add_log_level]
    stamped: list[Any] = [structlog.processors.TimeStamper(fmt="iso", utc=True),
                          structlog.processors.format_exc_info, _redact]
    renderer: Any = (structlog.processors.JSONRenderer() if fmt == "json"
                     else structlog.dev.ConsoleRenderer(colors=tty))
    structlog.configure(
        processors=[_add_logger_name, *shared, say_once, *stamped, renderer],
        logger_factory=lambda name=None, *_: _NamedWriteLogger(stream, name),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        # not cached: a later configure_logging (another stream or level) applies to every logger
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), structlog.stdlib.add_logger_name, *shared, *stamped],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    ))
    handler.addFilter(say_once)
    handler.addFilter(_harmless_dramatiq_warning)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # pika is chatty at INFO about every connection step.
    logging.getLogger("pika").setLevel(max(logging.WARNING, root.level))


def _harmless_dramatiq_warning(record: logging.LogRecord) -> bool:
    """Drop dramatiq's "adding a middleware of the same type twice: ..._WorkerMiddleware" warning.

    Every :class:`dramatiq.Worker` adds its own ``_WorkerMiddleware`` to the broker (it tells that
    worker about delays and acks); alcyon starts several workers on one broker (the concurrent
    pool, one per ordered processor), so the second one onwards triggers the warning although
    each middleware serves its own worker.  Only that exact message is dropped.
    """
    return not (record.name.startswith("dramatiq.broker") and isinstance(record.msg, str)
                and record.msg.startswith("You're adding a middleware of the same type twice")
                and "_WorkerMiddleware" in record.getMessage())


def _isatty(stream: Any) -> bool:  # any stream: one without isatty is no terminal
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def get_logger(name: str, **context: Any) -> Any:
    """A lazy logger: it takes the configuration in force when it logs, not when it is created."""
    return structlog.get_logger(name, **context)


class _Stderr:
    """Whatever ``sys.stderr`` is when a line is written (pytest swaps it between tests)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


class _NamedWriteLogger(structlog.WriteLogger):
    def __init__(self, file: LogStream, name: str | None) -> None:
        super().__init__(file)  # type: ignore[arg-type]  # structlog says TextIO; it only calls write and flush
        self.name = name


def _add_logger_name(logger: Any, _: str, event_dict: EventDict) -> EventDict:
    name = getattr(logger, "name", None)
    if name is not None:
        event_dict.setdefault("logger", name)
    return event_dict

