"""The ``emissions`` processor: ``power.sample`` in, ``emissions.record`` and ``emissions.gap`` out.

Keyed by device (the event subject): the keyed store keeps each device's last sample, so
that counters and readings are integrated across batches and worker processes.  Each
accepted sample after a device's first closes one interval, which becomes one
``emissions.record`` derived from that sample (deterministic id: a redelivery re-publishes the
same record, and the archive keeps it once).  A power-reading interval longer than
``max_gap_s`` becomes an ``emissions.gap`` event instead.  Duplicates and stale samples derive
nothing.

Redeliveries: a worker killed after committing a device's state but before its records were
published gets the samples again.  Rather than the keyed state's map of whole derived events
(``state_remember="derived"``: ~400 bytes a record, re-packed with the device at every batch),
each device keeps digests of the ids of its last :data:`HISTORY` interval-closing samples with
the state before them (33 bytes each, :mod:`.history`); a sample found there is re-computed from
that state into the same record, with the same id.  A redelivery older than that window is
taken as stale: the limit is that a device must not have more than :data:`HISTORY` samples in
the message being handled when a worker dies (live devices send one every few seconds, a
batch holds a few of each; a one-device file replayed at full speed is the case that could lose
records, and the price of a bigger window is paid on every batch).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence, cast

from alcyon import Context, Event, KeyedState

from .co2e import Sites, account
from .energy import GAP, INTERVAL, Sample, Step, step
from .history import add, digest, find
from .intensity import Intensities
from .metrics import EmissionsMeter
from .samples import sample_of

#: Interval-closing samples remembered per device for redeliveries (see the module docstring).
HISTORY = 64

RECORD_EVENT = "emissions.record"
GAP_EVENT = "emissions.gap"


@dataclasses.dataclass(frozen=True)
class Settings:
    max_gap_s: float
    sites: Sites
    zones: Intensities


def record_data(s: Step, device: str, site: str, zone: str, settings: Settings) -> dict[str, Any]:
    """The data of the ``emissions.record`` of one INTERVAL step."""
    where = settings.sites.of(site)
    acc = account(s, where.pue, settings.zones.of(zone))
    return {"device": device, "site": site, "zone": zone, "start": s.start, "end": s.end,
            "energy_j": s.energy_j, "method": s.method, "pue": where.pue, "pue_basis": where.basis,
            "g_per_kwh": acc.g_per_kwh, "co2e_g": acc.co2e_g, "basis": acc.basis}


def gap_data(s: Step, device: str, site: str, zone: str, max_gap_s: float) -> dict[str, Any]:
    return {"device": device, "site": site, "zone": zone, "start": s.start, "end": s.end,
            "seconds": s.end - s.start, "max_gap_s": max_gap_s}


class Emissions:
    """The handler of the ``emissions`` processor."""

    def __init__(self, settings: Settings, meter: EmissionsMeter | None = None) -> None:
        self.settings = settings
        self.meter = meter

    def handle_batch(self, events: Sequence[Event], ctx: Context) -> list[Event]:
        settings = self.settings
        fresh: dict[str, Event] = {}  # records made by this call (not re-published ones), by id

        def derive(s: Step, event: Event, sample: Sample) -> list[Event]:
            if s.outcome == INTERVAL:
                return [ctx.derive(event, "record", RECORD_EVENT,
                                   record_data(s, sample.device, sample.site, sample.zone, settings))]
            return [ctx.derive(event, "gap", GAP_EVENT,
                               gap_data(s, sample.device, sample.site, sample.zone, settings.max_gap_s))]

        def transition(value: Any, event: Event, stale: bool) -> tuple[Any, list[Event]]:
            sample = sample_of(event)
            history: bytes = b"" if value is None else value["h"]
            key = digest(event.id)
            before = find(history, key) if history else None
            if before is not None:  # a redelivery: the same record again, nothing applied twice
                return value, derive(step(before, sample, settings.max_gap_s)[1], event, sample)
            new, s = step(value, sample, settings.max_gap_s)
            if s.outcome not in (INTERVAL, GAP):
                if self.meter is not None:
                    self.meter.ignored(s.outcome)
                return (value if new is value else {**new, "h": history}), []
            new["h"] = add(history, key, value, HISTORY)  # type: ignore[arg-type]  # value: not None here
            out = derive(s, event, sample)
            fresh[out[0].id] = out[0]
            return new, out

        derived = cast(KeyedState, ctx.state).apply(events, transition)  # stateful=True: a KeyedState
        if self.meter is not None:
            self.meter.count([e for e in derived if e.id in fresh])
        return derived
