"""The emissions processor on the real runtime (embedded): records, gaps, PUE, redeliveries, the trace."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

import alcyon_emissions.plugin as emissions_plugin
from alcyon import Event
from alcyon_emissions.energy import Sample
from alcyon_emissions.intensity import table_intensity
from alcyon_emissions.make_trace import TRACE, make_trace
from alcyon_emissions.replay import Bad, read_file
from alcyon_emissions.samples import sample_event

EMISSIONS = ("emissions", emissions_plugin)
SITES = {"par-2": {"pue": 1.16}, "nl-ams": {"pue": 1.3}}


def ev(device: str, t: float, kind: str, value: float, rng: float | None = None, site: str = "par-2",
       zone: str = "FR", source: str = "test") -> Event:
    return sample_event(Sample(device, t, kind, value, rng, site, zone), source)


def records(h) -> list[Event]:
    """The records published, once per id (as a sink keeps them)."""
    unique = {e.id: e for e in h.published("emissions.record")}
    return sorted(unique.values(), key=lambda e: (e.subject, e.data["end"]))


def test_records_with_pue_and_country_intensity(alcyon_harness) -> None:
    h = alcyon_harness(EMISSIONS, plugin_config={"emissions": {"sites": SITES}})
    # RAPL counter: 0.9 J -> wrap at 1 J -> 0.1 J (0.2 J), then +3600 J: 3600.2 J at par-2 (PUE 1.16) in FR
    h.publish(ev("srv", 0, "energy_uj", 900_000, 1_000_000), ev("srv", 1, "energy_uj", 100_000, 1_000_000),
              ev("srv", 2, "energy_uj", 3_600_100_000, 1e12))
    h.join()
    got = records(h)
    assert [r.data["method"] for r in got] == ["wrap", "counter"]
    fr = table_intensity("FR").g_per_kwh
    assert got[0].data["energy_j"] == pytest.approx(0.2)
    assert got[1].data["energy_j"] == pytest.approx(3600.0)
    # 3600 J = 0.001 kWh x 1.16 x 56.039 g/kWh
    assert got[1].data["co2e_g"] == pytest.approx(0.001 * 1.16 * fr)
    assert got[1].data["pue_basis"] == "configured" and "2023" in got[1].data["basis"]
    assert got[1].time == datetime.fromtimestamp(2, timezone.utc) and got[1].subject == "srv"


def test_gap_event_duplicate_stale_and_unknown_site(alcyon_harness) -> None:
    h = alcyon_harness(EMISSIONS)
    # 100 W at 0, 200 W at 10 (1500 J), 10 again (duplicate), 5 (stale), 200 W at 100 (gap), 0 W at 110 (1000 J)
    h.publish(ev("plug", 0, "watts", 100, site="shed"), ev("plug", 10, "watts", 200, site="shed"))
    h.join()
    # another source's samples (other ids): the same time is a duplicate, an earlier one is stale
    h.publish(ev("plug", 10, "watts", 900, site="shed", source="b"), ev("plug", 5, "watts", 900, site="shed"))
    h.join()
    h.publish(ev("plug", 100, "watts", 200, site="shed"), ev("plug", 110, "watts", 0, site="shed"))
    h.join()
    assert [r.data["energy_j"] for r in records(h)] == [1500, 1000]
    assert records(h)[0].data["pue"] == 1.0 and "not configured" in records(h)[0].data["pue_basis"]
    gaps = h.published("emissions.gap")
    assert [(g.data["start"], g.data["end"], g.data["seconds"]) for g in gaps] == [(10, 100, 90)]
    assert h.dead_letters("emissions") == []


def test_a_redelivered_sample_republishes_the_same_record(alcyon_harness) -> None:
    h = alcyon_harness(EMISSIONS)
    first, second = ev("d", 0, "energy_j", 10), ev("d", 10, "energy_j", 25)
    h.publish(first, second)
    h.join()
    h.publish(second)  # a redelivery: the same event id
    h.join()
    got = h.published("emissions.record")
    assert len(got) == 2 and got[0].id == got[1].id and got[0].data == got[1].data
    assert got[0].data["energy_j"] == 15


def test_an_older_redelivery_is_recomputed_into_the_same_record(alcyon_harness) -> None:
    h = alcyon_harness(EMISSIONS)
    samples = [ev("d", t, "energy_uj", v, 1000) for t, v in ((0, 900), (10, 100), (20, 300), (30, 600))]
    gap_samples = [ev("p", 0, "watts", 1), ev("p", 100, "watts", 1)]
    h.publish(samples, gap_samples)
    h.join()
    first = {e.id: e for e in h.published("emissions.*")}
    h.publish(samples[1], gap_samples[1])  # the wrap and the gap, redelivered after later samples
    h.join()
    again = h.published("emissions.*")[len(first):]
    assert [(e.id, e.data) for e in again] == [(e.id, first[e.id].data) for e in again]
    assert [e.data.get("method", "gap") for e in again] == ["wrap", "gap"]
    assert sum(r.data["energy_j"] for r in records(h)) == pytest.approx(700e-6)


def test_a_bad_sample_is_dead_lettered_the_rest_flows(alcyon_harness) -> None:
    h = alcyon_harness(EMISSIONS)
    bad = Event("power.sample", "test", "d", {"kind": "volts", "value": 3, "site": "", "zone": "FR"})
    h.publish(ev("d", 0, "energy_j", 10), bad, ev("d", 10, "energy_j", 25))
    h.join()
    assert [r.data["energy_j"] for r in h.published("emissions.record")] == [15]
    [dead] = h.dead_letters("emissions")
    assert dead.reason == "schema_error" and "data.kind" in dead.error


def test_the_demo_trace_has_what_it_claims() -> None:
    rows, _ = make_trace()
    items = list(read_file(TRACE, "", ""))
    assert not [i for i in items if isinstance(i, Bad)] and len(items) == len(rows)
    lorient = [s.time for s in items if s.device == "rpi-lorient-01"]
    assert len(lorient) - len(set(lorient)) == 1  # one duplicate
    assert max(b - a for a, b in zip(lorient, lorient[1:])) == 120  # one gap
    ams = [s.value for s in items if s.device == "srv-ams-01"]
    par = [s.value for s in items if s.device.startswith("srv-par2")]
    assert sum(b < a for a, b in zip(ams, ams[1:])) == 1 and sum(b < a for a, b in zip(par, par[1:])) == 1


def test_the_demo_trace_through_the_processor(alcyon_harness, tmp_path) -> None:
    _, expected = make_trace()
    h = alcyon_harness(EMISSIONS, plugin_config={"emissions": {"sites": SITES}})
    h.publish(sample_event(s, "trace") for s in read_file(TRACE, "", ""))
    h.join()
    totals: dict[str, float] = {}
    methods: dict[str, int] = {}
    for r in records(h):
        totals[r.subject] = totals.get(r.subject, 0) + r.data["energy_j"]
        methods[r.data["method"]] = methods.get(r.data["method"], 0) + 1
    assert totals == pytest.approx(expected, rel=1e-12)
    assert methods["wrap"] == 1 and methods["reset"] == 1
    assert len(h.published("emissions.gap")) == 1
