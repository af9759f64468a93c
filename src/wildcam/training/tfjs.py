"""Convert a TensorFlow.js graph model (``model.json`` + weight files) to ONNX, without TensorFlow.

Build-time only (``make models``): the people-and-vehicles detector ships as a TF.js graph model
inside an npm package (:mod:`wildcam.training.objects`), and the cascade runs ONNX. A graph
model is a TensorFlow ``GraphDef`` in JSON plus a weights manifest; this maps the small set of
ops such a converted convolutional detector uses onto ONNX, folds the integer shape arithmetic
into constants with numpy, and leaves every float op to ONNX Runtime. An op outside the set is a
:class:`~wildcam.errors.ModelError` naming it, never a silent approximation.

TensorFlow's convolutions and pooling here are NHWC; ONNX's are NCHW, so each is wrapped in a
pair of transposes (ONNX Runtime's optimiser cancels the pairs that meet).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from wildcam.errors import ModelError

__all__ = ["convert", "read_weights"]

NHWC_TO_NCHW = [0, 3, 1, 2]
NCHW_TO_NHWC = [0, 2, 3, 1]
_DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}
_QUANT = {"float16": np.float16, "uint8": np.uint8, "uint16": np.uint16}


def read_weights(manifest: Sequence[Mapping[str, Any]], folder: Path) -> dict[str, np.ndarray]:
    """The weights of a TF.js ``weightsManifest``, by name, dequantised to their original type."""
    out: dict[str, np.ndarray] = {}
    for group in manifest:
        data = b"".join((folder / p).read_bytes() for p in group["paths"])
        offset = 0
        for spec in group["weights"]:
            shape = [int(s) for s in spec["shape"]]
            count = int(np.prod(shape)) if shape else 1
            quant = spec.get("quantization")
            stored = _QUANT[quant["dtype"]] if quant else _DTYPES[spec["dtype"]]
            size = count * np.dtype(stored).itemsize
            if offset + size > len(data):
                raise ModelError(f"{folder}: weight {spec['name']!r} runs past the weight files")
            raw: np.ndarray = np.frombuffer(data, stored, count, offset).reshape(shape)
            offset += size
            if quant and quant["dtype"] in ("uint8", "uint16"):
                raw = raw * np.float32(quant["scale"]) + np.float32(quant["min"])
                if spec["dtype"] != "float32":
                    raw = np.rint(raw)  # TF.js rounds dequantised integers
            out[spec["name"]] = raw.astype(_DTYPES[spec["dtype"]])
    return out


def _attr(node: Mapping[str, Any], key: str) -> Any:
    value = node.get("attr", {}).get(key, {})
    if "s" in value:
        return base64.b64decode(value["s"]).decode()
    if "list" in value:
        return [int(i) for i in value["list"].get("i", [])]
    for kind in ("i", "f", "b"):
        if kind in value:
            return int(value[kind]) if kind == "i" else value[kind]
    return None


def _sparse_to_dense(
    indices: np.ndarray, shape: np.ndarray, values: np.ndarray, default: np.ndarray
) -> np.ndarray:
    out = np.full(shape.astype(np.int64), default)
    if indices.size:
        out[tuple(indices.reshape(len(indices), -1).T)] = values
    return out


_FOLD: dict[str, Callable[..., np.ndarray]] = {
    "AddV2": np.add,
    "Add": np.add,
    "SparseToDense": _sparse_to_dense,
}
"""Integer ops evaluated at conversion time when every input is a constant (shape arithmetic)."""


class _Graph:
    def __init__(self, consts: dict[str, np.ndarray]) -> None:
        self.consts = consts
        self.nodes: list[onnx.NodeProto] = []
        self.inits: dict[str, np.ndarray] = {}
        self._n = 0

    def name(self, base: str) -> str:
        self._n += 1
        return f"{base}__{self._n}"

    def const(self, ref: str) -> np.ndarray:
        key = ref.split(":")[0] if ref.endswith(":0") else ref
        if key not in self.consts:
            raise ModelError(f"input {ref!r} must be a constant here")
        return self.consts[key]

    def value(self, ref: str) -> str:
        """The ONNX name of tensor ``ref``, adding an initializer for a constant."""
        key = ref[:-2] if ref.endswith(":0") else ref
        if key in self.consts:
            self.inits.setdefault(key, self.consts[key])
        return key

    def add(self, op: str, inputs: Sequence[str], output: str, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op, list(inputs), [output], name=output, **attrs))
        return output

    def init(self, base: str, array: np.ndarray) -> str:
        name = self.name(base)
        self.inits[name] = array
        return name

    def nchw(self, op: str, x: str, out: str, extra: Sequence[str] = (), **attrs: Any) -> None:
        """``op`` on NHWC tensor ``x`` as ONNX's NCHW op, transposed in and out."""
        t_in = self.add("Transpose", [x], self.name(out + "_nchw"), perm=NHWC_TO_NCHW)
        y = self.add(op, [t_in, *extra], self.name(out + "_y"), **attrs)
        self.add("Transpose", [y], out, perm=NCHW_TO_NHWC)


def _convert_node(g: _Graph, node: Mapping[str, Any]) -> None:
    op, out, ins = node["op"], node["name"], list(node.get("input", []))
    if op in _FOLD and all((i[:-2] if i.endswith(":0") else i) in g.consts for i in ins):
        g.consts[out] = np.asarray(_FOLD[op](*[g.const(i) for i in ins]))
        return
    if op == "Identity":
        key = ins[0][:-2] if ins[0].endswith(":0") else ins[0]
        if key in g.consts:
            g.consts[out] = g.consts[key]
        else:
            g.add("Identity", [g.value(ins[0])], out)
    elif op in ("Add", "AddV2"):
        g.add("Add", [g.value(ins[0]), g.value(ins[1])], out)
    elif op in ("Sigmoid", "Relu"):
        g.add(op, [g.value(ins[0])], out)
    elif op == "Relu6":
        g.add(
            "Clip",
            [
                g.value(ins[0]),
                g.init("zero", np.array(0, np.float32)),
                g.init("six", np.array(6, np.float32)),
            ],
            out,
        )
    elif op == "LeakyRelu":
        g.add("LeakyRelu", [g.value(ins[0])], out, alpha=float(_attr(node, "alpha")))
    elif op == "Transpose":
        g.add("Transpose", [g.value(ins[0])], out, perm=[int(p) for p in g.const(ins[1])])
    elif op == "Reshape":
        shape = g.init("shape", g.const(ins[1]).astype(np.int64))
        g.add("Reshape", [g.value(ins[0]), shape], out)
    elif op in ("Pad", "PadV2"):
        pads = g.const(ins[1]).astype(np.int64)
        extra = [g.init("pads", np.concatenate([pads[:, 0], pads[:, 1]]))]
        if op == "PadV2":
            extra.append(g.init("pad_value", np.asarray(g.const(ins[2]), np.float32).reshape(())))
        g.add("Pad", [g.value(ins[0]), *extra], out)
    elif op == "ConcatV2":
        axis = int(g.const(ins[-1]))
        g.add("Concat", [g.value(i) for i in ins[:-1]], out, axis=axis)
    elif op == "SplitV":
        sizes, axis = g.const(ins[1]).astype(np.int64), int(g.const(ins[2]))
        outs = [out if k == 0 else f"{out}:{k}" for k in range(len(sizes))]
        g.nodes.append(
            helper.make_node(
                "Split", [g.value(ins[0]), g.init("split", sizes)], outs, name=out, axis=axis
            )
        )
    elif op == "Conv2D":
        _conv(g, node, ins, out)
    elif op == "MaxPool":
        _check_format(node)
        if _attr(node, "padding") != "VALID":
            raise ModelError(f"{out}: MaxPool padding {_attr(node, 'padding')} is not supported")
        ksize, strides = _attr(node, "ksize"), _attr(node, "strides")
        g.nchw("MaxPool", g.value(ins[0]), out, kernel_shape=ksize[1:3], strides=strides[1:3])
    elif op == "ResizeBilinear":
        if _attr(node, "align_corners"):
            raise ModelError(f"{out}: align_corners is not supported")
        size = g.const(ins[1]).astype(np.int64)
        mode = "half_pixel" if _attr(node, "half_pixel_centers") else "asymmetric"
        t_in = g.add("Transpose", [g.value(ins[0])], g.name(out + "_nchw"), perm=NHWC_TO_NCHW)
        shape = g.add("Shape", [t_in], g.name(out + "_shape"))
        nc = g.add(
            "Slice",
            [shape, g.init("s0", np.array([0])), g.init("s2", np.array([2]))],
            g.name(out + "_nc"),
        )
        full = g.add("Concat", [nc, g.init("hw", size)], g.name(out + "_sizes"), axis=0)
        y = g.add(
            "Resize",
            [t_in, "", "", full],
            g.name(out + "_y"),
            mode="linear",
            coordinate_transformation_mode=mode,
        )
        g.add("Transpose", [y], out, perm=NCHW_TO_NHWC)
    else:
        raise ModelError(f"{out}: TF.js op {op!r} is not supported by the converter")


def _check_format(node: Mapping[str, Any]) -> None:
    fmt = _attr(node, "data_format") or "NHWC"
    if fmt != "NHWC":
        raise ModelError(f"{node['name']}: data_format {fmt} is not supported")


def _conv(g: _Graph, node: Mapping[str, Any], ins: list[str], out: str) -> None:
    _check_format(node)
    padding = _attr(node, "padding")
    if padding not in ("VALID", "SAME"):
        raise ModelError(f"{out}: Conv2D padding {padding} is not supported")
    kernel = g.const(ins[1])  # H, W, in/groups, out
    strides, dilations = _attr(node, "strides"), _attr(node, "dilations") or [1, 1, 1, 1]
    weight = g.init("w", np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)).astype(np.float32))
    attrs: dict[str, Any] = {
        "kernel_shape": list(kernel.shape[:2]),
        "strides": strides[1:3],
        "dilations": dilations[1:3],
        "auto_pad": "SAME_UPPER" if padding == "SAME" else "VALID",
    }
    g.nchw("Conv", g.value(ins[0]), out, [weight], **attrs)


def _perm(node: onnx.NodeProto) -> list[int]:
    return next((list(a.ints) for a in node.attribute if a.name == "perm"), [])


def _fold_pads(nodes: list[onnx.NodeProto], inits: Mapping[str, np.ndarray]) -> None:
    """Fold each zero ``Pad`` of an NCHW tensor's height and width that reaches a ``Conv``
    through an NCHW -> NHWC -> NCHW pair of transposes (how converted graphs pad) into the
    convolution's ``pads``: one op fewer, and ONNX Runtime can keep its blocked layout."""
    producer = {o: n for n in nodes for o in n.output}
    for conv in (n for n in nodes if n.op_type == "Conv"):
        back = producer.get(conv.input[0])
        there = producer.get(back.input[0]) if back is not None else None
        pad = producer.get(there.input[0]) if there is not None else None
        if not (
            back is not None
            and there is not None
            and pad is not None
            and back.op_type == "Transpose"
            and _perm(back) == NHWC_TO_NCHW
            and there.op_type == "Transpose"
            and _perm(there) == NCHW_TO_NHWC
            and pad.op_type == "Pad"
            and pad.input[1] in inits
        ):
            continue
        pads = np.asarray(inits[pad.input[1]]).tolist()
        value = np.asarray(inits[pad.input[2]]) if len(pad.input) > 2 and pad.input[2] else 0
        if len(pads) != 8 or pads[0] or pads[1] or pads[4] or pads[5] or np.any(value != 0):
            continue
        conv.input[0] = pad.input[0]
        kept = [a for a in conv.attribute if a.name != "auto_pad"]
        del conv.attribute[:]
        conv.attribute.extend(kept)
        conv.attribute.append(helper.make_attribute("pads", [*pads[2:4], *pads[6:8]]))


def _live(nodes: list[onnx.NodeProto], outputs: Sequence[str]) -> list[onnx.NodeProto]:
    """``nodes`` that some of ``outputs`` depends on, in order."""
    producer = {o: n for n in nodes for o in n.output}
    needed, stack = set(), list(outputs)
    while stack:
        node = producer.get(stack.pop())
        if node is not None and id(node) not in needed:
            needed.add(id(node))
            stack.extend(i for i in node.input if i)
    return [n for n in nodes if id(n) in needed]


def convert(model_json: Path, opset: int = 17) -> onnx.ModelProto:
    """The ONNX model of the TF.js graph model at ``model_json`` (weights beside it)."""
    spec = json.loads(Path(model_json).read_text())
    if spec.get("format") != "graph-model":
        raise ModelError(f"{model_json}: not a TF.js graph model")
    consts = read_weights(spec["weightsManifest"], Path(model_json).parent)
    g = _Graph(consts)
    inputs, outputs = [], []
    for node in spec["modelTopology"]["node"]:
        if node["op"] == "Const":
            if node["name"] not in consts:
                raise ModelError(f"{model_json}: constant {node['name']!r} has no weight")
        elif node["op"] == "Placeholder":
            dims = [int(d["size"]) for d in node["attr"]["shape"]["shape"]["dim"]]
            inputs.append(helper.make_tensor_value_info(node["name"], TensorProto.FLOAT, dims))
        else:
            _convert_node(g, node)
    for name in spec["signature"]["outputs"]:
        key = name[:-2] if name.endswith(":0") else name
        dims = [int(d["size"]) for d in spec["signature"]["outputs"][name]["tensorShape"]["dim"]]
        outputs.append(helper.make_tensor_value_info(key, TensorProto.FLOAT, dims))
    _fold_pads(g.nodes, g.inits)
    nodes = _live(g.nodes, [o.name for o in outputs])
    used = {i for n in nodes for i in n.input}
    graph = helper.make_graph(
        nodes,
        Path(model_json).stem,
        inputs,
        outputs,
        [numpy_helper.from_array(np.asarray(v), k) for k, v in g.inits.items() if k in used],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model
