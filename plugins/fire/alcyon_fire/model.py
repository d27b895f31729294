"""The smoke model: a YOLO-format ONNX detector, from a path or a pinned https URL, checked at load.

Interface (Ultralytics' ONNX export, Pyronear's models): input ``images`` float32
[N,3,S,S] RGB 0..1, output [N, 4+classes, anchors] (cx, cy, w, h in input pixels, then one
score per class).  The input side, the number of classes and, for a fixed batch axis, the
batch are checked against the configuration when the model loads; a mismatch is a
:class:`~alcyon.ConfigError` saying what the model has and what the configuration says.

A URL is downloaded once into ``cache_dir`` (named by its sha256), verified, and reused;
a digest mismatch is an error and the bad download is deleted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
import threading
import urllib.request
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from alcyon import ConfigError

BASELINE_MODEL = Path(__file__).parent / "data" / "baseline_smoke_640.onnx"

_SESSIONS: dict[tuple[str, int, tuple[str, ...], int], "Model"] = {}
_SESSIONS_LOCK = threading.Lock()


def resolve_model(location: str, sha256: str, cache_dir: Path) -> Path:
    """The local file of the model at ``location`` (path or https URL), its sha256 checked when given."""
    if location.startswith(("http://", "https://")):
        if not location.startswith("https://"):
            raise ConfigError(f"[plugins.fire] model: {location!r} must be https (a model is code-like: "
                              "fetch it over TLS and pin model_sha256)")
        if len(sha256) != 64:
            raise ConfigError("[plugins.fire] model_sha256: a model URL needs its pinned sha256 (64 hex digits)")
        cached = cache_dir / f"{sha256.lower()}.onnx"
        if cached.is_file() and _sha256(cached) == sha256.lower():
            return cached
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, partial = tempfile.mkstemp(dir=cache_dir, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(location, timeout=60) as response:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
            _check_digest(Path(partial), sha256, location)
            os.replace(partial, cached)
        except OSError as exc:
            raise ConfigError(f"[plugins.fire] model: cannot download {location}: {exc}") from None
        finally:
            if os.path.exists(partial):
                os.unlink(partial)
        return cached
    path = Path(location) if location else BASELINE_MODEL
    if not path.is_file():
        raise ConfigError(f"[plugins.fire] model: no such file {path} (give a path, an https URL with "
                          "model_sha256, or \"\" for the bundled baseline)")
    if sha256:
        _check_digest(path, sha256, str(path))
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _check_digest(path: Path, expected: str, where: str) -> None:
    actual = _sha256(path)
    if actual != expected.lower():
        raise ConfigError(f"[plugins.fire] model_sha256: {where} has sha256 {actual}, the configuration pins "
                          f"{expected.lower()}: wrong file or tampered download (fix the URL or the pin)")


@dataclasses.dataclass
class Model:
    """One onnxruntime session (one per process), with its checked interface."""

    session: Any
    path: Path
    input_name: str
    size: int
    classes: tuple[str, ...]
    dynamic_batch: bool
    id: str
    #: One inference at a time: the session's intra-op threads already use every core, and
    #: concurrent runs from several handler threads make their spinning threads fight (measured:
    #: up to 3x slower on 2 cores).  Decoding the next frames overlaps with the run instead.
    _running: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls, path: Path, size: int, classes: Sequence[str], threads: int = 0) -> Model:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own (Fail, InvalidGraph, ...)
            raise ConfigError(f"[plugins.fire] model: {path} is not a loadable ONNX model ({exc})") from None
        inputs, outputs = session.get_inputs(), session.get_outputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise ConfigError(f"[plugins.fire] model: {path.name} must have one [N,3,H,W] input, has "
                              f"{[(i.name, i.shape) for i in inputs]}")
        batch, channels, height, width = inputs[0].shape
        if channels != 3 or any(isinstance(side, int) and side != size for side in (height, width)):
            raise ConfigError(f"[plugins.fire] input_size: the model takes {inputs[0].shape} ({inputs[0].name}), "
                              f"the configuration says [N,3,{size},{size}]; set input_size to the model's")
        shape = outputs[0].shape
        if len(shape) != 3 or (isinstance(shape[1], int) and shape[1] != 4 + len(classes)):
            raise ConfigError(f"[plugins.fire] classes: the model's output is {shape} ({outputs[0].name}); a YOLO "
                              f"detector with {len(classes)} class(es) {list(classes)} outputs "
                              f"[N, {4 + len(classes)}, anchors]")
        model = cls(session, path, inputs[0].name, size, tuple(classes), not isinstance(batch, int) or batch > 1,
                    f"{path.stem}:{_sha256(path)[:12]}")
        model._check_output(size)
        return model

    @classmethod
    def shared(cls, path: Path, size: int, classes: Sequence[str], threads: int = 0) -> Model:
        """The process's one session for this model and configuration (loaded on first use)."""
        key = (str(path.resolve()), size, tuple(classes), threads)
        with _SESSIONS_LOCK:
            if key not in _SESSIONS:
                _SESSIONS[key] = cls.load(path, size, classes, threads)
            return _SESSIONS[key]

    def _check_output(self, size: int) -> None:
        """Run once on a blank frame: the dynamic dimensions must also fit (e.g. anchors of another input size)."""
        try:
            out = self.run(np.zeros((1, 3, size, size), np.float32))
        except Exception as exc:
            raise ConfigError(f"[plugins.fire] input_size: the model fails on a [1,3,{size},{size}] input: "
                              f"{str(exc)[:300]}") from None
        if out.ndim != 3 or out.shape[1] != 4 + len(self.classes):
            raise ConfigError(f"[plugins.fire] classes: the model outputs {list(out.shape)}, expected "
                              f"[N, {4 + len(self.classes)}, anchors] for classes {list(self.classes)}")

    def run(self, batch: np.ndarray) -> np.ndarray:
        """``batch`` [N,3,S,S] -> output [N, 4+C, A]; one call when the batch axis is dynamic, else frame by frame."""
        with self._running:
            if self.dynamic_batch or batch.shape[0] == 1:
                return self.session.run(None, {self.input_name: batch})[0]
            return np.concatenate([self.session.run(None, {self.input_name: batch[i:i + 1]})[0]
                                   for i in range(batch.shape[0])])
