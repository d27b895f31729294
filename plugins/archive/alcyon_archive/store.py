"""The archive database: SQLite (a file, embedded mode) or PostgreSQL (``postgresql://``).

One :meth:`Archive.insert` is one transaction: a processor's batch (one broker message) is
archived whole or not at all, and ``ON CONFLICT (id) DO NOTHING`` makes a redelivered batch
a no-op, so a total never doubles.  :meth:`Archive.migrate` brings the schema up to date on
start (under an advisory lock in PostgreSQL, ``BEGIN IMMEDIATE`` in SQLite, so concurrent
workers apply each migration once).

PostgreSQL through psycopg 3: a maintained, typed client with binary wheels (no libpq to
build) whose parameters adapt Python lists to arrays, so a batch is one ``INSERT ... SELECT
FROM unnest(...)`` statement (one round trip, whatever its size) rather than a row per statement;
the arrays go in the binary format (``%b``: no text escaping of every element).
"""

from __future__ import annotations

import abc
import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import urlsplit

from alcyon import ConfigError, Event

from .rows import emission_row, event_row
from .schema import MIGRATIONS

GROUPS = ("device", "site", "zone")
_LOCK_ID = 0x61726368  # "arch": the advisory lock of PostgreSQL migrations


def redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


class Archive(abc.ABC):
    """Archived events and the emissions table, in one database."""

    dialect: str

    def __init__(self, url: str, blobs: Path | None = None) -> None:
        self.url = url
        self.blobs = blobs
        self._lock = threading.Lock()

    def insert(self, events: Sequence[Event]) -> int:
        """Archive ``events`` in one transaction; the number of rows new to ``events`` (not seen before)."""
        if not events:
            return 0
        if self.blobs is not None:
            self.blobs.mkdir(parents=True, exist_ok=True)
        now = datetime.now(timezone.utc)
        rows = [event_row(e, now, self.blobs) for e in events]
        emissions = [r for r in map(emission_row, events) if r is not None]
        with self._lock:
            return self._insert(rows, emissions)

    def migrate(self) -> int:
        """Apply the migrations not applied yet; the schema version now."""
        with self._lock:
            return self._migrate()

    def summary(self, by: str, start: datetime | None = None, end: datetime | None = None) -> list[dict[str, Any]]:
        """Per ``by`` group (device, site or zone): energy_j, co2e_g, gaps and the bases used.

        A record belongs to ``[start, end)`` by its end time.
        """
        if by not in GROUPS:
            raise ValueError(f"group by one of {', '.join(GROUPS)}, not {by!r}")
        where, params = "WHERE 1 = 1", []
        if start is not None:
            where += " AND end_time >= {p}"
            params.append(self._time(start))
        if end is not None:
            where += " AND end_time < {p}"
            params.append(self._time(end))
        totals = self._query(f"SELECT {by}, SUM(energy_j), SUM(co2e_g), "
                             f"SUM(CASE WHEN kind = 'gap' THEN 1 ELSE 0 END) FROM emissions {where} "
                             f"GROUP BY {by} ORDER BY {by}", params)
        bases: dict[str, list[str]] = {}
        for group, basis in self._query(f"SELECT {by}, basis FROM emissions {where} AND kind = 'record' "
                                        f"GROUP BY {by}, basis ORDER BY {by}, basis", params):
            bases.setdefault(group, []).append(basis)
        return [{"group": g, "energy_j": float(e), "co2e_g": float(c), "gaps": int(n), "basis": bases.get(g, [])}
                for g, e, c, n in totals]

    def count(self, table: str = "events") -> int:
        if table not in ("events", "emissions"):
            raise ValueError(table)
        return int(self._query(f"SELECT COUNT(*) FROM {table}", [])[0][0])

    @abc.abstractmethod
    def _insert(self, rows: list[tuple], emissions: list[tuple]) -> int: ...

    @abc.abstractmethod
    def _migrate(self) -> int: ...

    @abc.abstractmethod
    def _query(self, sql: str, params: list[Any]) -> list[tuple]: ...

    @abc.abstractmethod
    def _time(self, value: datetime) -> Any: ...

    @abc.abstractmethod
    def close(self) -> None: ...


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class SqliteArchive(Archive):
    dialect = "sqlite"

    def __init__(self, url: str, path: Path, blobs: Path | None = None) -> None:
        super().__init__(url, blobs)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")  # readers (reports) never block the writer
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")

    def _insert(self, rows: list[tuple], emissions: list[tuple]) -> int:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            before = db.total_changes
            db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                           [(*r[:4], _iso(r[4]), *r[5:7], _iso(r[7])) for r in rows])
            new = db.total_changes - before
            db.executemany("INSERT INTO emissions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                           "ON CONFLICT (id) DO NOTHING",
                           [(*r[:5], _iso(r[5]), _iso(r[6]), *r[7:]) for r in emissions])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return new

    def _migrate(self) -> int:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("CREATE TABLE IF NOT EXISTS archive_schema (version INTEGER PRIMARY KEY, applied_at TEXT)")
            current = db.execute("SELECT COALESCE(MAX(version), 0) FROM archive_schema").fetchone()[0]
            for version, statements in MIGRATIONS:
                if version > current:
                    for statement in statements["sqlite"]:
                        db.execute(statement)
                    db.execute("INSERT INTO archive_schema VALUES (?, ?)",
                               (version, _iso(datetime.now(timezone.utc))))
                    current = version
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return current

    def _query(self, sql: str, params: list[Any]) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql.replace("{p}", "?"), params).fetchall()

    def _time(self, value: datetime) -> str:
        return _iso(value)

    def close(self) -> None:
        self._db.close()


class PostgresArchive(Archive):
    dialect = "postgresql"

    _EVENTS = ("INSERT INTO events SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], "
               "%b::timestamptz[], %b::jsonb[], %b::text[], %b::timestamptz[]) ON CONFLICT (id) DO NOTHING")
    _EMISSIONS = ("INSERT INTO emissions SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], "
                  "%b::text[], %b::timestamptz[], %b::timestamptz[], %b::float8[], %b::float8[], %b::float8[], "
                  "%b::float8[], %b::text[], %b::text[]) ON CONFLICT (id) DO NOTHING")

    def __init__(self, url: str, blobs: Path | None = None) -> None:
        super().__init__(url, blobs)
        self._conn: Any = None

    def _connection(self) -> Any:
        import psycopg

        if self._conn is None or self._conn.closed or self._conn.broken:
            try:
                self._conn = psycopg.connect(self.url, connect_timeout=10)
            except psycopg.OperationalError as exc:
                raise ConnectionError(f"archive {redacted(self.url)}: cannot connect ({exc})") from None
        return self._conn

    def _insert(self, rows: list[tuple], emissions: list[tuple]) -> int:
        conn = self._connection()
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(self._EVENTS, [list(c) for c in zip(*rows)])
            new = cur.rowcount
            if emissions:
                cur.execute(self._EMISSIONS, [list(c) for c in zip(*emissions)])
        return new

    def _migrate(self) -> int:
        conn = self._connection()
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
            cur.execute("CREATE TABLE IF NOT EXISTS archive_schema (version INTEGER PRIMARY KEY, "
                        "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
            cur.execute("SELECT COALESCE(MAX(version), 0) FROM archive_schema")
            current = cur.fetchone()[0]
            for version, statements in MIGRATIONS:
                if version > current:
                    for statement in statements["postgresql"]:
                        cur.execute(statement)
                    cur.execute("INSERT INTO archive_schema (version) VALUES (%s)", (version,))
                    current = version
        return current

    def _query(self, sql: str, params: list[Any]) -> list[tuple]:
        with self._lock:
            conn = self._connection()
            with conn.transaction(), conn.cursor() as cur:
                cur.execute(sql.replace("{p}", "%s"), params)
                return cur.fetchall()

    def _time(self, value: datetime) -> datetime:
        return value

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def parse_url(url: str) -> tuple[str, str]:
    """``("postgresql", url)`` or ``("sqlite", path)``; a ConfigError for anything else. Opens nothing."""
    scheme = url.partition(":")[0].lower() if "://" in url or url.startswith("sqlite:") else ""
    if scheme in ("postgresql", "postgres"):
        return "postgresql", url
    if scheme == "sqlite":
        rest = url[len("sqlite:"):]
        return "sqlite", rest[2:] if rest.startswith("//") else rest
    if scheme or not url:
        raise ConfigError(f"archive url {redacted(url)!r}: expected postgresql://USER@HOST/DB, sqlite:///PATH or "
                          "a file path")
    return "sqlite", url


def open_archive(url: str, blobs: str = "") -> Archive:
    """The archive at ``url``: ``postgresql://...``, ``sqlite:///PATH``, ``sqlite:PATH`` or a file path."""
    kind, where = parse_url(url)
    blob_dir = Path(blobs) if blobs else None
    if kind == "postgresql":
        return PostgresArchive(url, blob_dir)
    return SqliteArchive(url, Path(where), blob_dir)
