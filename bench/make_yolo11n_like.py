"""Build a YOLO11n-sized ONNX detector with random weights, for the fire benchmark.

Latency does not depend on the weights, only on the graph: this one follows YOLO11n's shape
(width 0.25, depth 0.5: a stride-2 conv stem, C3k2-like bottleneck blocks at strides 4-32,
SPPF, a top-down and bottom-up neck, decoupled box/class heads at strides 8, 16, 32 with
DFL-sized box branches), about 2.5 M parameters and 7.3 GFLOPs at 640 px, close to
Ultralytics' YOLO11n (2.6 M, 6.5 GFLOPs).  Input ``images`` [N,3,S,S] float32 (dynamic
batch), output ``output0`` [N, 4+classes, anchors], the YOLO export layout.  The box values
it outputs are meaningless (random weights); only the cost is realistic.

Needs the ``onnx`` package (the ``fire`` extra's build/bench tooling, not a runtime
dependency)::

    python bench/make_yolo11n_like.py --out /tmp/yolo11n_like.onnx [--size 640] [--classes 1]
"""

from __future__ import annotations

import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class Graph:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.n = 0
        self.params = 0
        self.macs = 0

    def name(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def const(self, array: np.ndarray, prefix: str = "w") -> str:
        name = self.name(prefix)
        self.inits.append(numpy_helper.from_array(array, name))
        self.params += array.size
        return name

    def conv(self, x: str, cin: int, cout: int, k: int, s: int, hw: int, act: bool = True,
             group: int = 1) -> tuple[str, int]:
        """Conv (+ SiLU); ``hw`` is the input side, returns (output, output side)."""
        w = self.const((self.rng.standard_normal((cout, cin // group, k, k)) * (1.0 / np.sqrt(cin * k * k / group)))
                       .astype(np.float32))
        b = self.const(np.zeros(cout, np.float32), "b")
        y = self.name("conv")
        self.nodes.append(helper.make_node("Conv", [x, w, b], [y], kernel_shape=[k, k], strides=[s, s],
                                           pads=[k // 2] * 4, group=group))
        out = (hw + 2 * (k // 2) - k) // s + 1
        self.macs += out * out * cout * (cin // group) * k * k
        if not act:
            return y, out
        return self.silu(y), out

    def silu(self, x: str) -> str:
        s, y = self.name("sig"), self.name("silu")
        self.nodes += [helper.make_node("Sigmoid", [x], [s]), helper.make_node("Mul", [x, s], [y])]
        return y

    def op(self, kind: str, inputs: list[str], **attrs: object) -> str:
        y = self.name(kind.lower())
        self.nodes.append(helper.make_node(kind, inputs, [y], **attrs))
        return y

    def bottleneck(self, x: str, c: int, hw: int) -> str:
        y, _ = self.conv(x, c, c // 2, 3, 1, hw)
        y, _ = self.conv(y, c // 2, c, 3, 1, hw)
        return self.op("Add", [x, y])

    def c3k2(self, x: str, cin: int, cout: int, n: int, hw: int) -> str:
        """CSP block: split, n bottlenecks on one half, concat every stage, 1x1 fuse."""
        c = cout // 2
        y, _ = self.conv(x, cin, 2 * c, 1, 1, hw)
        a, b = self.name("split"), self.name("split")
        self.nodes.append(helper.make_node("Split", [y, self.const(np.array([c, c], np.int64), "s")], [a, b], axis=1))
        parts = [a, b]
        for _ in range(n):
            parts.append(self.bottleneck(parts[-1], c, hw))
        cat = self.op("Concat", parts, axis=1)
        out, _ = self.conv(cat, (2 + n) * c, cout, 1, 1, hw)
        return out

    def sppf(self, x: str, c: int, hw: int) -> str:
        h = c // 2
        y, _ = self.conv(x, c, h, 1, 1, hw)
        pools = [y]
        for _ in range(3):
            pools.append(self.op("MaxPool", [pools[-1]], kernel_shape=[5, 5], pads=[2, 2, 2, 2], strides=[1, 1]))
        out, _ = self.conv(self.op("Concat", pools, axis=1), 4 * h, c, 1, 1, hw)
        return out

    def upsample(self, x: str) -> str:
        scales = self.const(np.array([1, 1, 2, 2], np.float32), "sc")
        return self.op("Resize", [x, "", scales], mode="nearest")

    def head(self, x: str, c: int, hw: int, classes: int) -> str:
        """Box branch (4 x 16 DFL bins, reduced to 4 by a 1x1) and class branch, flattened to [N, 4+C, hw*hw]."""
        b, _ = self.conv(x, c, 64, 3, 1, hw)
        b, _ = self.conv(b, 64, 64, 3, 1, hw)
        b, _ = self.conv(b, 64, 64, 1, 1, hw, act=False)
        b, _ = self.conv(b, 64, 4, 1, 1, hw, act=False)  # stands in for the DFL softmax-expectation
        k = max(c, min(classes, 100))
        cl, _ = self.conv(x, c, c, 3, 1, hw, group=c)
        cl, _ = self.conv(cl, c, k, 1, 1, hw)
        cl, _ = self.conv(cl, k, k, 3, 1, hw, group=k)
        cl, _ = self.conv(cl, k, k, 1, 1, hw)
        cl, _ = self.conv(cl, k, classes, 1, 1, hw, act=False)
        cl = self.op("Sigmoid", [cl])
        cat = self.op("Concat", [b, cl], axis=1)
        shape = self.const(np.array([0, 4 + classes, -1], np.int64), "shape")
        return self.op("Reshape", [cat, shape])


def build(size: int, classes: int, seed: int = 0) -> tuple[onnx.ModelProto, int, int]:
    g = Graph(seed)
    x, hw = g.conv("images", 3, 16, 3, 2, size)          # P1/2
    x, hw = g.conv(x, 16, 32, 3, 2, hw)                  # P2/4
    x = g.c3k2(x, 32, 64, 1, hw)
    x, hw = g.conv(x, 64, 64, 3, 2, hw)                  # P3/8
    p3 = g.c3k2(x, 64, 128, 1, hw)
    hw3 = hw
    x, hw = g.conv(p3, 128, 128, 3, 2, hw)               # P4/16
    p4 = g.c3k2(x, 128, 128, 1, hw)
    hw4 = hw
    x, hw = g.conv(p4, 128, 256, 3, 2, hw)               # P5/32
    x = g.c3k2(x, 256, 256, 1, hw)
    p5 = g.sppf(x, 256, hw)
    hw5 = hw
    # neck: top-down
    n4 = g.c3k2(g.op("Concat", [g.upsample(p5), p4], axis=1), 384, 128, 1, hw4)
    n3 = g.c3k2(g.op("Concat", [g.upsample(n4), p3], axis=1), 256, 64, 1, hw3)
    # bottom-up
    d, _ = g.conv(n3, 64, 64, 3, 2, hw3)
    m4 = g.c3k2(g.op("Concat", [d, n4], axis=1), 192, 128, 1, hw4)
    d, _ = g.conv(m4, 128, 128, 3, 2, hw4)
    m5 = g.c3k2(g.op("Concat", [d, p5], axis=1), 384, 256, 1, hw5)
    outs = [g.head(n3, 64, hw3, classes), g.head(m4, 128, hw4, classes), g.head(m5, 256, hw5, classes)]
    g.nodes.append(helper.make_node("Concat", outs, ["output0"], axis=2))
    anchors = hw3 * hw3 + hw4 * hw4 + hw5 * hw5
    graph = helper.make_graph(
        g.nodes, "yolo11n_like_random",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, size, size])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, ["batch", 4 + classes, anchors])],
        g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="alcyon-bench")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model, g.params, g.macs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--size", type=int, default=640)
    parser.add_argument("--classes", type=int, default=1)
    args = parser.parse_args()
    model, params, macs = build(args.size, args.classes)
    onnx.save(model, args.out)
    print(f"{args.out}: {params / 1e6:.2f} M parameters, {2 * macs / 1e9:.2f} GFLOPs at {args.size} px")


if __name__ == "__main__":
    main()
