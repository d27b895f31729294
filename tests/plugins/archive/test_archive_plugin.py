"""The archive processor on the real runtime: subscriptions, redeliveries kept once, off without a URL."""

from __future__ import annotations

import pytest

import alcyon_archive.plugin as archive_plugin
from alcyon import ConfigError, Event
from alcyon_archive.store import open_archive

ARCHIVE = ("archive", archive_plugin)


def test_alerts_and_records_archived_once(alcyon_harness, tmp_path, monkeypatch) -> None:
    url = f"sqlite:///{tmp_path}/a.sqlite"
    monkeypatch.setenv("ALCYON_ARCHIVE_URL", url)
    h = alcyon_harness(ARCHIVE)
    alert = Event("geofence.entered", "t", "227006760", {"zone": "FR-X"}, id="a1")
    fire = Event("fire.alert", "t", "cam-1", {"score": 0.9}, id="a2")
    position = Event("ais.position", "t", "227006760", {"lat": 47.0, "lon": -3.0}, id="p1")  # not subscribed
    h.publish(alert, fire, position)
    h.join()
    h.publish(alert)  # a redelivered alert
    h.join()
    archive_plugin.alcyon_shutdown()
    archive = open_archive(url)
    rows = archive._query("SELECT id, type, subject FROM events ORDER BY id", [])
    archive.close()
    assert rows == [("a1", "geofence.entered", "227006760"), ("a2", "fire.alert", "cam-1")]


def test_no_url_no_processor(monkeypatch) -> None:
    monkeypatch.delenv("ALCYON_ARCHIVE_URL", raising=False)
    config = {"url": "", "subscribe": archive_plugin.DEFAULT_SUBSCRIBE, "blobs_dir": ""}
    assert archive_plugin.alcyon_processors(config) == []
    monkeypatch.setenv("ALCYON_ARCHIVE_URL", "mysql://h/db")
    with pytest.raises(ConfigError, match="archive url"):
        archive_plugin.alcyon_processors(config)
