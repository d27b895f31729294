"""Energy from power samples, one device at a time: counters (with wraps and resets) and power readings.

Pure functions on a small state dict (what the keyed store keeps per device), so that the
processor, the benchmarks and the tests share one implementation:

* a **counter** (``energy_uj``, RAPL-style, or ``energy_j``, Kepler-style): the energy of an
  interval is the increase. A drop with a known range (``max_range``) is a wrap: the range is
  added. A drop without a range is a reset: the new value counts from zero, as Prometheus'
  ``increase()`` does. A counter measures what happened in between, so it counts whatever the gap.
* a **power reading** (``watts``): the trapezoid rule between consecutive readings, as long as
  they are at most ``max_gap_s`` apart. A longer interval is a gap: reported, never interpolated.

Duplicates (same time as the last sample) and stale samples (older than it) change nothing.
A device that switches kind (counter to watts, or a counter's unit) starts afresh.
"""

from __future__ import annotations

import dataclasses
from typing import Any

#: Sample kinds and the factor from their unit to joules.
KINDS: dict[str, float] = {"energy_uj": 1e-6, "energy_j": 1.0, "watts": 1.0}

#: What :func:`step` made of a sample.
FIRST, DUPLICATE, STALE, GAP, INTERVAL, RESTART = "first", "duplicate", "stale", "gap", "interval", "restart"


@dataclasses.dataclass(frozen=True, slots=True)
class Sample:
    """One power sample: a cumulative counter (``energy_uj``, ``energy_j``) or a reading (``watts``)."""

    device: str
    time: float  # unix seconds
    kind: str
    value: float
    max_range: float | None = None  # the counter's wrap range, in its own unit (µJ for energy_uj)
    site: str = ""
    zone: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Step:
    """The outcome of one sample: ``outcome`` is one of FIRST, DUPLICATE, STALE, GAP, INTERVAL, RESTART.

    For INTERVAL, ``energy_j`` is the energy from ``start`` to ``end`` and the power is taken as
    linear from ``w0`` to ``w1`` in between (constant for counters) to split the energy in time.
    ``method`` says how it was measured: ``counter``, ``wrap``, ``reset`` or ``trapezoid``.
    For GAP, ``start`` and ``end`` bound the interval that was not counted.
    """

    outcome: str
    start: float = 0.0
    end: float = 0.0
    energy_j: float = 0.0
    method: str = ""
    w0: float = 0.0
    w1: float = 0.0


def step(state: dict[str, Any] | None, sample: Sample, max_gap_s: float) -> tuple[dict[str, Any], Step]:
    """The device's new state and what ``sample`` adds, given its previous ``state`` (None: none yet)."""
    new = {"t": sample.time, "k": sample.kind, "v": sample.value, "r": sample.max_range}
    if state is None:
        return new, Step(FIRST)
    t0 = state["t"]
    if sample.time == t0:
        return state, Step(DUPLICATE)  # the same dict: unchanged
    if sample.time < t0:
        return state, Step(STALE)
    if state["k"] != sample.kind:
        return new, Step(RESTART)
    dt = sample.time - t0
    if sample.kind == "watts":
        if dt > max_gap_s:
            return new, Step(GAP, t0, sample.time)
        w0, w1 = state["v"], sample.value
        return new, Step(INTERVAL, t0, sample.time, (w0 + w1) / 2 * dt, "trapezoid", w0, w1)
    increase = sample.value - state["v"]
    method = "counter"
    if increase < 0:
        if sample.max_range:
            increase += sample.max_range
            method = "wrap"
        else:
            increase = sample.value
            method = "reset"
    energy = increase * KINDS[sample.kind]
    power = energy / dt
    return new, Step(INTERVAL, t0, sample.time, energy, method, power, power)


def energy_between(s: Step, a: float, b: float) -> float:
    """The part of an INTERVAL step's energy that falls in ``[a, b]`` (inside the step), power linear in time."""
    span = s.end - s.start
    slope = (s.w1 - s.w0) / span
    wa = s.w0 + slope * (a - s.start)
    wb = s.w0 + slope * (b - s.start)
    return (wa + wb) / 2 * (b - a)
