"""Pyronear's alert logic, per camera pose: detections in, ONE alert per smoke sequence out.

A sliding window keeps the last ``window`` frames of a pose (their boxes and confidences).
Smoke is *present* when some box of the window overlaps boxes in at least ``min_boxes``
frames of it (one box per frame, the best overlapping one) with a mean confidence above
``confidence``; the lower ``confidence * hysteresis`` applies while a sequence is open, so
smoke hovering around the threshold does not flap.  The first frame where smoke is present opens a sequence:
one ``fire.alert``.  While it is open, a frame "still has smoke" when one of its boxes
overlaps the sequence's box with a confidence above ``confidence * hysteresis``; at most
one ``fire.alert.update`` every ``update_interval_s``; after ``end_after`` frames in a row
without smoke, ``fire.alert.end`` and the window is cleared (a later plume needs fresh
evidence and opens a new alert).

The state is a plain dict (msgpack-able) kept in alcyon's keyed state by subject
(camera/pose).  Frames may arrive out of order (see :func:`step`); duplicated frames and frames
from before the last sequence's end are ignored: they never open a second sequence.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .vision import iou_matrix

ALERT = "fire.alert"
UPDATE = "fire.alert.update"
END = "fire.alert.end"


@dataclasses.dataclass(frozen=True)
class AlertRules:
    window: int = 6
    min_boxes: int = 3
    confidence: float = 0.25
    hysteresis: float = 0.8
    end_after: int = 6
    update_interval_s: float = 300.0
    overlap_iou: float = 0.0  # boxes "overlap" when they intersect at all, as Pyronear counts them


@dataclasses.dataclass(frozen=True)
class Decision:
    """What one frame did to a pose's sequence: ``kind`` is ALERT, UPDATE, END or None."""

    kind: str | None
    sequence: str | None
    box: list[float] | None = None       # the box that carries the evidence (xyxy, original pixels)
    confidence: float = 0.0              # the mean confidence of its overlapping boxes
    frames: int = 0                      # how many frames of the window hold an overlapping box


def evidence(window: list[dict[str, Any]], rules: AlertRules,
             threshold: float) -> tuple[list[float], float, int] | None:
    """The best (box, mean confidence, frame count) of the window if smoke is present, else None."""
    frames = [(np.asarray(f["boxes"], np.float32).reshape(-1, 4), np.asarray(f["scores"], np.float32))
              for f in window]
    best: tuple[list[float], float, int] | None = None
    for boxes, scores in frames:
        for box, _score in zip(boxes, scores):
            picked: list[float] = []
            for other_boxes, other_scores in frames:
                if not other_boxes.shape[0]:
                    continue
                overlaps = iou_matrix(box[None], other_boxes)[0]
                hits = overlaps > rules.overlap_iou
                if hits.any():
                    picked.append(float(other_scores[hits].max()))
            if len(picked) >= rules.min_boxes:
                mean = sum(picked) / len(picked)
                if mean > threshold and (best is None or (len(picked), mean) > (best[2], best[1])):
                    best = ([float(v) for v in box], mean, len(picked))
    return best


def step(state: dict[str, Any] | None, frame: dict[str, Any], rules: AlertRules) -> tuple[dict[str, Any], Decision]:
    """Apply one frame (``id``, ``time`` in epoch seconds, ``boxes``, ``scores``) to a pose's state.

    Frames may arrive out of order (several ``fire-detect`` processes): a late frame still
    within the window is inserted in time order and may open a sequence, but never moves an
    open one forward or back; a frame at a time already seen (a duplicate), older than the
    window, or not after the end of the last sequence is ignored.  A sequence is named after
    the earliest frame of the window with a box over the evidence when it opens.
    """
    state = dict(state) if state else {"window": [], "sequence": None, "started": None, "misses": 0,
                                       "last_update": None, "last_time": None, "ended_at": None, "box": None}
    t = frame["time"]
    window = state["window"]
    if any(f["time"] == t for f in window) or (state["ended_at"] is not None and t <= state["ended_at"]) \
            or (len(window) >= rules.window and t < window[0]["time"]):
        return state, Decision(None, state["sequence"])
    late = state["last_time"] is not None and t < state["last_time"]
    entry = {k: frame[k] for k in ("id", "time", "boxes", "scores")}
    window = sorted(window + [entry], key=lambda f: f["time"])[-rules.window:]
    state["window"] = window
    open_ = state["sequence"] is not None
    if not late:
        state["last_time"] = t
    threshold = rules.confidence * (rules.hysteresis if open_ else 1.0)
    if not open_:
        found = evidence(window, rules, threshold)
        if found is None:
            return state, Decision(None, None)
        box, confidence, count = found
        first = _first_over(window, box, rules)
        state.update(sequence=first["id"], started=first["time"], last_update=t, box=box, misses=0)
        return state, Decision(ALERT, first["id"], box, confidence, count)
    if late:
        return state, Decision(None, state["sequence"])
    hit = _current_hit(frame, state["box"], threshold, rules)
    if hit is not None:
        state.update(misses=0, box=hit[0])
        if t - state["last_update"] >= rules.update_interval_s:
            state["last_update"] = t
            return state, Decision(UPDATE, state["sequence"], hit[0], hit[1], 1)
        return state, Decision(None, state["sequence"], hit[0], hit[1], 1)
    state["misses"] += 1
    if state["misses"] < rules.end_after:
        return state, Decision(None, state["sequence"])
    sequence = state["sequence"]
    state.update(sequence=None, started=None, misses=0, last_update=None, box=None, window=[], ended_at=t)
    return state, Decision(END, sequence, None)


def _first_over(window: list[dict[str, Any]], box: list[float], rules: AlertRules) -> dict[str, Any]:
    """The earliest frame of the window with a box over ``box``: what names the sequence."""
    target = np.asarray([box], np.float32)
    for f in window:
        boxes = np.asarray(f["boxes"], np.float32).reshape(-1, 4)
        if boxes.shape[0] and (iou_matrix(target, boxes)[0] > rules.overlap_iou).any():
            return f
    return window[-1]


def _current_hit(frame: dict[str, Any], box: list[float], threshold: float,
                 rules: AlertRules) -> tuple[list[float], float] | None:
    """The frame's best box over the open sequence's box, scored above ``threshold``: smoke still there."""
    boxes = np.asarray(frame["boxes"], np.float32).reshape(-1, 4)
    scores = np.asarray(frame["scores"], np.float32)
    if not boxes.shape[0]:
        return None
    ok = (iou_matrix(np.asarray([box], np.float32), boxes)[0] > rules.overlap_iou) & (scores > threshold)
    if not ok.any():
        return None
    best = int(np.argmax(np.where(ok, scores, -1)))
    return [float(v) for v in boxes[best]], float(scores[best])


def bearing(azimuth: float, fov: float, box: list[float], width: int) -> float:
    """The compass bearing (degrees) of a box's centre, from the camera's azimuth (image centre) and field of view."""
    centre = (box[0] + box[2]) / 2 / width
    return round((azimuth + (centre - 0.5) * fov) % 360.0, 2)
