"""Metrics: monotonic joules and grams per site and zone (no wrap bug), power per site, intensity; counted once."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

import alcyon_emissions.plugin as emissions_plugin
from alcyon_emissions.energy import Sample
from alcyon_emissions.intensity import table_intensity
from alcyon_emissions.samples import sample_event

EMISSIONS = ("emissions", emissions_plugin)


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_energy_and_co2e_counters_increase_through_a_wrap_and_count_once(alcyon_harness) -> None:
    site, zone = "metrics-site", "FR"
    before_j = value("alcyon_emissions_energy_joules_total", site=site, zone=zone, device="")
    before_g = value("alcyon_emissions_co2e_grams_total", site=site, zone=zone, device="")
    h = alcyon_harness(EMISSIONS, plugin_config={"emissions": {"sites": {site: {"pue": 1.5}}}})
    rng = 10_000_000  # 10 J range
    samples = [Sample("m1", t, "energy_uj", v, rng, site, zone)
               for t, v in ((0, 8_000_000), (10, 9_500_000), (20, 1_000_000), (30, 4_000_000))]
    events = [sample_event(s, "t") for s in samples]
    h.publish(events)
    h.join()
    h.publish(events[2])  # a redelivery: republished, not counted again
    h.join()
    # 1.5 J + (10 - 9.5 + 1) J across the wrap + 3 J = 6 J; never a negative step
    assert value("alcyon_emissions_energy_joules_total", site=site, zone=zone, device="") - before_j == \
        pytest.approx(6.0)
    assert value("alcyon_emissions_co2e_grams_total", site=site, zone=zone, device="") - before_g == \
        pytest.approx(6.0 * 1.5 / 3.6e6 * table_intensity("FR").g_per_kwh)
    assert value("alcyon_emissions_power_watts", site=site) == pytest.approx(0.3)  # 3 J over the last 10 s
    assert value("alcyon_emissions_intensity_grams_per_kwh", zone=zone) == table_intensity("FR").g_per_kwh


def test_device_label_only_when_enabled(alcyon_harness) -> None:
    h = alcyon_harness(EMISSIONS, plugin_config={"emissions": {"metrics_device_label": True}})
    h.publish(sample_event(Sample("labelled-1", t, "energy_j", v, None, "s-dev", "NL"), "t") for t, v in ((0, 0),
                                                                                                          (1, 7)))
    h.join()
    assert value("alcyon_emissions_energy_joules_total", site="s-dev", zone="NL", device="labelled-1") == 7
