"""Letterbox, YOLO output decoding and NMS on hand-built tensors; the baseline model on the real plume."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alcyon_fire.model import BASELINE_MODEL, Model
from alcyon_fire.vision import (
    BadFrame,
    Letterbox,
    PostProcess,
    average_hash,
    candidates,
    decode_letterboxed,
    hamming,
    iou_matrix,
    is_night,
    nms,
)

IMAGES = Path(__file__).parents[3] / "plugins" / "fire" / "alcyon_fire" / "data" / "images"


def yolo_output(boxes_xyxy: list[list[float]], scores: list[float], anchors: int = 50) -> np.ndarray:
    """A [4+1, anchors] YOLO output holding these boxes (model-input pixels) and zeros elsewhere."""
    out = np.zeros((5, anchors), np.float32)
    for i, ((x1, y1, x2, y2), score) in enumerate(zip(boxes_xyxy, scores)):
        out[:, i * 3 + 1] = [(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1, score]
    return out


def jpeg(width: int, height: int, colour=(90, 140, 60)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "JPEG")
    return out.getvalue()


@pytest.mark.parametrize("width, height, pad_x, pad_y", [(1280, 720, 0, 140), (720, 1280, 140, 0)])
def test_letterbox_maps_known_boxes_back_to_the_original_frame(width, height, pad_x, pad_y):
    box = Letterbox.of(width, height, 640)
    assert box.scale == pytest.approx(0.5) and (box.pad_x, box.pad_y) == (pad_x, pad_y)
    original = np.array([[100, 200, 300, 260], [0, 0, 50, 40]], np.float32)
    in_model = original * 0.5 + np.array([pad_x, pad_y, pad_x, pad_y], np.float32)
    out = yolo_output(in_model.tolist(), [0.9, 0.6])
    boxes, scores = PostProcess(max_box_width=1.0).detections(out, box)
    np.testing.assert_allclose(boxes, original, atol=1e-3)
    np.testing.assert_allclose(scores, [0.9, 0.6])


def test_decode_letterbox_puts_the_picture_in_the_middle_with_grey_padding():
    pixels, box, night = decode_letterboxed(jpeg(1280, 720, (200, 30, 30)), 640, 20_000_000)
    assert pixels.shape == (3, 640, 640) and pixels.dtype == np.float32 and not night
    assert (box.width, box.height, box.pad_y) == (1280, 720, 140)
    assert pixels[:, 10, 320] == pytest.approx([114 / 255] * 3)            # top padding
    assert pixels[0, 320, 320] > 0.7 and pixels[1, 320, 320] < 0.2         # the red picture
    assert pixels[:, 639, 320] == pytest.approx([114 / 255] * 3)           # bottom padding


def test_candidates_and_class_agnostic_nms():
    out = np.zeros((6, 4), np.float32)  # two classes
    out[:4, 0], out[4, 0] = [50, 50, 20, 20], 0.9          # class 0
    out[:4, 1], out[5, 1] = [52, 50, 20, 20], 0.8          # class 1, same place: suppressed (class-agnostic)
    out[:4, 2], out[5, 2] = [150, 150, 20, 20], 0.7        # elsewhere: kept
    out[:4, 3], out[4, 3] = [300, 300, 20, 20], 0.04       # under the confidence threshold
    boxes, scores, classes = candidates(out, 0.05)
    assert boxes.shape == (3, 4) and classes.tolist() == [0, 1, 1]
    np.testing.assert_allclose(boxes[0], [40, 40, 60, 60])
    assert nms(boxes, scores, 0.45).tolist() == [0, 2]


def test_wide_boxes_and_masked_boxes_are_dropped():
    box = Letterbox.of(640, 640, 640)
    out = yolo_output([[0, 0, 400, 50], [500, 500, 560, 560], [100, 300, 150, 350]], [0.9, 0.8, 0.7])
    boxes, _ = PostProcess().detections(out, box, masks=np.array([[490, 490, 570, 570]], np.float32))
    np.testing.assert_allclose(boxes, [[100, 300, 150, 350]])  # wider than 40%: gone; under the mask: gone
    assert iou_matrix(np.array([[0, 0, 10, 10]], np.float32), np.array([[5, 0, 15, 10]], np.float32))[0, 0] == \
        pytest.approx(1 / 3)


def test_night_frames_are_recognised():
    grey = np.repeat(np.random.default_rng(0).integers(0, 255, (64, 64, 1), dtype=np.uint8), 3, axis=2)
    assert is_night(grey)
    assert not is_night(np.asarray(Image.open(IMAGES / "wildfire_example.jpg").convert("RGB")))


def test_bad_frames_are_precise_errors():
    good = (IMAGES / "wildfire_example.jpg").read_bytes()
    with pytest.raises(BadFrame, match="not a decodable image") as error:
        decode_letterboxed(b"\xff\xd8 this is not a jpeg", 640, 20_000_000)
    assert error.value.reason == "decode_error"
    with pytest.raises(BadFrame, match="could not be decoded") as error:
        decode_letterboxed(good[: len(good) // 2], 640, 20_000_000)
    assert error.value.reason == "decode_error"
    big = jpeg(8000, 5000)  # 40 MP (compresses to a few hundred kB: one colour)
    with pytest.raises(BadFrame, match=r"8000x5000 \(40.0 MP\) is over the 20.0 MP limit") as error:
        decode_letterboxed(big, 640, 20_000_000)
    assert error.value.reason == "too_large"


def test_perceptual_hash_sees_the_same_picture_and_a_different_one():
    frame = (IMAGES / "wildfire_example.jpg").read_bytes()
    recompressed = io.BytesIO()
    Image.open(io.BytesIO(frame)).save(recompressed, "JPEG", quality=60)
    other = (IMAGES / "flames_0003.jpg").read_bytes()
    assert hamming(average_hash(frame), average_hash(recompressed.getvalue())) <= 2
    assert hamming(average_hash(frame), average_hash(other)) > 10


def test_the_baseline_model_boxes_the_plume_of_the_real_wildfire_image():
    model = Model.load(BASELINE_MODEL, 640, ["smoke"])
    pixels, box, _ = decode_letterboxed((IMAGES / "wildfire_example.jpg").read_bytes(), 640, 20_000_000)
    boxes, scores = PostProcess().detections(model.run(pixels[None])[0], box)
    plume = np.array([[300, 60, 640, 440]], np.float32)   # hand-marked: the smoke column and where it spreads
    forest = np.array([[0, 470, 910, 683]], np.float32)   # hand-marked: trees, no smoke
    assert scores.size and scores[0] > 0.5
    inside = iou_matrix(boxes[:1], plume)[0, 0]
    assert inside > 0.05, (boxes, scores)
    cx, cy = (boxes[0, 0] + boxes[0, 2]) / 2, (boxes[0, 1] + boxes[0, 3]) / 2
    assert 300 <= cx <= 640 and 60 <= cy <= 440
    assert iou_matrix(boxes, forest).max() == 0
