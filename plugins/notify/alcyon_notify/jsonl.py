"""The JSON-lines sink: every alert appended as one line to a local file.

The embedded default (``alerts.jsonl`` in the working directory): with no webhook
configured, ``alcyon run`` still leaves a readable record of every alert.  Each line is the
alert's CloudEvents JSON (:mod:`alcyon_notify.payload`, bytes as a digest by default), so
``jq``, pandas or ``alcyon publish`` can read it back.

Each alert is written with a single ``write(2)`` on a descriptor opened with ``O_APPEND``:
several worker threads or processes can share the file without interleaving lines (local
file systems; not NFS).  The file is reopened for each alert, so rotating it (``logrotate``
without ``copytruncate``) needs no signal, and ``fsync`` (on by default) makes the line
durable before the input is acknowledged.  Deduplication is the ledger's: a redelivered
alert is not appended twice (unless the worker died between the write and the ledger
update; the ``id`` of each line identifies such a rare repeat).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alcyon import ConfigError, Event

from .errors import SinkError
from .settings import JSONL_SINK


class JsonLinesSink:
    name = JSONL_SINK
    timeout_s = 5.0

    def __init__(self, path: Path, *, fsync: bool = True, binary: str = "digest") -> None:
        self.path = path.absolute()  # the working directory at start-up, whatever happens to it later
        self.fsync = fsync
        self.binary = binary

    def __repr__(self) -> str:
        return f"JsonLinesSink({str(self.path)!r})"

    def accepts(self, event_type: str) -> bool:
        return True

    def check(self) -> None:
        """Fail at start-up, not at the first alert, if the file cannot be written."""
        directory = self.path.parent if str(self.path.parent) else Path(".")
        if not directory.is_dir():
            raise ConfigError(f"[plugins.notify] jsonl_path: directory {directory} does not exist")
        target = self.path if self.path.exists() else directory
        if not os.access(target, os.W_OK):
            raise ConfigError(f"[plugins.notify] jsonl_path: {self.path} is not writable by this process")

    def deliver(self, event: Event, body: bytes) -> dict[str, Any]:
        """Append ``body`` and a newline in one write; raise :class:`SinkError` (retryable) on failure."""
        line = body + b"\n"
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
            try:
                written = os.write(fd, line)
                if written != len(line):  # a full disk, typically
                    os.write(fd, b"\n")  # end the partial line, so the retry's starts on a line of its own
                    raise OSError(f"short write ({written} of {len(line)} bytes)")
                if self.fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as error:
            raise SinkError(f"JSON-lines file {self.path}: {error.strerror or error}", retryable=True) from None
        return {"bytes": len(line)}
