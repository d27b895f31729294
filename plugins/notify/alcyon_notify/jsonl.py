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

Binary evidence (a fire alert's trigger JPEG) is written beside the file, in
``<stem>-evidence/<sha256>.jpg`` (``alerts-evidence/`` for ``alerts.jsonl``), before the line
that names it by its digest; written once (content-addressed), atomically (temporary file,
then rename).  ``jsonl_evidence = false`` keeps only the digests.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alcyon import ConfigError, Event

from .errors import SinkError
from .payload import evidence_name
from .settings import JSONL_SINK


class JsonLinesSink:
    name = JSONL_SINK
    timeout_s = 5.0

    def __init__(self, path: Path, *, fsync: bool = True, binary: str = "digest", evidence: bool = True) -> None:
        self.path = path.absolute()  # the working directory at start-up, whatever happens to it later
        self.fsync = fsync
        self.binary = binary
        self.evidence_dir = self.path.parent / f"{self.path.stem}-evidence" if evidence and binary == "digest" \
            else None

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
            if self.evidence_dir is not None:
                for blob in _blobs(event.data):
                    self._keep(blob)
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

    def _keep(self, blob: bytes) -> None:
        target = self.evidence_dir / evidence_name(blob)  # type: ignore[operator]
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{os.getpid()}.part")
        with open(partial, "wb") as out:
            out.write(blob)
            if self.fsync:
                out.flush()
                os.fsync(out.fileno())
        os.replace(partial, target)


def _blobs(value: Any) -> list[bytes]:
    """Every bytes value in an event's data (the data itself, or nested in objects and lists)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return [bytes(value)]
    if isinstance(value, dict):
        return [b for v in value.values() for b in _blobs(v)]
    if isinstance(value, (list, tuple)):
        return [b for v in value for b in _blobs(v)]
    return []
