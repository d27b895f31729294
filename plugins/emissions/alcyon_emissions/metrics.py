"""The emissions plugin's Prometheus metrics: monotonic joules and grams per site and zone.

Counters only ever increase (energy is integrated before it is counted: no raw wrapping
counter is exported), so ``increase()`` and ``rate()`` work across wraps and resets.  Labels are
site and zone (bounded by configuration); a ``device`` label only if the operator enables it
(``metrics_device_label = true``: one series per device).  A record is counted once, by the
process that made it (a redelivered one is not counted again).
"""

from __future__ import annotations

import threading
from typing import Any, Sequence

from alcyon import Event, created_once


class _Metrics:
    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge

        self.energy = Counter("alcyon_emissions_energy_joules_total", "Energy drawn by monitored devices (IT "
                              "energy, before PUE).", ["site", "zone", "device"])
        self.co2e = Counter("alcyon_emissions_co2e_grams_total", "Emissions of that energy (x PUE x grid "
                            "intensity), grams CO2e.", ["site", "zone", "device"])
        self.power = Gauge("alcyon_emissions_power_watts", "Current power per site: sum over devices of the mean "
                           "power of their last interval.", ["site"], multiprocess_mode="livesum")
        self.intensity = Gauge("alcyon_emissions_intensity_grams_per_kwh", "Grid intensity of the last record, "
                               "per zone.", ["zone"], multiprocess_mode="mostrecent")
        self.gaps = Counter("alcyon_emissions_gaps_total", "Power-reading intervals longer than max_gap_s (not "
                            "counted).", ["site", "zone"])
        self.ignored = Counter("alcyon_emissions_samples_ignored_total", "Samples that closed no interval, by "
                               "outcome.", ["outcome"])


#: The process's emissions metrics (created once).
emissions_metrics = created_once(_Metrics)


class EmissionsMeter:
    """Counts records into the metrics; keeps each device's last power to sum per site."""

    def __init__(self, device_label: bool) -> None:
        self.device_label = device_label
        self._lock = threading.Lock()
        self._power: dict[str, dict[str, float]] = {}  # site -> device -> watts

    def ignored(self, outcome: str) -> None:
        emissions_metrics().ignored.labels(outcome).inc()

    def count(self, records: Sequence[Event]) -> None:
        """Add a batch's records: one increment per (site, zone[, device]), not per record."""
        m = emissions_metrics()
        energy: dict[tuple[str, str, str], float] = {}
        grams: dict[tuple[str, str, str], float] = {}
        intensity: dict[str, float] = {}
        gaps: dict[tuple[str, str], int] = {}
        with self._lock:
            for event in records:
                d = event.data
                if event.type.endswith(".gap"):
                    gaps[d["site"], d["zone"]] = gaps.get((d["site"], d["zone"]), 0) + 1
                    continue
                key = (d["site"], d["zone"], d["device"] if self.device_label else "")
                energy[key] = energy.get(key, 0.0) + d["energy_j"]
                grams[key] = grams.get(key, 0.0) + d["co2e_g"]
                intensity[d["zone"]] = d["g_per_kwh"]
                self._power.setdefault(d["site"], {})[d["device"]] = d["energy_j"] / (d["end"] - d["start"])
            power = {site: sum(self._power[site].values()) for site in {k[0] for k in energy}}
        for key, joules in energy.items():
            m.energy.labels(*key).inc(joules)
            m.co2e.labels(*key).inc(grams[key])
        for where, n in gaps.items():
            m.gaps.labels(*where).inc(n)
        for zone, value in intensity.items():
            m.intensity.labels(zone).set(value)
        for site, watts in power.items():
            m.power.labels(site).set(watts)


class _SourceMetrics:
    def __init__(self) -> None:
        from prometheus_client import Counter

        self.read = Counter("alcyon_power_samples_read_total", "Power samples read by the power source.")
        self.rejected = Counter("alcyon_power_inputs_rejected_total", "Power inputs rejected, by reason.",
                                ["reason"])


#: The power source's metrics (created once).
power_source_metrics = created_once(_SourceMetrics)


def source_counts() -> tuple[Any, Any]:
    """The counters of the power source: samples read, inputs rejected (by reason)."""
    m = power_source_metrics()
    return m.read, m.rejected
