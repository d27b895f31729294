"""Pyronear's alert logic on scripted detection sequences (pure: no broker, no model)."""

from __future__ import annotations

import random

from alcyon_fire.alert import ALERT, END, UPDATE, AlertRules, bearing, step

SMOKE = [100.0, 100.0, 160.0, 150.0]
NEAR = [105.0, 102.0, 165.0, 152.0]
RULES = AlertRules(window=6, min_boxes=3, confidence=0.25, hysteresis=0.8, end_after=3, update_interval_s=60)


def run(sequence: list[tuple[float, list]], rules: AlertRules = RULES, state=None) -> tuple[list, dict]:
    """``sequence``: (time, [(box, score), ...]) per frame -> the alert kinds, in order, and the final state."""
    kinds = []
    for t, boxes in sequence:
        frame = {"id": f"f{t}", "time": t, "boxes": [b for b, _ in boxes], "scores": [s for _, s in boxes]}
        state, decision = step(state, frame, rules)
        if decision.kind:
            kinds.append((decision.kind, t))
            state["named"] = state.get("named", []) + [(decision.kind, decision.sequence)]
    return kinds, state


def frames(scores: list[float | None], start: float = 0.0, every: float = 30.0) -> list[tuple[float, list]]:
    return [(start + i * every, [] if s is None else [(SMOKE if i % 2 else NEAR, s)]) for i, s in enumerate(scores)]


def test_persistent_smoke_gives_one_alert_then_updates_then_an_end():
    kinds, _ = run(frames([0.5] * 10 + [None] * 3))
    assert kinds[0] == (ALERT, 60.0)  # the third overlapping box
    assert [k for k, _ in kinds].count(ALERT) == 1
    assert [k for k, _ in kinds[1:-1]] == [UPDATE] * len(kinds[1:-1]) and len(kinds[1:-1]) >= 3
    assert kinds[-1] == (END, 360.0)  # third frame in a row without smoke


def test_a_one_frame_flash_gives_no_alert():
    kinds, _ = run(frames([None, None, 0.95, None, None, None, None]))
    assert kinds == []


def test_weak_or_scattered_boxes_give_no_alert():
    assert run(frames([0.2, 0.2, 0.2, 0.2, 0.2, 0.2]))[0] == []          # mean 0.2 <= 0.25
    scattered = [(i * 30.0, [([i * 100.0, 0.0, i * 100.0 + 50, 50.0], 0.9)]) for i in range(6)]
    assert run(scattered)[0] == []                                        # never 3 overlapping boxes


def test_oscillation_around_the_threshold_follows_the_hysteresis():
    # opens at 0.3 (> 0.25); then 0.22 keeps it open (> 0.8 x 0.25 = 0.2) where it could not have opened it
    kinds, state = run(frames([0.3, 0.3, 0.3] + [0.22, 0.21, 0.22, 0.21, 0.22, 0.21]))
    assert [k for k, _ in kinds if k != UPDATE] == [ALERT]
    assert state["sequence"] is not None
    assert run(frames([0.22, 0.21, 0.22, 0.21, 0.22, 0.21]))[0] == []
    # below 0.8 x threshold for end_after frames: the sequence ends
    kinds, state = run(frames([0.3, 0.3, 0.3] + [0.15] * 9))
    assert [k for k, _ in kinds if k != UPDATE] == [ALERT, END] and state["sequence"] is None


def test_shuffled_or_duplicated_frames_never_open_a_second_sequence():
    sequence = frames([None, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5] + [None] * 3)
    kinds, state = run(sequence)
    assert [k for k, _ in kinds if k != UPDATE] == [ALERT, END]
    replay = list(sequence) * 2
    random.Random(7).shuffle(replay)
    more, _ = run(replay, state=state)            # every frame again, in any order: all before the end
    assert more == []
    duplicates = [(t, boxes) for t, boxes in sequence[:6] for _ in range(3)]  # each frame three times in a row
    kinds, _ = run(duplicates)
    assert [k for k, _ in kinds].count(ALERT) == 1 and kinds[0] == (ALERT, 90.0)


def test_frames_delivered_out_of_order_within_the_window_give_one_alert_named_after_the_earliest_plume_frame():
    sequence = frames([None, None, 0.5, 0.5, 0.5, 0.5])
    _, in_order = run(sequence)
    assert in_order["named"] == [(ALERT, "f60.0")]
    for seed in range(20):
        shuffled = list(sequence)
        random.Random(seed).shuffle(shuffled)
        kinds, state = run(shuffled)
        assert [k for k, _ in kinds] == [ALERT], seed  # one alert, whatever the order
        plume_seen = []
        for t, boxes in shuffled:
            plume_seen += [t] if boxes else []
            if len(plume_seen) == 3:
                break
        assert state["named"] == [(ALERT, f"f{min(plume_seen)}")], seed


def test_a_sequence_ends_and_a_new_one_later_opens_a_new_alert():
    first, state = run(frames([0.5] * 4 + [None] * 3))
    assert [k for k, _ in first if k != UPDATE] == [ALERT, END]
    second, _ = run(frames([0.5] * 4, start=1000.0), state=state)
    assert second == [(ALERT, 1060.0)]


def test_bearing_from_the_box_centre():
    assert bearing(135.0, 54.2, [600, 0, 680, 10], 1280) == 135.0          # centre of the image
    assert bearing(135.0, 60.0, [0, 0, 0, 10], 1280) == 105.0              # left edge: azimuth - fov / 2
    assert bearing(350.0, 60.0, [1280, 0, 1280, 10], 1280) == 20.0         # wraps past north
