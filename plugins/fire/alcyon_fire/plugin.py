"""fire: camera frames to ONE smoke alert per sequence, with an ONNX YOLO detector and Pyronear's logic.

Provides the ``camera`` source (``alcyon ingest camera``; ``camera.frame`` and
``camera.alert.<unreachable|stuck|undecodable|recovered>`` out), the stateless ``fire-detect``
processor (``camera.frame`` in, ``fire.detection`` out: scale it with workers) and the keyed, ordered ``fire-alert``
processor (``fire.detection`` in; ``fire.alert``, ``fire.alert.update``, ``fire.alert.end``
out).  The notify plugin delivers the alerts (its default ``*.alert.#`` takes all three).

Configuration (``alcyon.toml``; every key also as ``ALCYON_FIRE__<KEY>``)::

    [plugins.fire]
    model = ""                 # "" = bundled BASELINE model; a path; or an https URL + model_sha256
    model_sha256 = ""
    input_size = 640
    classes = ["smoke"]
    [plugins.fire.cameras.tower-1]
    input = "dir:frames/"      # or "demo" (the bundled replay), http(s)://... (snapshot), rtsp://...
    azimuth = 135.0            # degrees, of the image centre
    fov = 54.2                 # horizontal field of view, degrees

With no camera configured, the source publishes nothing and ``alcyon run`` is unchanged.

Other keys (``alcyon config check`` lists them with their help): ``threads`` (onnxruntime
intra-op threads), ``batch_size``, ``confidence`` (0.05), ``iou`` (0.45), ``max_box_width``
(0.4 of the frame), ``mask_iou`` (0.1), ``max_frame_pixels``, the alert window (``window`` 6,
``min_boxes`` 3, ``alert_confidence`` 0.25, ``hysteresis`` 0.8, ``end_after`` 6,
``update_interval_s`` 300), ``camera_label``, ``stuck_distance``, ``stuck_after``; per camera
``pose``, ``interval_s``, ``masks`` (``[[x1, y1, x2, y2], ...]`` as fractions of the frame),
``username``/``password`` (``${env:NAME}``, ``${file:PATH}``), ``auth`` (basic, digest),
``timeout_s``, ``retries``, ``ca_file``, ``speed`` (directory replay pacing; 0 = at once).

Real detection: the bundled model is a BASELINE (a colour rule, not trained).  Export
Pyronear's YOLO model to ONNX (or take their published ``.onnx``) and set ``model`` to its
path or https URL with ``model_sha256``, ``input_size`` to its export size (e.g. 1024) and
``classes = ["smoke"]``; the interface is checked when it loads.
"""

from __future__ import annotations

from typing import Any, Mapping

from alcyon import ConfigError, EventType, InvalidEvent, Option, PluginError, Processor, Source, get_logger, hookimpl

from .alert import ALERT, END, UPDATE
from .camera import FRAME, HEALTH, HEALTH_KINDS, run_source
from .detect import DETECTION, Detector
from .sequences import Alerter
from .settings import OPTIONS, parse
from .vision import pillow

log = get_logger("alcyon_fire")
_detectors: list[Detector] = []


@hookimpl
def alcyon_config_options() -> list[Option]:
    return list(OPTIONS)


def _jpeg_check(event: Any) -> None:
    if not isinstance(event.data.get("jpeg"), (bytes, bytearray)) or not event.data["jpeg"]:
        raise InvalidEvent(f"{event.type} event {event.id}: data.jpeg must be non-empty JPEG bytes")


@hookimpl
def alcyon_event_types() -> list[EventType]:
    alert_fields: dict[str, type | tuple[type, ...]] = {
        "camera": str, "pose": str, "azimuth": (int, float), "fov": (int, float), "time": str, "boxes": list,
        "sequence": str}
    return [
        EventType(FRAME, "a camera frame: data.jpeg = JPEG bytes; subject = camera[/pose]",
                  fields={"camera": str, "pose": str, "jpeg": (bytes, bytearray)}, check=_jpeg_check),
        *[EventType(HEALTH + kind, f"a camera's health changed: {kind}", fields={"camera": str, "status": str})
          for kind in HEALTH_KINDS],
        EventType(DETECTION, "smoke boxes of one frame (original pixels), with the frame",
                  fields={"camera": str, "boxes": list, "scores": list, "width": int, "height": int,
                          "jpeg": (bytes, bytearray)}),
        EventType(ALERT, "smoke: a new sequence on a camera pose, with the trigger image",
                  fields={**alert_fields, "bearing": (int, float), "image": (bytes, bytearray)}),
        EventType(UPDATE, "smoke: the sequence goes on", fields=alert_fields),
        EventType(END, "smoke: the sequence ended (no smoke for end_after frames)", fields=alert_fields),
    ]


@hookimpl
def alcyon_processors(config: Mapping[str, Any]) -> list[Processor]:
    settings = parse(config)
    detector = Detector(settings)
    _detectors.append(detector)
    return [
        # ordered: one message at a time per process, so a camera's detections leave in the order its
        # frames came (inference is one run at a time per process anyway; decoding overlaps it within a
        # message).  Stateless: more processes scale it; fire-alert copes with their small reorderings.
        Processor(name="fire-detect", subscribe=(FRAME,), handle_batch=detector.handle_batch,
                  description="camera frames -> smoke boxes (onnxruntime, stateless)", max_retries=3,
                  time_limit_ms=300_000, ordered=True),
        Processor(name="fire-alert", subscribe=(DETECTION,), handle_batch=Alerter(settings.rules).handle_batch,
                  description="smoke boxes -> one alert per sequence (keyed by camera/pose)",
                  stateful=True, ordered=True, state_remember="derived", state_ttl_s=7 * 86400, max_retries=8),
    ]


@hookimpl
def alcyon_sources(config: Mapping[str, Any]) -> list[Source]:
    return [Source(name="camera", publishes=(FRAME, *(HEALTH + kind for kind in HEALTH_KINDS)), run=run_source,
                   description="lookout cameras: directory replay, HTTP(S) snapshots, RTSP (PyAV)")]


@hookimpl
def alcyon_startup(config: Mapping[str, Any]) -> None:
    try:
        pillow()
    except PluginError as missing:
        if config.get("cameras"):
            raise ConfigError(f"[plugins.fire] cameras are configured but {missing}") from None
        log.warning("fire_plugin_idle", reason=str(missing))  # no camera: nothing to do anyway
        return
    for detector in _detectors:
        model = detector.model  # load (and check) the model before the first frame
        log.info("fire_model_loaded", model=model.id, path=str(model.path), input_size=model.size,
                 classes=list(model.classes), dynamic_batch=model.dynamic_batch)


@hookimpl
def alcyon_shutdown() -> None:
    while _detectors:
        _detectors.pop().close()
