"""archive: keeps the events people need later (emissions records, alerts) in a database.

SQLite (a file: the embedded mode) or PostgreSQL (``postgresql://...``: what Grafana and the
distributed mode read).  Off until a URL is given — ``ALCYON_ARCHIVE_URL`` or::

    [plugins.archive]
    url = "sqlite:///var/lib/alcyon/archive.sqlite"   # or postgresql://alcyon@db/alcyon, or a path
    subscribe = ["emissions.record", "emissions.gap", "geofence.*", "*.alert"]
    blobs_dir = ""          # binary payloads go to files here ("" : left out of the rows)

Inserts are idempotent on event id and one transaction per broker message; the schema is
migrated at start (tables: see ``schema.py``).
"""

from __future__ import annotations

import os
import threading
from typing import Any, Mapping, Sequence

from alcyon import Context, Event, Option, Processor, hookimpl

from .store import Archive, open_archive, parse_url

DEFAULT_SUBSCRIBE = ["emissions.record", "emissions.gap", "geofence.*", "*.alert"]

_archives: dict[tuple[str, str], Archive] = {}
_lock = threading.Lock()


@hookimpl
def alcyon_config_options() -> list[Option]:
    return [
        Option("url", str, "", "postgresql://..., sqlite:///PATH or a file path (ALCYON_ARCHIVE_URL wins); "
                               "\"\": no archive"),
        Option("subscribe", list, DEFAULT_SUBSCRIBE, "event types (patterns) to archive"),
        Option("blobs_dir", str, "", "directory for binary payloads (\"\": leave them out)"),
    ]


def archive_url(config: Mapping[str, Any]) -> str:
    """The configured archive URL: ``ALCYON_ARCHIVE_URL``, else ``[plugins.archive] url``."""
    return os.environ.get("ALCYON_ARCHIVE_URL") or config.get("url", "")


def archive_for(url: str, blobs: str = "") -> Archive:
    """This process's archive at ``url`` (one connection per URL, migrated on first use)."""
    key = (url, blobs)
    with _lock:
        found = _archives.get(key)
        if found is None:
            found = open_archive(url, blobs)
            found.migrate()
            _archives[key] = found
        return found


class _Archiver:
    def __init__(self, url: str, blobs: str) -> None:
        self.url, self.blobs = url, blobs

    def handle_batch(self, events: Sequence[Event], ctx: Context) -> None:
        archive_for(self.url, self.blobs).insert(events)


@hookimpl
def alcyon_processors(config: Mapping[str, Any]) -> list[Processor]:
    url = archive_url(config)
    if not url:
        return []
    parse_url(url)  # a malformed URL is a configuration error at start-up (nothing is opened yet)
    return [Processor(name="archive", subscribe=tuple(config["subscribe"]),
                      handle_batch=_Archiver(url, config["blobs_dir"]).handle_batch,
                      description="events -> SQLite/PostgreSQL archive (idempotent on event id)", max_retries=8)]


@hookimpl
def alcyon_startup(config: Mapping[str, Any]) -> None:
    url = archive_url(config)
    if url:
        archive_for(url, config["blobs_dir"])


@hookimpl
def alcyon_shutdown() -> None:
    with _lock:
        for archive in _archives.values():
            archive.close()
        _archives.clear()
