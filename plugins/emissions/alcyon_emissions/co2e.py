"""CO2e of an interval of energy: energy x the site's PUE x the grid zone's intensity.

Joules are aggregated first (the device's energy), the facility overhead (PUE) is applied per
site, then the intensity per grid zone, split at the intensity's steps (CodeCarbon's method
with a time-varying intensity: ``kWh x g/kWh`` per piece).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from alcyon import ConfigError

from .energy import Step, energy_between
from .intensity import Intensity

J_PER_KWH = 3.6e6


def co2e_g(energy_j: float, pue: float, g_per_kwh: float) -> float:
    """Grams of CO2e of ``energy_j`` joules drawn by a device in a site of ``pue`` on a grid of ``g_per_kwh``."""
    return energy_j * pue / J_PER_KWH * g_per_kwh


@dataclasses.dataclass(frozen=True, slots=True)
class Accounted:
    """The CO2e of one interval: ``g_per_kwh`` is the energy-weighted mean intensity over it."""

    co2e_g: float
    g_per_kwh: float
    basis: str  # the basis label of the intensity; " | " between them when the interval spans several
    pieces: int


def account(s: Step, pue: float, intensity: Intensity) -> Accounted:
    """The CO2e of an INTERVAL step, its energy split at the intensity's step boundaries."""
    segments = intensity.segments(s.start, s.end)
    if len(segments) == 1:
        _, _, g, basis = segments[0]
        return Accounted(co2e_g(s.energy_j, pue, g), g, basis.label(), 1)
    grams = 0.0
    labels: list[str] = []
    for a, b, g, basis in segments:
        grams += co2e_g(energy_between(s, a, b), pue, g)
        if basis.label() not in labels:
            labels.append(basis.label())
    mean = grams / (s.energy_j * pue) * J_PER_KWH if s.energy_j and pue else 0.0
    return Accounted(grams, mean, " | ".join(labels), len(segments))


@dataclasses.dataclass(frozen=True)
class Site:
    pue: float
    basis: str  # "configured" or why not


class Sites:
    """PUE per site from ``[plugins.emissions.sites.<site>] pue = 1.16``; an unknown site is 1.0, said so."""

    def __init__(self, sites: Mapping[str, Any]) -> None:
        self._sites: dict[str, Site] = {}
        for name, table in sites.items():
            where = f"[plugins.emissions.sites.{name}]"
            if not isinstance(table, Mapping) or set(table) - {"pue"} or "pue" not in table:
                raise ConfigError(f"{where}: expected a table with one key, pue (e.g. pue = 1.16)")
            pue = table["pue"]
            if isinstance(pue, bool) or not isinstance(pue, (int, float)) or pue < 1:
                raise ConfigError(f"{where} pue: a number >= 1.0 (facility energy / IT energy), got {pue!r}")
            self._sites[name] = Site(float(pue), "configured")

    def of(self, site: str) -> Site:
        found = self._sites.get(site)
        if found is None:
            found = Site(1.0, f"site {site!r} not configured: PUE 1.0" if site else "no site: PUE 1.0")
            self._sites[site] = found  # sites are few: remembered, not rebuilt per record
        return found
