"""Energy, intensity and CO2e with hand-computed expected values (comments show the arithmetic)."""

from __future__ import annotations

import json

import pytest

from alcyon import ConfigError
from alcyon_emissions.co2e import J_PER_KWH, Sites, account, co2e_g
from alcyon_emissions.energy import DUPLICATE, FIRST, GAP, INTERVAL, RESTART, STALE, Sample, step
from alcyon_emissions.intensity import ENERGY_MIX, Basis, Fixed, Intensities, Series, table_intensity


def run(samples: list[Sample], max_gap_s: float = 60.0) -> list:
    state, steps = None, []
    for s in samples:
        state, st = step(state, s, max_gap_s)
        steps.append(st)
    return steps


def uj(t: float, v: float, rng: float | None = 1_000_000) -> Sample:
    return Sample("d", t, "energy_uj", v, rng)


def watts(t: float, v: float) -> Sample:
    return Sample("d", t, "watts", v)


def test_rapl_wrap_adds_the_range() -> None:
    # 900,000 uJ -> (wrap at 1,000,000) -> 100,000 uJ: 100,000 + 100,000 = 200,000 uJ = 0.2 J
    steps = run([uj(0, 900_000), uj(1, 100_000), uj(2, 400_000)])
    assert [s.outcome for s in steps] == [FIRST, INTERVAL, INTERVAL]
    assert steps[1].method == "wrap" and steps[1].energy_j == pytest.approx(0.2)
    assert steps[2].method == "counter" and steps[2].energy_j == pytest.approx(0.3)


def test_drop_without_range_is_a_reset_counting_from_zero() -> None:
    # joules counter 500 -> 530 (30 J) -> restart to 12 (reset: 12 J, not -518) -> 20 (8 J)
    steps = run([Sample("d", 0, "energy_j", 500), Sample("d", 10, "energy_j", 530),
                 Sample("d", 20, "energy_j", 12), Sample("d", 30, "energy_j", 20)])
    assert [(s.method, s.energy_j) for s in steps[1:]] == [("counter", 30), ("reset", 12), ("counter", 8)]


def test_power_trapezoid_and_a_gap_beyond_the_limit() -> None:
    # 100 W at 0 s, 200 W at 10 s: (100 + 200) / 2 * 10 = 1500 J
    # 200 W at 10 s, 200 W at 71 s: 61 s > 60 s -> gap, nothing counted
    # 200 W at 71 s, 0 W at 81 s: (200 + 0) / 2 * 10 = 1000 J
    steps = run([watts(0, 100), watts(10, 200), watts(71, 200), watts(81, 0)])
    assert [s.outcome for s in steps] == [FIRST, INTERVAL, GAP, INTERVAL]
    assert steps[1].energy_j == 1500 and steps[3].energy_j == 1000
    assert (steps[2].start, steps[2].end, steps[2].energy_j) == (10, 71, 0)
    # a larger limit integrates it: (200 + 200) / 2 * 61 = 12,200 J
    assert run([watts(10, 200), watts(71, 200)], max_gap_s=120)[1].energy_j == 12_200


def test_counter_counts_across_a_long_interval() -> None:
    # a counter measured the energy in between: 5000 J over 10 minutes, no gap
    steps = run([Sample("d", 0, "energy_j", 1000), Sample("d", 600, "energy_j", 6000)])
    assert steps[1].outcome == INTERVAL and steps[1].energy_j == 5000


def test_duplicates_and_out_of_order_samples_change_nothing() -> None:
    # 0 s: 100 W, 10 s: 100 W (1000 J); 10 s again (duplicate, other value); 5 s (stale); 20 s: 300 W
    # -> (100 + 300) / 2 * 10 = 2000 J: the duplicate's 500 W and the stale sample are ignored
    steps = run([watts(0, 100), watts(10, 100), watts(10, 500), watts(5, 900), watts(20, 300)])
    assert [s.outcome for s in steps] == [FIRST, INTERVAL, DUPLICATE, STALE, INTERVAL]
    assert steps[4].energy_j == 2000
    assert sum(s.energy_j for s in steps) == 3000


def test_a_change_of_kind_restarts_the_device() -> None:
    steps = run([watts(0, 100), Sample("d", 10, "energy_j", 50), Sample("d", 20, "energy_j", 80)])
    assert [s.outcome for s in steps] == [FIRST, RESTART, INTERVAL] and steps[2].energy_j == 30


def _series(outside: float = 999.0) -> Series:
    return Series([0, 40, 80], [100.0, 200.0, 300.0], Basis("direct", "test series"),
                  Fixed(outside, Basis("lifecycle", "table")))


def test_counter_energy_is_split_at_intensity_steps() -> None:
    # 1 kWh (3.6 MJ) over 0..100 s, constant power: 0.4 kWh at 100 g + 0.4 kWh at 200 g + 0.2 kWh at 300 g
    # = 40 + 80 + 60 = 180 g; with PUE 1.5: 270 g
    st = run([Sample("d", 0, "energy_j", 0), Sample("d", 100, "energy_j", J_PER_KWH)])[1]
    acc = account(st, 1.0, _series())
    assert acc.co2e_g == pytest.approx(180) and acc.pieces == 3 and acc.g_per_kwh == pytest.approx(180)
    assert account(st, 1.5, _series()).co2e_g == pytest.approx(270)
    assert acc.basis == "direct; test series"


def test_trapezoid_energy_is_split_with_the_linear_power() -> None:
    # 0 W at 0 s -> 100 W at 60 s (limit 60 s), steps at 0 and 40 (and the series ends at 120):
    # 0..40: (0 + 66.67) / 2 * 40 = 1333.33 J at 100 g; 40..60: (66.67 + 100) / 2 * 20 = 1666.67 J at 200 g
    st = run([watts(0, 0), watts(60, 100)])[1]
    assert st.energy_j == 3000
    expected = 4000 / 3 / J_PER_KWH * 100 + 5000 / 3 / J_PER_KWH * 200
    assert account(st, 1.0, _series()).co2e_g == pytest.approx(expected)


def test_series_falls_back_outside_its_span() -> None:
    # the series covers 0..120 (its last step lasts as long as the one before); 110..130 s at 1 kWh
    # -> 0.5 kWh at 300 g + 0.5 kWh at the table's 999 g = 649.5 g
    st = run([Sample("d", 110, "energy_j", 0), Sample("d", 130, "energy_j", J_PER_KWH)])[1]
    acc = account(st, 1.0, _series())
    assert acc.co2e_g == pytest.approx(649.5)
    assert acc.basis == "direct; test series | lifecycle; table"


def test_pue_per_site() -> None:
    sites = Sites({"par-2": {"pue": 1.16}, "par-1": {"pue": 1.45}})
    fr44 = Fixed(44.0, Basis("lifecycle", "Ember", 2024))
    st = run([Sample("d", 0, "energy_j", 0), Sample("d", 3600, "energy_j", J_PER_KWH)])[1]
    # 1 kWh x 1.16 x 44 g/kWh = 51.04 g; x 1.45 = 63.8 g; unknown site: PUE 1.0 -> 44 g, said so
    assert account(st, sites.of("par-2").pue, fr44).co2e_g == pytest.approx(51.04)
    assert account(st, sites.of("par-1").pue, fr44).co2e_g == pytest.approx(63.8)
    unknown = sites.of("basement")
    assert unknown.pue == 1.0 and "not configured" in unknown.basis
    assert account(st, unknown.pue, fr44).co2e_g == pytest.approx(44)


@pytest.mark.parametrize("table", [{"par-2": {"pue": 0.9}}, {"par-2": {"pue": "1.2"}}, {"par-2": {"PUE": 1.2}}])
def test_bad_site_configuration_names_the_key(table: dict) -> None:
    with pytest.raises(ConfigError, match=r"\[plugins.emissions.sites.par-2\]"):
        Sites(table)


@pytest.mark.parametrize("zone,alpha3", [("FR", "FRA"), ("FRA", "FRA"), ("de", "DEU"), ("PL", "POL"), ("NLD", "NLD")])
def test_grams_equal_codecarbons_country_table_figure(zone: str, alpha3: str) -> None:
    # CodeCarbon (emissions.py, get_country_emissions): kg = kWh x carbon_intensity(g/kWh) / 1000,
    # carbon_intensity from global_energy_mix.json for the country's ISO alpha-3 code
    mix = json.loads(ENERGY_MIX.read_text())
    kwh = 12.5
    codecarbon_kg = kwh * mix[alpha3]["carbon_intensity"] / 1000
    intensity = table_intensity(zone)
    st = run([Sample("d", 0, "energy_j", 0), Sample("d", 3600, "energy_j", kwh * J_PER_KWH)])[1]
    assert account(st, 1.0, intensity).co2e_g == pytest.approx(codecarbon_kg * 1000, rel=1e-12)
    assert intensity.basis == Basis("lifecycle", intensity.basis.source, mix[alpha3]["year"])


def test_france_2023_is_the_tables_figure() -> None:
    fr = table_intensity("FR")
    assert fr.g_per_kwh == 56.039 and fr.basis.year == 2023 and fr.basis.kind == "lifecycle"


def test_unknown_zone_uses_the_world_average_and_says_so() -> None:
    found = table_intensity("XX")
    assert found.g_per_kwh == 475 and "not in the country table" in found.basis.source
    assert co2e_g(J_PER_KWH, 1.0, found.g_per_kwh) == 475


def test_configured_zones(tmp_path) -> None:
    series = tmp_path / "eco2mix.csv"
    series.write_text("time,g_per_kwh\n2026-01-01T00:00:00Z,30\n2026-01-01T00:15:00Z,34\n")
    zones = Intensities({"FR": {"series": str(series), "source": "RTE eCO2mix"}, "NL": {"g_per_kwh": 253}})
    assert zones.of("FRA").segments(1767225600, 1767225600 + 1800)[1][2] == 34
    assert zones.of("FR").segments(1767225600, 1767226500)[0][3] == Basis("direct", "RTE eCO2mix")
    assert zones.of("nl").segments(0, 1)[0][2] == 253
    assert zones.of("DE").segments(0, 1)[0][3].year is not None  # not configured: the table
    with pytest.raises(ConfigError, match=r"zones.FR\].*exactly one"):
        Intensities({"FR": {"g_per_kwh": 1, "series": "x"}})
    series.write_text("time,g_per_kwh\n2026-01-01T00:00:00Z,30\nnot a time,34\n")
    with pytest.raises(ConfigError, match="line 3"):
        Intensities({"FR": {"series": str(series)}})
