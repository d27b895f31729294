"""The archive's schema and its migrations, for SQLite and PostgreSQL.

Tables (the reference for their readers: reports, Grafana, the demo):

* ``events`` — one row per archived event: ``id`` (primary key: a redelivered event is kept
  once), ``type``, ``source``, ``subject``, ``time`` (event time), ``data`` (JSON; null for a
  binary payload, which goes to ``dataref``), ``dataref``, ``received_at``.
* ``emissions`` — one row per ``emissions.record`` or ``emissions.gap`` (same ``id`` as in
  ``events``): ``kind`` (record or gap), ``device``, ``site``, ``zone``, ``start_time``,
  ``end_time``, ``energy_j``, ``co2e_g``, ``pue``, ``g_per_kwh``, ``basis``, ``method``: what
  reports and Grafana panels sum without parsing JSON.
* ``archive_schema`` — the migrations applied (``version``, ``applied_at``).

Times are ``TIMESTAMPTZ`` in PostgreSQL and RFC 3339 UTC text with microseconds
(``2026-01-15T00:00:10.000000Z``, which sorts as time) in SQLite.
"""

from __future__ import annotations

#: (version, statements by dialect); append, never edit an applied one.
MIGRATIONS: list[tuple[int, dict[str, list[str]]]] = [
    (1, {
        "postgresql": [
            """CREATE TABLE events (
                id TEXT PRIMARY KEY, type TEXT NOT NULL, source TEXT NOT NULL, subject TEXT NOT NULL,
                time TIMESTAMPTZ NOT NULL, data JSONB, dataref TEXT, received_at TIMESTAMPTZ NOT NULL)""",
            "CREATE INDEX events_type_time ON events (type, time)",
            """CREATE TABLE emissions (
                id TEXT PRIMARY KEY REFERENCES events (id), kind TEXT NOT NULL, device TEXT NOT NULL,
                site TEXT NOT NULL, zone TEXT NOT NULL, start_time TIMESTAMPTZ NOT NULL,
                end_time TIMESTAMPTZ NOT NULL, energy_j DOUBLE PRECISION NOT NULL,
                co2e_g DOUBLE PRECISION NOT NULL, pue DOUBLE PRECISION, g_per_kwh DOUBLE PRECISION,
                basis TEXT, method TEXT)""",
            "CREATE INDEX emissions_end_time ON emissions (end_time)",
        ],
        "sqlite": [
            """CREATE TABLE events (
                id TEXT PRIMARY KEY, type TEXT NOT NULL, source TEXT NOT NULL, subject TEXT NOT NULL,
                time TEXT NOT NULL, data TEXT, dataref TEXT, received_at TEXT NOT NULL)""",
            "CREATE INDEX events_type_time ON events (type, time)",
            """CREATE TABLE emissions (
                id TEXT PRIMARY KEY REFERENCES events (id), kind TEXT NOT NULL, device TEXT NOT NULL,
                site TEXT NOT NULL, zone TEXT NOT NULL, start_time TEXT NOT NULL, end_time TEXT NOT NULL,
                energy_j REAL NOT NULL, co2e_g REAL NOT NULL, pue REAL, g_per_kwh REAL, basis TEXT, method TEXT)""",
            "CREATE INDEX emissions_end_time ON emissions (end_time)",
        ],
    }),
]
