"""The ``fire-alert`` processor: detections in, one alert per smoke sequence out (keyed by camera/pose, ordered).

The per-pose state (:mod:`alcyon_fire.alert`) lives in alcyon's keyed state, exactly as the
geofence's vessels do: read-modify-write by subject, redeliveries recognised by event id,
late frames handled by :func:`alcyon_fire.alert.step` (inserted in time order while within
the window).  ``fire.alert`` and ``fire.alert.end`` ids derive from the sequence's name (its
earliest frame over the smoke), not from the frame that happened to trigger them, so a
trigger frame delivered out of order does not change them.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Sequence, cast

from alcyon import Context, Event, KeyedState, derived_id

from .alert import ALERT, END, UPDATE, AlertRules, Decision, bearing, step
from .metrics import fire_metrics
from .vision import draw_boxes

KINDS = {ALERT: "alert", UPDATE: "update", END: "end"}


def _iso(event: Event) -> str:
    return event.time.isoformat().replace("+00:00", "Z")


def _iso_time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat().replace("+00:00", "Z")


class Alerter:
    def __init__(self, rules: AlertRules) -> None:
        self.rules = rules

    def handle_batch(self, events: Sequence[Event], ctx: Context) -> list[Event]:
        def transition(value: Any, event: Event, stale: bool) -> tuple[Any, list[Event]]:
            data = event.data  # a stale (late) frame too: step() knows what it may still do
            frame = {"id": event.id, "time": event.timestamp, "boxes": data["boxes"], "scores": data["scores"]}
            new, decision = step(value, frame, self.rules)
            if decision.kind is None:
                return new, []
            return new, [self._alert(decision, event, new, ctx)]

        derived = cast(KeyedState, ctx.state).apply(events, transition)  # stateful=True: a KeyedState
        m = fire_metrics()
        for event in derived:
            m.alerts.labels(KINDS[event.type]).inc()
        return derived

    def _alert(self, decision: Decision, event: Event, state: dict[str, Any], ctx: Context) -> Event:
        # not None: transition calls _alert only for a decision, which names its sequence
        kind, sequence = cast(str, decision.kind), cast(str, decision.sequence)
        data = event.data
        azimuth, fov = float(data.get("azimuth") or 0.0), float(data.get("fov") or 0.0)
        box = decision.box
        out: dict[str, Any] = {
            "camera": data["camera"], "pose": data.get("pose", ""), "azimuth": azimuth, "fov": fov,
            "bearing": bearing(azimuth, fov, box, data["width"]) if box else None,
            "time": _iso(event), "sequence": decision.sequence,
            "started": _iso_time(state["started"]) if state.get("started") is not None else None,
            "boxes": [box] if box else [], "confidence": round(decision.confidence, 4),
            "frames_with_smoke": decision.frames, "width": data["width"], "height": data["height"],
            "model": data.get("model", ""),
        }
        if kind == ALERT:
            out["window"] = [{"id": f["id"], "time": f["time"], "boxes": f["boxes"], "scores": f["scores"]}
                             for f in state["window"]]
            out["image"] = draw_boxes(data["jpeg"], data["boxes"], data["scores"])
            out["image_type"] = "image/jpeg"
        if kind == UPDATE:
            return ctx.derive(event, f"update:{decision.sequence}", UPDATE, out)
        rule = f"{ctx.processor}/{KINDS[kind]}"
        return Event(id=derived_id(sequence, rule), type=kind, source=f"alcyon/{ctx.processor}",
                     subject=event.subject, time=event.time, data=out,
                     extensions={"causeid": event.id, "rule": rule})
