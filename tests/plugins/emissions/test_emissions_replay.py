"""File replay: CSV and JSON lines, defaults, and bad lines kept with a precise error."""

from __future__ import annotations

import pytest

from alcyon import ConfigError
from alcyon_emissions.energy import Sample
from alcyon_emissions.replay import Bad, read_file
from alcyon_emissions.sources import reader_for


def test_csv_and_json_lines(tmp_path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("# comment\ntime,device,kind,value,max_range_uj,site,zone\n"
                    "2026-01-15T00:00:00Z,a,energy_uj,5,1000,par-2,FR\n"
                    "1768435210,b,energy_j,7,2000000,,\n"
                    '{"time": 1768435220, "device": "c", "kind": "watts", "value": 4.5, "zone": "NL"}\n')
    assert list(read_file(path, "home", "DE")) == [
        Sample("a", 1768435200, "energy_uj", 5, 1000, "par-2", "FR"),
        Sample("b", 1768435210, "energy_j", 7, 2.0, "home", "DE"),  # a joules counter's range in J
        Sample("c", 1768435220, "watts", 4.5, None, "home", "NL"),
    ]


@pytest.mark.parametrize("line,error", [
    ("2026-01-15T00:00:00Z,a,volts,5,,s,FR", "line 2: kind 'volts' is not one of"),
    ("2026-01-15T00:00:00,a,watts,5,,s,FR", "line 2: time '2026-01-15T00:00:00' has no UTC offset"),
    ("2026-01-15T00:00:00Z,a,watts,-5,,s,FR", "line 2: value -5.0 is not a valid watts value"),
    ("2026-01-15T00:00:00Z,a,energy_uj,5,-1,s,FR", "line 2: max_range_uj '-1' must be positive"),
    ("2026-01-15T00:00:00Z,a,watts", "line 2: 3 fields, the header has 7"),
    ("{not json", "line 2: Expecting property name"),
])
def test_a_bad_line_is_kept_with_its_reason_and_the_rest_flows(tmp_path, line: str, error: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(f"time,device,kind,value,max_range_uj,site,zone\n{line}\n1768435210,b,watts,1,,s,FR\n")
    bad, good = list(read_file(path, "", ""))
    assert isinstance(bad, Bad) and bad.reason == "decode_error" and bad.raw == line.encode() + b"\n"
    assert bad.error.startswith(f"t.csv {error}")
    assert good == Sample("b", 1768435210, "watts", 1, None, "s", "FR")


def test_unusable_inputs_are_configuration_errors(tmp_path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        reader_for(f"file:{tmp_path}/nope.csv", {})
    with pytest.raises(ConfigError, match="expected demo, file:PATH, rapl"):
        reader_for("ftp://x", {})


def test_the_demo_input_is_the_bundled_trace_wherever_it_runs_and_reports_progress(tmp_path, monkeypatch) -> None:
    import threading

    from alcyon import SourceContext
    from alcyon_emissions.sources import DEMO_TRACE

    monkeypatch.chdir(tmp_path)
    seen: list[tuple[int, int]] = []
    ctx = SourceContext(source="power", config={}, log=None, publish=lambda e: None, stopping=threading.Event(),
                        reject=lambda *a: None, progress=lambda done, total: seen.append((done, total)))
    items = list(reader_for("demo", {})(ctx))
    rows = [line for line in DEMO_TRACE.read_text().splitlines()[2:] if line]  # comment and header
    assert len(items) == len(rows) and all(isinstance(i, Sample) for i in items)
    size = DEMO_TRACE.stat().st_size
    assert seen[-1] == (size, size) and [d for d, _ in seen] == sorted(d for d, _ in seen) and len(seen) > 2
