"""`alcyon emissions report` over an archive filled by the real processors (embedded, SQLite)."""

from __future__ import annotations

import csv
import io
import json

import pytest

import alcyon_archive.plugin as archive_plugin
import alcyon_emissions.plugin as emissions_plugin
from alcyon.cli import main
from alcyon_emissions.co2e import J_PER_KWH
from alcyon_emissions.energy import Sample
from alcyon_emissions.intensity import table_intensity
from alcyon_emissions.samples import sample_event


@pytest.fixture
def archive(tmp_path, alcyon_harness, monkeypatch) -> str:
    url = f"sqlite:///{tmp_path}/archive.sqlite"
    monkeypatch.setenv("ALCYON_ARCHIVE_URL", url)
    h = alcyon_harness(("emissions", emissions_plugin), ("archive", archive_plugin),
                       plugin_config={"emissions": {"sites": {"par-2": {"pue": 1.16}}}})
    s = [Sample("srv", 0, "energy_j", 0, None, "par-2", "FR"), Sample("srv", 10, "energy_j", J_PER_KWH, None,
                                                                     "par-2", "FR"),
         Sample("plug", 0, "watts", 100, None, "home", "NL"), Sample("plug", 100, "watts", 100, None, "home", "NL"),
         Sample("plug", 110, "watts", 260, None, "home", "NL")]
    h.publish(sample_event(x, "t") for x in s)
    h.join()
    h.close()
    archive_plugin.alcyon_shutdown()
    return url


def run(capsys, *args: str) -> str:
    assert main(["emissions", "report", *args]) == 0
    return capsys.readouterr().out


def test_json_rows_per_group_and_total(archive, capsys) -> None:
    rows = json.loads(run(capsys, "--by", "site", "--format", "json"))
    fr, nl = table_intensity("FR"), table_intensity("NL")
    # par-2: 1 kWh x 1.16 x FR; home: gap (100 s > 60 s), then (100 + 260) / 2 x 10 = 1800 J x 1.0 x NL
    assert [r["group"] for r in rows] == ["home", "par-2", "total"]
    home, par, total = rows
    assert par["energy_j"] == J_PER_KWH and par["kwh"] == 1 and par["co2e_g"] == pytest.approx(1.16 * fr.g_per_kwh)
    assert home["energy_j"] == 1800 and home["gaps"] == 1
    assert home["co2e_g"] == pytest.approx(1800 / J_PER_KWH * nl.g_per_kwh)
    assert total["energy_j"] == J_PER_KWH + 1800 and total["gaps"] == 1
    assert total["co2e_g"] == pytest.approx(par["co2e_g"] + home["co2e_g"])
    assert par["basis"] == fr.basis.label() and set(total["basis"].split(" + ")) == {fr.basis.label(),
                                                                                   nl.basis.label()}


def test_csv_table_and_time_window(archive, capsys) -> None:
    rows = list(csv.DictReader(io.StringIO(run(capsys, "--by", "device", "--format", "csv"))))
    assert [r["group"] for r in rows] == ["plug", "srv", "total"] and list(rows[0]) == [
        "group", "energy_j", "kwh", "co2e_g", "basis", "gaps"]
    table = run(capsys, "--by", "zone")
    assert "FR" in table and "NL" in table and "total" in table
    # records count by their end: [--from 105, ...) keeps the plug's last interval only
    rows = json.loads(run(capsys, "--from", "105", "--format", "json"))
    assert [(r["group"], r["energy_j"]) for r in rows] == [("home", 1800), ("total", 1800)]
    rows = json.loads(run(capsys, "--to", "1970-01-01T00:00:10Z", "--format", "json"))
    assert rows == [{"group": "total", "energy_j": 0, "kwh": 0, "co2e_g": 0, "basis": "", "gaps": 0}]


def test_bad_time_and_no_archive(archive, capsys, monkeypatch) -> None:
    assert main(["emissions", "report", "--from", "yesterday"]) == 2
    assert "--from 'yesterday'" in capsys.readouterr().err
    monkeypatch.delenv("ALCYON_ARCHIVE_URL")
    assert main(["emissions", "report"]) == 2
    assert "no archive to report from" in capsys.readouterr().err
