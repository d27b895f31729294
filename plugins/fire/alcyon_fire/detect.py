"""The ``fire-detect`` processor: camera frames in, ``fire.detection`` out (stateless, scales freely).

A message's frames are decoded and letterboxed in a small thread pool (a batch or two
ahead) while earlier ones are inferred (Pillow and onnxruntime both release the GIL), in batches of ``batch_size``
when the model has a dynamic batch axis.  Night (infrared, grey) frames are skipped and
counted.  A bad frame (corrupt, truncated, too large) raises :class:`BadFrame`: alcyon then
re-runs the message's frames one by one, so it alone is dead-lettered with its reason.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Sequence, cast

import numpy as np

from alcyon import Context, Event

from .metrics import fire_metrics
from .model import Model, resolve_model
from .settings import FireSettings
from .vision import BadFrame, Letterbox, decode_letterboxed

DETECTION = "fire.detection"


class Detector:
    """One model session per process, shared by the worker's threads."""

    def __init__(self, settings: FireSettings) -> None:
        self.settings = settings
        self._model: Model | None = None
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="fire-decode")

    @property
    def model(self) -> Model:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    s = self.settings
                    path = resolve_model(s.model, s.model_sha256, s.model_cache_dir)
                    self._model = Model.shared(path, s.input_size, s.classes, s.threads)
        return self._model

    def _prepare(self, event: Event) -> tuple[np.ndarray, Letterbox, bool]:
        data = event.data
        jpeg = data.get("jpeg") if isinstance(data, dict) else data
        # bytes: camera.frame's type requires them (decode_letterboxed still refuses anything else)
        return decode_letterboxed(cast(bytes, jpeg), self.settings.input_size, self.settings.max_frame_pixels)

    def handle_batch(self, events: Sequence[Event], ctx: Context) -> list[Event]:
        model, m = self.model, fire_metrics()
        m.frames.labels("received").inc(len(events))
        size = self.settings.batch_size if model.dynamic_batch else 1
        # decode ahead of inference, but only a batch or two ahead: a decoded 640 px frame is 4.9 MB
        ahead = 2 * size + 1
        futures: dict[int, Future[tuple[np.ndarray, Letterbox, bool]]] = {
            i: self._pool.submit(self._prepare, events[i]) for i in range(min(ahead, len(events)))}
        derived: list[Event] = []
        chunk: list[tuple[Event, np.ndarray, Letterbox]] = []
        try:
            for index, event in enumerate(events):
                if index + ahead < len(events):
                    futures[index + ahead] = self._pool.submit(self._prepare, events[index + ahead])
                try:
                    pixels, box, night = futures.pop(index).result()
                except BadFrame as error:
                    m.frames.labels(f"rejected_{error.reason}").inc()
                    raise
                if night:
                    m.frames.labels("skipped_night").inc()
                    continue
                chunk.append((event, pixels, box))
                if len(chunk) >= size:
                    derived += self._infer(chunk, ctx)
                    chunk = []
            if chunk:
                derived += self._infer(chunk, ctx)
        finally:
            for future in futures.values():
                future.cancel()
        return derived

    def _infer(self, chunk: list[tuple[Event, np.ndarray, Letterbox]], ctx: Context) -> list[Event]:
        model, m, s = self.model, fire_metrics(), self.settings
        started = time.perf_counter()
        output = model.run(np.stack([pixels for _, pixels, _ in chunk]))
        took = time.perf_counter() - started
        m.inference.observe(took)
        m.inference_frames.inc(len(chunk))
        m.frames.labels("processed").inc(len(chunk))
        out = []
        for (event, _, box), frame_output in zip(chunk, output):
            data = event.data if isinstance(event.data, dict) else {"jpeg": event.data}
            camera = s.camera(str(data.get("camera", "")))
            masks = None
            if camera is not None and camera.masks:
                # numpy's stubs type float32(x) for scalars only; on a list it makes an array
                masks = np.asarray(camera.masks, np.float32) * np.float32([box.width, box.height] * 2)  # type: ignore[arg-type]
            boxes, scores = s.post.detections(frame_output, box, masks)
            m.detections.inc(len(scores))
            out.append(ctx.derive(event, "detection", DETECTION, {
                "camera": data.get("camera", event.subject), "pose": data.get("pose", ""),
                "azimuth": data.get("azimuth"), "fov": data.get("fov"),
                "width": box.width, "height": box.height,
                "boxes": [[round(float(v), 1) for v in b] for b in boxes],
                "scores": [round(float(v), 4) for v in scores],
                "model": model.id, "inference_s": round(took / len(chunk), 5),
                "frame": event.id, "jpeg": data["jpeg"],
            }))
        return out

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

