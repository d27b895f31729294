"""Image work around the model: JPEG decode, letterbox, YOLO output decoding, NMS, masks.

Coordinates: the model sees a ``size`` x ``size`` letterboxed image (aspect kept, grey 114
padding centred, as Ultralytics and Pyronear do); boxes come back as ``(x1, y1, x2, y2)`` in
ORIGINAL-frame pixels, mapped through the :class:`Letterbox` of each frame.
"""

from __future__ import annotations

import dataclasses
import io
import warnings
from typing import Any

import numpy as np

from alcyon import BadInput, PluginError

PAD_VALUE = 114


def pillow() -> Any:
    """Pillow's ``PIL`` package (the ``fire`` extra), imported when first needed, or a clear error."""
    try:
        import PIL.Image
        import PIL.ImageDraw
    except ImportError:
        raise PluginError("the fire plugin needs Pillow, from its extra: pip install 'alcyon[fire]'") from None
    return PIL


class BadFrame(BadInput):
    """A frame that cannot be used: not a JPEG, truncated, too large.  Dead-lettered, never retried."""

    def __init__(self, message: str, reason: str = "decode_error") -> None:
        super().__init__(message)
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class Letterbox:
    """How a frame of ``width`` x ``height`` was put into the model's square input."""

    width: int
    height: int
    scale: float
    pad_x: float
    pad_y: float

    @classmethod
    def of(cls, width: int, height: int, size: int) -> Letterbox:
        scale = min(size / width, size / height)
        new_w, new_h = round(width * scale), round(height * scale)
        return cls(width, height, scale, (size - new_w) / 2, (size - new_h) / 2)

    @property
    def resized(self) -> tuple[int, int]:
        return round(self.width * self.scale), round(self.height * self.scale)

    def to_original(self, boxes: np.ndarray) -> np.ndarray:
        """``boxes`` [K,4] xyxy in model-input pixels -> original-frame pixels, clipped to the frame."""
        out = np.empty_like(boxes, dtype=np.float32)
        out[:, [0, 2]] = (boxes[:, [0, 2]] - self.pad_x) / self.scale
        out[:, [1, 3]] = (boxes[:, [1, 3]] - self.pad_y) / self.scale
        out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, self.width)
        out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, self.height)
        return out


def open_jpeg(data: bytes, max_pixels: int) -> Any:
    """The frame as a lazily decoded Pillow image; :class:`BadFrame` if it is not an image or too large."""
    Image = pillow().Image
    if not isinstance(data, (bytes, bytearray, memoryview)) or not data:
        raise BadFrame(f"frame payload must be JPEG bytes, got {type(data).__name__} of length "
                       f"{len(data) if hasattr(data, '__len__') else '?'}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(bytes(data)))
    except (OSError, Image.DecompressionBombWarning, Image.DecompressionBombError, ValueError) as exc:
        raise BadFrame(f"frame is not a decodable image ({type(exc).__name__}: {exc})") from None
    width, height = image.size
    if width * height > max_pixels:
        raise BadFrame(f"frame of {width}x{height} ({width * height / 1e6:.1f} MP) is over the "
                       f"{max_pixels / 1e6:.1f} MP limit ([plugins.fire] max_frame_pixels)", reason="too_large")
    return image


def decode_letterboxed(data: bytes, size: int, max_pixels: int) -> tuple[np.ndarray, Letterbox, bool]:
    """JPEG bytes -> (model input [3,size,size] float32 RGB 0..1, its letterbox, is it a night/IR frame).

    Pillow's JPEG ``draft`` mode decodes at a reduced DCT scale when the frame is much larger
    than the model input (a 1280x720 frame decodes at 640x360 for a 640 model): several times
    cheaper than a full decode followed by a resize.
    """
    Image = pillow().Image
    image = open_jpeg(data, max_pixels)
    width, height = image.size
    box = Letterbox.of(width, height, size)
    new_w, new_h = box.resized
    try:
        if image.format == "JPEG":
            image.draft("RGB", (new_w, new_h))
        image = image.convert("RGB")
        if image.size != (new_w, new_h):
            image = image.resize((new_w, new_h), Image.BILINEAR)
        pixels = np.asarray(image)
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or corrupt data shows up at decode time
        raise BadFrame(f"frame could not be decoded ({type(exc).__name__}: {exc})") from None
    night = is_night(pixels)
    canvas = np.full((size, size, 3), PAD_VALUE, np.uint8)
    x0, y0 = int(box.pad_x), int(box.pad_y)
    canvas[y0:y0 + new_h, x0:x0 + new_w] = pixels
    return np.ascontiguousarray(canvas.transpose(2, 0, 1), dtype=np.float32) * np.float32(1 / 255), box, night


def is_night(pixels: np.ndarray, tolerance: int = 3, share: float = 0.98) -> bool:
    """An infrared night frame: grey (R = G = B within ``tolerance``) almost everywhere, as Pyronear checks."""
    sample = pixels[::4, ::4].astype(np.int16)
    spread = sample.max(axis=2) - sample.min(axis=2)
    return bool(np.mean(spread <= tolerance) >= share)


def candidates(output: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One frame's YOLO output [4+C, A] -> (xyxy boxes [K,4], scores [K], classes [K]) above ``confidence``."""
    class_scores = output[4:]
    classes = class_scores.argmax(axis=0)
    scores = class_scores[classes, np.arange(class_scores.shape[1])]
    keep = scores > confidence
    cx, cy, w, h = output[:4, keep]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)
    return boxes, scores[keep].astype(np.float32), classes[keep]


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box of ``a`` [K,4] with every box of ``b`` [M,4] (xyxy)."""
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Class-agnostic non-maximum suppression: indices of the kept boxes, best first."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        best = order[0]
        keep.append(int(best))
        if order.size == 1:
            break
        overlaps = iou_matrix(boxes[best:best + 1], boxes[order[1:]])[0]
        order = order[1:][overlaps <= iou]
    return np.array(keep, dtype=np.int64)


@dataclasses.dataclass(frozen=True)
class PostProcess:
    """What turns raw model output into detections (Pyronear's defaults)."""

    confidence: float = 0.05
    iou: float = 0.45
    max_box_width: float = 0.4   # as a fraction of the frame width
    mask_iou: float = 0.1
    max_detections: int = 5
    max_candidates: int = 300  # best boxes kept for NMS (an untrained or noisy model scores thousands)

    def detections(self, output: np.ndarray, box: Letterbox,
                   masks: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(xyxy boxes in original pixels [K,4], confidences [K]) of one frame, best first."""
        boxes, scores, _ = candidates(output, self.confidence)
        if scores.shape[0] > self.max_candidates:
            best = np.argpartition(-scores, self.max_candidates)[:self.max_candidates]
            boxes, scores = boxes[best], scores[best]
        if boxes.shape[0]:
            kept = nms(boxes, scores, self.iou)
            boxes, scores = box.to_original(boxes[kept]), scores[kept]
            narrow = (boxes[:, 2] - boxes[:, 0]) <= self.max_box_width * box.width
            boxes, scores = boxes[narrow], scores[narrow]
            if masks is not None and masks.shape[0] and boxes.shape[0]:
                clear = iou_matrix(boxes, masks).max(axis=1) <= self.mask_iou
                boxes, scores = boxes[clear], scores[clear]
        return boxes[:self.max_detections], scores[:self.max_detections]


def average_hash(data: bytes, side: int = 8) -> int:
    """A 64-bit perceptual hash of a JPEG (mean of an 8x8 grey thumbnail): equal pictures differ by 0-2 bits."""
    Image = pillow().Image
    image = Image.open(io.BytesIO(data))
    image.draft("L", (side * 8, side * 8))
    small = np.asarray(image.convert("L").resize((side, side), Image.BILINEAR), dtype=np.float32)
    bits = (small > small.mean()).ravel()
    return int("".join("1" if b else "0" for b in bits), 2)


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def draw_boxes(data: bytes, boxes: list[list[float]], scores: list[float], quality: int = 80) -> bytes:
    """The frame with its boxes and confidences drawn in red, as a JPEG."""
    PIL = pillow()
    image = PIL.Image.open(io.BytesIO(data)).convert("RGB")
    draw = PIL.ImageDraw.Draw(image)
    line = max(2, round(max(image.size) / 400))
    for (x1, y1, x2, y2), score in zip(boxes, scores):
        draw.rectangle((x1, y1, x2, y2), outline=(230, 20, 20), width=line)
        draw.text((x1 + line, max(0.0, y1 - 12 - line)), f"smoke {score:.2f}", fill=(230, 20, 20))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()
