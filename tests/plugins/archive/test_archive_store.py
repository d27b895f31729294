"""The archive on SQLite and on the real PostgreSQL: migrations, idempotent batches, rollback, blobs, sums."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

import psycopg
import pytest

from alcyon import ConfigError, Event
from alcyon_archive.store import open_archive, parse_url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def archive_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/archive.sqlite"
    return request.getfixturevalue("postgres_url")


def record(n: int, device: str, site: str, energy: float, co2e: float, basis: str = "lifecycle; t; 2023",
           end: float = 1_768_435_210.0) -> Event:
    data = {"device": device, "site": site, "zone": "FR", "start": end - 10, "end": end, "energy_j": energy,
            "method": "counter", "pue": 1.0, "pue_basis": "configured", "g_per_kwh": 56.0, "co2e_g": co2e,
            "basis": basis}
    return Event("emissions.record", "test", device, data, datetime.fromtimestamp(end, timezone.utc), id=f"r{n}")


def gap(n: int, device: str, site: str) -> Event:
    data = {"device": device, "site": site, "zone": "FR", "start": 1_768_435_000.0, "end": 1_768_435_100.0,
            "seconds": 100.0, "max_gap_s": 60}
    return Event("emissions.gap", "test", device, data, id=f"g{n}")


def test_migrations_run_once(archive_url: str) -> None:
    a = open_archive(archive_url)
    assert a.migrate() == 1
    assert a.migrate() == 1
    b = open_archive(archive_url)  # a second process starting on the same database
    assert b.migrate() == 1 and b.count() == 0
    a.close(), b.close()


def test_inserts_are_idempotent_on_event_id(archive_url: str) -> None:
    a = open_archive(archive_url)
    a.migrate()
    batch = [record(1, "d1", "par-2", 100.0, 1.5), record(2, "d2", "par-2", 50.0, 0.5),
             record(3, "d3", "ams", 10.0, 2.0, basis="direct; rte"), gap(1, "d1", "par-2"),
             Event("geofence.entered", "test", "227006760", {"zone": "FR-X"}, id="alert-1")]
    assert a.insert(batch) == 5
    assert a.insert(batch) == 0  # a redelivered message
    assert a.insert(batch[:2] + [record(4, "d1", "par-2", 1.0, 0.25)]) == 1
    assert a.count() == 6 and a.count("emissions") == 5
    assert a.summary("site") == [
        {"group": "ams", "energy_j": 10.0, "co2e_g": 2.0, "gaps": 0, "basis": ["direct; rte"]},
        {"group": "par-2", "energy_j": 151.0, "co2e_g": 2.25, "gaps": 1, "basis": ["lifecycle; t; 2023"]},
    ]
    assert [r["group"] for r in a.summary("device")] == ["d1", "d2", "d3"]
    a.close()


def test_time_window_by_end_time(archive_url: str) -> None:
    a = open_archive(archive_url)
    a.migrate()
    a.insert([record(1, "d", "s", 1.0, 1.0, end=1000.0), record(2, "d", "s", 2.0, 2.0, end=2000.0),
              record(3, "d", "s", 4.0, 4.0, end=3000.0)])
    at = lambda t: datetime.fromtimestamp(t, timezone.utc)  # noqa: E731
    assert a.summary("site", at(2000), at(3000))[0]["energy_j"] == 2.0  # [from, to)
    assert a.summary("site", at(1000.5))[0]["energy_j"] == 6.0
    a.close()


def test_a_failing_batch_is_rolled_back_whole(archive_url: str) -> None:
    a = open_archive(archive_url)
    a.migrate()
    bad = record(2, "d", "s", 1.0, 1.0)
    bad.data["device"] = None  # violates emissions.device NOT NULL, after the events rows went in
    with pytest.raises((sqlite3.IntegrityError, psycopg.IntegrityError)):
        a.insert([record(1, "d", "s", 1.0, 1.0), bad])
    assert a.count() == 0 and a.count("emissions") == 0
    assert a.insert([record(1, "d", "s", 1.0, 1.0)]) == 1  # the connection is usable again
    a.close()


def test_binary_payloads_go_to_files_or_stay_out(archive_url: str, tmp_path) -> None:
    frame = Event("fire.frame", "test", "cam-1", b"\xff\xd8jpeg", id="f1")
    a = open_archive(archive_url, blobs=str(tmp_path / "blobs"))
    a.migrate()
    a.insert([frame])
    assert (tmp_path / "blobs" / "f1.bin").read_bytes() == b"\xff\xd8jpeg"
    row = a._query("SELECT data, dataref FROM events WHERE id = {p}", ["f1"])[0]
    assert row == (None, str(tmp_path / "blobs" / "f1.bin"))
    a.close()
    b = open_archive(archive_url)  # no blobs directory: the payload is left out
    b.insert([Event("fire.frame", "test", "cam-1", b"jpeg", id="f2")])
    assert b._query("SELECT data, dataref FROM events WHERE id = {p}", ["f2"])[0] == (None, None)
    b.close()


@pytest.mark.parametrize("url,kind", [("postgresql://u@h/db", "postgresql"), ("sqlite:///tmp/a.db", "sqlite"),
                                      ("sqlite:rel.db", "sqlite"), ("archive.sqlite", "sqlite")])
def test_urls(url: str, kind: str) -> None:
    assert parse_url(url)[0] == kind


def test_a_bad_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="expected postgresql://"):
        parse_url("mysql://u:secret@h/db")
    with pytest.raises(ConfigError) as info:
        parse_url("mysql://u:secret@h/db")
    assert "secret" not in str(info.value)


def test_bytes_among_an_alerts_fields_go_to_files_the_rest_stays_json(archive_url: str, tmp_path) -> None:
    """A fire alert's ``image`` field: the JSON row keeps every other field and where the bytes are."""
    import json

    alert = Event("fire.alert", "test", "tower-1", {"camera": "tower-1", "image": b"\xff\xd8trigger", "boxes": []},
                  id="a1")
    a = open_archive(archive_url, blobs=str(tmp_path / "blobs"))
    a.migrate()
    a.insert([alert])
    [(data,)] = a._query("SELECT data FROM events WHERE id = {p}", ["a1"])
    data = json.loads(data) if isinstance(data, str) else data
    path = tmp_path / "blobs" / "a1.image.bin"
    assert data == {"camera": "tower-1", "boxes": [], "image": {"dataref": str(path), "bytes": 9}}
    assert path.read_bytes() == b"\xff\xd8trigger"
    a.close()
    b = open_archive(archive_url)  # no blobs directory: the size only
    b.insert([Event("fire.alert", "test", "tower-1", {"image": b"jpeg"}, id="a2")])
    [(data,)] = b._query("SELECT data FROM events WHERE id = {p}", ["a2"])
    assert (json.loads(data) if isinstance(data, str) else data) == {"image": {"bytes": 4}}
    b.close()
