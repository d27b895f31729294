"""Build the fire plugin's BASELINE smoke model: a hand-written ONNX graph, not a trained detector.

No real smoke weights can be downloaded where alcyon is built and tested, yet the real
preprocessing, inference and post-processing must run on real images.  This script writes a
small ONNX graph with the exact YOLO export interface (input ``images`` float32 [N,3,S,S]
RGB 0..1, dynamic batch; output ``output0`` [N, 4+1, anchors] with cx, cy, w, h in input
pixels then the ``smoke`` score) whose score is a hand-set rule, in the spirit of what smoke
looks like from a lookout tower:

* a pixel is *smoke-like* when it is grey (HSV saturation below ~0.3) and not dark
  (max channel above ~0.3): smoke plumes, haze... and clouds (the baseline's known false
  positives, as they are a real model's);
* a window is *textured* when the mean absolute difference between each pixel's luminance
  and its 3x3 neighbourhood mean is above a small floor: flat areas (the grey letterbox
  padding, a clear sky) score nothing;
* anchors are square windows at three scales (64, 128 and 256 px at 640, strides 32, 32, 64),
  scored ``fraction_of_smoke_like_pixels ** 2 * textured``.

Label it everywhere as a baseline.  Point the plugin at Pyronear's published YOLO model
(``[plugins.fire] model = "https://.../yolo11s.onnx"`` with ``model_sha256``, ``input_size``
matching its export) for real detection.  Reproducible: the graph has no random part::

    python plugins/fire/tools/build_baseline_model.py \
        --out plugins/fire/alcyon_fire/data/baseline_smoke_640.onnx --size 640

Needs the ``onnx`` package (in the ``fire`` extra's build/test tooling, not needed at run time).
"""

from __future__ import annotations

import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

#: (window side, stride) of each anchor scale, as fractions of the input side (640 -> 64/32, 128/32, 256/64)
SCALES = ((0.1, 0.05), (0.2, 0.05), (0.4, 0.1))
MAX_SATURATION = 0.35
MIN_BRIGHTNESS = 0.35
MAX_BRIGHTNESS = 0.78
MIN_WARMTH = -0.03


def build(size: int) -> onnx.ModelProto:
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []

    def const(name: str, value: np.ndarray | float) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value, np.float32), name))
        return name

    def const_i64(name: str, value: list[int]) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value, np.int64), name))
        return name

    def node(kind: str, inputs: list[str], *outputs: str, **attrs: object) -> str:
        nodes.append(helper.make_node(kind, inputs, list(outputs), **attrs))
        return outputs[0]

    # per-pixel maps [N,1,S,S]
    node("ReduceMax", ["images"], "mx", axes=[1], keepdims=1)
    node("ReduceMin", ["images"], "mn", axes=[1], keepdims=1)
    node("Sub", ["mx", "mn"], "chroma")
    node("Add", ["mx", const("eps", 1e-3)], "mx_eps")
    node("Div", ["chroma", "mx_eps"], "saturation")
    node("Sub", [const("sat_max", MAX_SATURATION), "saturation"], "grey_margin")
    node("Mul", ["grey_margin", const("k_grey", 20.0)], "grey_logit")
    node("Sigmoid", ["grey_logit"], "grey")
    node("Sub", ["mx", const("bright_min", MIN_BRIGHTNESS)], "bright_margin")
    node("Mul", ["bright_margin", const("k_bright", 20.0)], "bright_logit")
    node("Sigmoid", ["bright_logit"], "bright")
    node("Sub", [const("bright_max", MAX_BRIGHTNESS), "mx"], "white_margin")
    node("Mul", ["white_margin", const("k_white", 20.0)], "white_logit")
    node("Sigmoid", ["white_logit"], "not_white")
    node("Mul", ["bright", "not_white"], "mid_grey_level")
    node("Mul", ["grey", "mid_grey_level"], "grey_bright")
    # the letterbox padding (R = G = B = 114/255) is no smoke: a real model learns that too
    node("Sub", ["mx", const("pad", 114 / 255)], "pad_diff")
    node("Abs", ["pad_diff"], "pad_dist")
    node("Add", ["pad_dist", "chroma"], "pad_margin")
    node("Sub", ["pad_margin", const("pad_tol", 0.003)], "pad_excess")
    node("Mul", ["pad_excess", const("k_pad", 2000.0)], "pad_logit")
    node("Sigmoid", ["pad_logit"], "not_pad")
    node("Mul", ["grey_bright", "not_pad"], "smoky_grey")
    # warm grey (R >= B): smoke and its haze are brownish-grey, a clear or hazy sky and distant hills are blue
    node("Split", ["images", const_i64("rgb_split", [1, 1, 1])], "red", "green", "blue", axis=1)
    node("Sub", ["red", "blue"], "warmth")
    node("Sub", ["warmth", const("warm_min", MIN_WARMTH)], "warm_margin")
    node("Mul", ["warm_margin", const("k_warm", 30.0)], "warm_logit")
    node("Sigmoid", ["warm_logit"], "warm")
    node("Mul", ["smoky_grey", "warm"], "smoky")

    boxes: list[np.ndarray] = []
    scores: list[str] = []
    for index, (window_frac, stride_frac) in enumerate(SCALES):
        k, s = round(size * window_frac), round(size * stride_frac)
        node("AveragePool", ["smoky"], f"frac{index}", kernel_shape=[k, k], strides=[s, s])
        node("Mul", [f"frac{index}", f"frac{index}"], f"frac2_{index}")
        scores.append(node("Reshape", [f"frac2_{index}", const_i64(f"flat{index}", [0, 1, -1])], f"score{index}"))
        cells = (size - k) // s + 1
        centres = np.arange(cells, dtype=np.float32) * s + k / 2
        cy, cx = np.meshgrid(centres, centres, indexing="ij")
        side = np.full(cx.size, k, np.float32)
        boxes.append(np.stack([cx.ravel(), cy.ravel(), side, side]))
    node("Concat", scores, "scores", axis=2)                                   # [N,1,A]
    anchors = sum(b.shape[1] for b in boxes)
    inits.append(numpy_helper.from_array(np.concatenate(boxes, axis=1)[None], "anchor_boxes"))  # [1,4,A]
    # broadcast the constant boxes over the batch: boxes + 0 * scores (the batch axis comes from the scores)
    node("Mul", ["scores", const("zero", 0.0)], "zeros")
    node("Add", ["anchor_boxes", "zeros"], "boxes")                            # [N,4,A]
    node("Concat", ["boxes", "scores"], "output0", axis=1)                     # [N,5,A]

    graph = helper.make_graph(
        nodes, "alcyon_baseline_smoke",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, size, size])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, ["batch", 5, anchors])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="alcyon-baseline",
                              doc_string="BASELINE smoke scorer (hand-set rule, not trained): see "
                                         "plugins/fire/tools/build_baseline_model.py")
    model.ir_version = 8
    helper.set_model_props(model, {"names": "{0: 'smoke'}", "imgsz": f"[{size}, {size}]",
                                   "description": "alcyon baseline smoke scorer, not a trained model"})
    onnx.checker.check_model(model)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description="build the fire plugin's baseline smoke model (ONNX)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--size", type=int, default=640)
    args = parser.parse_args()
    onnx.save(build(args.size), args.out)
    print(f"wrote {args.out} (baseline, {args.size} px)")


if __name__ == "__main__":
    main()
