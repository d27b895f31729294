"""The fire plugin's Prometheus metrics (bounded labels: a camera id only when ``camera_label`` is on)."""

from __future__ import annotations

from alcyon import LATENCY_BUCKETS, created_once


class _FireMetrics:
    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        self.frames = Counter("alcyon_fire_frames_total", "Camera frames, by outcome (received, processed, "
                              "skipped_night, rejected_<reason>).", ["outcome"])
        self.inference = Histogram("alcyon_fire_inference_seconds", "onnxruntime time per inference call "
                                   "(one call may hold several frames).", buckets=LATENCY_BUCKETS)
        self.inference_frames = Counter("alcyon_fire_inferred_frames_total", "Frames through the model.")
        self.detections = Counter("alcyon_fire_detections_total", "Smoke boxes kept after post-processing.")
        self.alerts = Counter("alcyon_fire_alerts_total", "Alert events, by kind (alert, update, end).", ["kind"])
        self.camera_up = Gauge("alcyon_fire_camera_up", "1 while a camera answers with new, decodable pictures; "
                               "0 when unreachable, stuck or undecodable.", ["camera"], multiprocess_mode="max")
        self.camera_problems = Counter("alcyon_fire_camera_problems_total", "Camera health problems, by kind "
                                       "(unreachable, stuck, undecodable).", ["camera", "kind"])


#: The process's fire metrics (created once).
fire_metrics = created_once(_FireMetrics)


def camera_label(camera: str, enabled: bool) -> str:
    """The ``camera`` label value: the id when the operator enabled it, else ``all``."""
    return camera if enabled else "all"
