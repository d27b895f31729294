"""The ``[plugins.fire]`` configuration: declared options and their validation into settings.

Every bad key is a :class:`~alcyon.ConfigError` naming it, at start-up.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Mapping

from alcyon import ConfigError, Option, mask_secret, resolve_secrets

from .alert import AlertRules
from .vision import PostProcess

#: ``input = "demo"``: the bundled replay (a plume cut from a real photo, see data/ATTRIBUTION.md)
DEMO_FRAMES = Path(__file__).parent / "data" / "frames" / "tower-1"

_CAMERA_KEYS = {"input", "pose", "azimuth", "fov", "interval_s", "masks", "username", "password", "auth",
                "timeout_s", "retries", "speed", "ca_file"}

OPTIONS = [
    Option("model", str, "", "YOLO-format ONNX smoke model: a path, or an https URL with model_sha256; "
                             "\"\": the bundled BASELINE model (a hand-set rule, not a trained detector)"),
    Option("model_sha256", str, "", "the model file's pinned sha256 (required for a URL)"),
    Option("model_cache_dir", str, "", "where downloaded models are kept (default ~/.cache/alcyon/models)"),
    Option("input_size", int, 640, "the model's square input side, in pixels (checked against the model)"),
    Option("classes", list, ["smoke"], "the model's class names, in output order (checked against the model)"),
    Option("threads", int, 0, "onnxruntime intra-op threads per process (0: one per core)"),
    Option("batch_size", int, 1, "frames per inference call when the model has a dynamic batch axis (on 2 cores "
                                 "batching did not pay: bench/bench_fire.py)"),
    Option("confidence", (int, float), 0.05, "drop boxes scored at or below this"),
    Option("iou", (int, float), 0.45, "class-agnostic NMS: drop a box overlapping a better one above this IoU"),
    Option("max_box_width", (int, float), 0.4, "drop boxes wider than this fraction of the frame"),
    Option("mask_iou", (int, float), 0.1, "drop boxes overlapping a camera's occlusion mask above this IoU"),
    Option("max_frame_pixels", int, 20_000_000, "frames larger than this are dead-lettered (too_large)"),
    Option("window", int, 6, "alert: sliding window of frames per camera pose"),
    Option("min_boxes", int, 3, "alert: overlapping boxes needed in the window"),
    Option("alert_confidence", (int, float), 0.25, "alert: their mean confidence must be above this"),
    Option("hysteresis", (int, float), 0.8, "alert: threshold factor while a sequence is open"),
    Option("end_after", int, 6, "alert: frames without smoke that end a sequence (fire.alert.end)"),
    Option("update_interval_s", (int, float), 300, "alert: at most one fire.alert.update per sequence this often"),
    Option("camera_label", bool, False, "label camera metrics with the camera id (bounded by your cameras)"),
    Option("stuck_distance", int, 2, "camera: a frame within this many bits (64-bit perceptual hash) of the "
                                     "last one is the same picture"),
    Option("stuck_after", int, 5, "camera: this many same pictures in a row make the camera 'stuck'"),
    Option("cameras", dict, {}, "[plugins.fire.cameras.<id>]: input (demo | dir:PATH | http(s)://... | rtsp://...), "
                                "pose, azimuth, fov, interval_s, masks, username, password, auth, timeout_s, "
                                "retries, speed, ca_file"),
]


@dataclasses.dataclass(frozen=True)
class Camera:
    """One camera (pose), as configured."""

    id: str
    input: str
    pose: str = ""
    azimuth: float = 0.0
    fov: float = 54.2
    interval_s: float = 30.0
    masks: tuple[tuple[float, float, float, float], ...] = ()  # normalised xyxy (0..1), like Pyronear's
    username: str = ""
    password: str = dataclasses.field(default="", repr=False)
    auth: str = "basic"
    timeout_s: float = 5.0
    retries: int = 2
    speed: float = 0.0
    ca_file: str = ""

    @property
    def subject(self) -> str:
        return f"{self.id}/{self.pose}" if self.pose else self.id


@dataclasses.dataclass(frozen=True)
class FireSettings:
    model: str
    model_sha256: str
    model_cache_dir: Path
    input_size: int
    classes: tuple[str, ...]
    threads: int
    batch_size: int
    post: PostProcess
    max_frame_pixels: int
    rules: AlertRules
    camera_label: bool
    stuck_distance: int
    stuck_after: int
    cameras: Mapping[str, Camera]

    def camera(self, camera_id: str) -> Camera | None:
        return self.cameras.get(camera_id)


def _number(table: Mapping[str, Any], key: str, where: str, default: float, lo: float | None = None,
            hi: float | None = None) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}.{key}: expected a number, got {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ConfigError(f"{where}.{key}: must be between {lo} and {hi}, got {value!r}")
    return float(value)


def _secret(value: str, where: str) -> str:
    """``value`` with its ``${env:NAME}`` / ``${file:PATH}`` references resolved, masked in every log line."""
    resolved, _ = resolve_secrets(value, where)  # each substituted value is masked from then on
    if where.endswith(".password") and resolved:
        mask_secret(resolved)  # a password written literally is a secret too
    return resolved


def camera_from_table(camera_id: str, table: Any) -> Camera:
    """One ``[plugins.fire.cameras.<id>]`` table, validated."""
    where = f"[plugins.fire.cameras.{camera_id}]"
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: expected a table, got {table!r}")
    unknown = set(table) - _CAMERA_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; accepted: "
                          f"{', '.join(sorted(_CAMERA_KEYS))}")
    uri = table.get("input")
    if uri == "demo":
        uri = f"dir:{DEMO_FRAMES}"
    if not isinstance(uri, str) or not uri.startswith(("dir:", "http://", "https://", "rtsp://", "rtsps://")):
        raise ConfigError(f"{where}.input: expected demo, dir:PATH, http(s)://... or rtsp://..., got {uri!r}")
    masks = []
    for index, mask in enumerate(table.get("masks", [])):
        if (not isinstance(mask, (list, tuple)) or len(mask) != 4
                or not all(isinstance(v, (int, float)) and 0 <= v <= 1 for v in mask)
                or mask[0] >= mask[2] or mask[1] >= mask[3]):
            raise ConfigError(f"{where}.masks[{index}]: expected [x1, y1, x2, y2] with 0 <= x1 < x2 <= 1 "
                              f"(fractions of the frame), got {mask!r}")
        masks.append(tuple(float(v) for v in mask))
    auth = table.get("auth", "basic")
    if auth not in ("basic", "digest"):
        raise ConfigError(f"{where}.auth: must be basic or digest, got {auth!r}")
    return Camera(
        id=camera_id, input=uri, pose=str(table.get("pose", "")),
        azimuth=_number(table, "azimuth", where, 0.0, 0, 360), fov=_number(table, "fov", where, 54.2, 1, 360),
        interval_s=_number(table, "interval_s", where, 30.0, 0), masks=tuple(masks),  # type: ignore[arg-type]
        username=_secret(str(table.get("username", "")), f"{where}.username"),
        password=_secret(str(table.get("password", "")), f"{where}.password"),
        auth=auth, timeout_s=_number(table, "timeout_s", where, 5.0, 0.1),
        retries=int(_number(table, "retries", where, 2, 0, 20)), speed=_number(table, "speed", where, 0.0, 0),
        ca_file=str(table.get("ca_file", "")),
    )


def parse(config: Mapping[str, Any]) -> FireSettings:
    """Validate the plugin's table into :class:`FireSettings`, naming the bad key."""
    for key, lo, hi in (("confidence", 0, 1), ("iou", 0, 1), ("max_box_width", 0, 1), ("mask_iou", 0, 1),
                        ("alert_confidence", 0, 1), ("hysteresis", 0, 1)):
        if not lo <= config[key] <= hi:
            raise ConfigError(f"[plugins.fire] {key}: must be between {lo} and {hi}, got {config[key]!r}")
    for key in ("input_size", "batch_size", "window", "min_boxes", "end_after", "max_frame_pixels", "stuck_after"):
        if config[key] < 1:
            raise ConfigError(f"[plugins.fire] {key}: must be >= 1, got {config[key]!r}")
    if config["min_boxes"] > config["window"]:
        raise ConfigError(f"[plugins.fire] min_boxes: {config['min_boxes']} cannot exceed window ({config['window']})")
    classes = config["classes"]
    if not classes or not all(isinstance(c, str) and c for c in classes):
        raise ConfigError(f"[plugins.fire] classes: expected a non-empty list of names, got {classes!r}")
    cache = config["model_cache_dir"] or os.path.join(os.path.expanduser("~"), ".cache", "alcyon", "models")
    return FireSettings(
        model=config["model"], model_sha256=config["model_sha256"].strip(), model_cache_dir=Path(cache),
        input_size=config["input_size"], classes=tuple(classes), threads=config["threads"],
        batch_size=config["batch_size"],
        post=PostProcess(confidence=float(config["confidence"]), iou=float(config["iou"]),
                         max_box_width=float(config["max_box_width"]), mask_iou=float(config["mask_iou"])),
        max_frame_pixels=config["max_frame_pixels"],
        rules=AlertRules(window=config["window"], min_boxes=config["min_boxes"],
                         confidence=float(config["alert_confidence"]), hysteresis=float(config["hysteresis"]),
                         end_after=config["end_after"], update_interval_s=float(config["update_interval_s"])),
        camera_label=config["camera_label"], stuck_distance=config["stuck_distance"],
        stuck_after=config["stuck_after"],
        cameras={camera_id: camera_from_table(camera_id, table) for camera_id, table in config["cameras"].items()},
    )
