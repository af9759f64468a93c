"""The TF.js graph-model to ONNX converter (:mod:`wildcam.training.tfjs`), without TensorFlow.

Each test writes a small graph model by hand (``model.json`` plus a ``.bin`` weight file made
with numpy), converts it, runs the ONNX model in ONNX Runtime and compares it with a numpy
reference of what TensorFlow computes (NHWC convolution, half-pixel bilinear resize, ...)."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from wildcam.errors import ModelError
from wildcam.training.tfjs import convert, read_weights

RNG_SEED = 7


# --- building TF.js graph models -------------------------------------------------------------


def _s(text: str) -> dict[str, str]:
    return {"s": base64.b64encode(text.encode()).decode()}


def _ints(values: list[int]) -> dict[str, Any]:
    return {"list": {"i": [str(v) for v in values]}}


def _node(name: str, op: str, inputs: Sequence[str] = (), **attr: Any) -> dict[str, Any]:
    return {"name": name, "op": op, "input": list(inputs), "attr": attr}


def _placeholder(name: str, shape: list[int]) -> dict[str, Any]:
    dims = [{"size": str(d)} for d in shape]
    return _node(name, "Placeholder", shape={"shape": {"dim": dims}}, dtype={"type": "DT_FLOAT"})


def _write_model(
    folder: Path,
    nodes: list[dict[str, Any]],
    consts: dict[str, np.ndarray],
    outputs: dict[str, list[int]],
    fmt: str = "graph-model",
) -> Path:
    """``model.json`` and its weights (two shards, so they must be joined) in ``folder``."""
    specs, blobs = [], []
    for name, array in consts.items():
        dtype = "int32" if array.dtype == np.int32 else "float32"
        specs.append({"name": name, "shape": list(array.shape), "dtype": dtype})
        blobs.append(np.ascontiguousarray(array, np.dtype(dtype)).tobytes())
    data = b"".join(blobs)
    (folder / "group1-shard1of2.bin").write_bytes(data[: len(data) // 2])
    (folder / "group1-shard2of2.bin").write_bytes(data[len(data) // 2 :])
    const_nodes = [
        _node(name, "Const", dtype={"type": "DT_INT32" if a.dtype == np.int32 else "DT_FLOAT"})
        for name, a in consts.items()
    ]
    spec = {
        "format": fmt,
        "generatedBy": "hand",
        "convertedBy": "test",
        "modelTopology": {"node": const_nodes + nodes},
        "weightsManifest": [
            {"paths": ["group1-shard1of2.bin", "group1-shard2of2.bin"], "weights": specs}
        ],
        "signature": {
            "outputs": {
                f"{name}:0": {
                    "name": f"{name}:0",
                    "dtype": "DT_FLOAT",
                    "tensorShape": {"dim": [{"size": str(d)} for d in shape]},
                }
                for name, shape in outputs.items()
            }
        },
    }
    path = folder / "model.json"
    path.write_text(json.dumps(spec))
    return path


def _run(model_json: Path, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    model = convert(model_json)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds), strict=True))


# --- numpy references of the TensorFlow ops --------------------------------------------------


def _conv_nhwc(x: np.ndarray, w: np.ndarray, stride: int) -> np.ndarray:
    """TF ``Conv2D``, NHWC input, HWIO filter, VALID padding."""
    kh, kw = w.shape[:2]
    oh = (x.shape[1] - kh) // stride + 1
    ow = (x.shape[2] - kw) // stride + 1
    out = np.zeros((x.shape[0], oh, ow, w.shape[3]), np.float64)
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride : i * stride + kh, j * stride : j * stride + kw, :]
            out[:, i, j, :] = np.einsum("nhwc,hwco->no", patch, w)
    return out


def _max_pool_2x2(x: np.ndarray) -> np.ndarray:
    n, h, w, c = x.shape
    x = x[:, : h // 2 * 2, : w // 2 * 2, :]
    return x.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def _half_pixel_matrix(size_in: int, size_out: int) -> np.ndarray:
    """The (out, in) matrix of TF's half-pixel linear interpolation along one axis."""
    m = np.zeros((size_out, size_in))
    for d in range(size_out):
        src = min(max((d + 0.5) * size_in / size_out - 0.5, 0.0), size_in - 1.0)
        lo = int(np.floor(src))
        hi = min(lo + 1, size_in - 1)
        frac = src - lo
        m[d, lo] += 1.0 - frac
        m[d, hi] += frac
    return m


def _resize_bilinear(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    rows = _half_pixel_matrix(x.shape[1], size[0])
    cols = _half_pixel_matrix(x.shape[2], size[1])
    return np.einsum("oh,pw,nhwc->nopc", rows, cols, x)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# --- read_weights ----------------------------------------------------------------------------


def test_read_weights_reads_plain_and_quantised_entries_across_shards(tmp_path: Path) -> None:
    floats = np.arange(6, dtype=np.float32).reshape(2, 3) / 4 - 0.3
    ints = np.array([-2, 0, 7, 2**20], np.int32)
    halves = np.array([0.5, -1.25, 3.0], np.float16)  # float16-quantised float32
    codes = np.array([[0, 1], [128, 255]], np.uint8)  # uint8-quantised float32
    scalar = np.array(3, np.int32)
    data = b"".join(
        a.tobytes() for a in (floats, ints, halves, codes, scalar)
    )  # 24 + 16 + 6 + 4 + 4 bytes
    (tmp_path / "a.bin").write_bytes(data[:30])
    (tmp_path / "b.bin").write_bytes(data[30:])
    manifest = [
        {
            "paths": ["a.bin", "b.bin"],
            "weights": [
                {"name": "floats", "shape": [2, 3], "dtype": "float32"},
                {"name": "ints", "shape": [4], "dtype": "int32"},
                {
                    "name": "halves",
                    "shape": [3],
                    "dtype": "float32",
                    "quantization": {"dtype": "float16", "original_dtype": "float32"},
                },
                {
                    "name": "codes",
                    "shape": [2, 2],
                    "dtype": "float32",
                    "quantization": {
                        "dtype": "uint8",
                        "scale": 0.5,
                        "min": -1.0,
                        "original_dtype": "float32",
                    },
                },
                {"name": "scalar", "shape": [], "dtype": "int32"},
            ],
        }
    ]
    weights = read_weights(manifest, tmp_path)
    assert set(weights) == {"floats", "ints", "halves", "codes", "scalar"}
    assert weights["floats"].dtype == np.float32
    np.testing.assert_array_equal(weights["floats"], floats)
    assert weights["ints"].dtype == np.int32
    np.testing.assert_array_equal(weights["ints"], ints)
    assert weights["halves"].dtype == np.float32
    np.testing.assert_array_equal(weights["halves"], [0.5, -1.25, 3.0])
    assert weights["codes"].dtype == np.float32
    np.testing.assert_allclose(weights["codes"], [[-1.0, -0.5], [63.0, 126.5]])
    assert weights["scalar"].shape == () and int(weights["scalar"]) == 3


def test_read_weights_reads_each_group_from_its_own_files(tmp_path: Path) -> None:
    (tmp_path / "g1.bin").write_bytes(np.array([1.5], np.float32).tobytes())
    (tmp_path / "g2.bin").write_bytes(np.array([9], np.int32).tobytes())
    manifest = [
        {"paths": ["g1.bin"], "weights": [{"name": "a", "shape": [1], "dtype": "float32"}]},
        {"paths": ["g2.bin"], "weights": [{"name": "b", "shape": [1], "dtype": "int32"}]},
    ]
    weights = read_weights(manifest, tmp_path)
    assert weights["a"].tolist() == [1.5] and weights["b"].tolist() == [9]


def test_read_weights_rounds_quantised_int32_weights_like_tfjs(tmp_path: Path) -> None:
    values = np.arange(8, dtype=np.int32)
    scale = 7 / 255  # what the TF.js quantiser picks for values 0..7
    codes = np.round(values / scale).astype(np.uint8)
    (tmp_path / "w.bin").write_bytes(codes.tobytes())
    quant = {"dtype": "uint8", "scale": scale, "min": 0.0, "original_dtype": "int32"}
    manifest = [
        {
            "paths": ["w.bin"],
            "weights": [{"name": "q", "shape": [8], "dtype": "int32", "quantization": quant}],
        }
    ]
    np.testing.assert_array_equal(read_weights(manifest, tmp_path)["q"], values)


def test_a_weight_past_the_end_of_the_files_is_a_model_error(tmp_path: Path) -> None:
    (tmp_path / "w.bin").write_bytes(np.zeros(5, np.float32).tobytes())
    manifest = [
        {
            "paths": ["w.bin"],
            "weights": [
                {"name": "fits", "shape": [2, 2], "dtype": "float32"},
                {"name": "too_long", "shape": [2], "dtype": "float32"},
            ],
        }
    ]
    with pytest.raises(ModelError, match="too_long"):
        read_weights(manifest, tmp_path)


# --- convert ---------------------------------------------------------------------------------


@pytest.mark.parametrize("stride", [1, 2])
def test_a_small_detector_graph_matches_numpy(tmp_path: Path, stride: int) -> None:
    rng = np.random.default_rng(RNG_SEED)
    x = rng.normal(size=(1, 3, 8, 8)).astype(np.float32)
    kernel = rng.normal(size=(3, 3, 3, 4)).astype(np.float32)  # HWIO
    bias = rng.normal(size=(4,)).astype(np.float32)
    conv_out = (10 - 3) // stride + 1  # 8x8 padded by 1 on each side
    pooled = conv_out // 2
    up = 2 * pooled
    consts = {
        "perm": np.array([0, 2, 3, 1], np.int32),
        "paddings": np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32),
        "kernel": kernel,
        "bias": bias,
        "size": np.array([up, up], np.int32),
        "concat_axis": np.array(3, np.int32),
        "split_sizes": np.array([3, 5], np.int32),
        "split_dim": np.array(3, np.int32),
        "shape_a": np.array([1, 0], np.int32),
        "shape_b": np.array([0, up * up * 5], np.int32),
    }
    nodes = [
        _placeholder("images", [1, 3, 8, 8]),
        _node("to_nhwc", "Transpose", ["images", "perm"]),
        _node("pad", "Pad", ["to_nhwc", "paddings"]),
        _node(
            "conv",
            "Conv2D",
            ["pad", "kernel"],
            padding=_s("VALID"),
            strides=_ints([1, stride, stride, 1]),
            dilations=_ints([1, 1, 1, 1]),
            data_format=_s("NHWC"),
        ),
        _node("biased", "Add", ["conv", "bias"]),
        _node("leaky", "LeakyRelu", ["biased"], alpha={"f": 0.1}),
        _node(
            "pool",
            "MaxPool",
            ["leaky"],
            ksize=_ints([1, 2, 2, 1]),
            strides=_ints([1, 2, 2, 1]),
            padding=_s("VALID"),
        ),
        _node(
            "resize",
            "ResizeBilinear",
            ["pool", "size"],
            half_pixel_centers={"b": True},
            align_corners={"b": False},
        ),
        _node("concat", "ConcatV2", ["resize", "resize", "concat_axis"]),
        _node("split", "SplitV", ["concat", "split_sizes", "split_dim"], num_split={"i": "2"}),
        _node("sigmoid", "Sigmoid", ["split"]),
        _node("flat_shape", "AddV2", ["shape_a", "shape_b"]),  # folded into [1, up*up*5]
        _node("flat", "Reshape", ["split:1", "flat_shape"]),
        _node("Identity", "Identity", ["sigmoid"]),
        _node("Identity_1", "Identity", ["flat"]),
    ]
    path = _write_model(
        tmp_path, nodes, consts, {"Identity": [1, up, up, 3], "Identity_1": [1, up * up * 5]}
    )
    got = _run(path, {"images": x})

    nhwc = np.pad(x.transpose(0, 2, 3, 1), [(0, 0), (1, 1), (1, 1), (0, 0)]).astype(np.float64)
    y = _conv_nhwc(nhwc, kernel.astype(np.float64), stride) + bias
    y = np.where(y > 0, y, 0.1 * y)
    y = _resize_bilinear(_max_pool_2x2(y), (up, up))
    both = np.concatenate([y, y], axis=3)
    expected_sigmoid = _sigmoid(both[..., :3])
    expected_flat = both[..., 3:].reshape(1, -1)

    assert set(got) == {"Identity", "Identity_1"}
    assert got["Identity"].shape == (1, up, up, 3)
    assert got["Identity_1"].shape == (1, up * up * 5)
    np.testing.assert_allclose(got["Identity"], expected_sigmoid, atol=1e-4)
    np.testing.assert_allclose(got["Identity_1"], expected_flat, atol=1e-4)


def test_same_padding_relu6_and_padv2_match_numpy(tmp_path: Path) -> None:
    rng = np.random.default_rng(RNG_SEED + 1)
    x = rng.normal(size=(1, 7, 8, 2)).astype(np.float32) * 3
    kernel = rng.normal(size=(3, 3, 2, 3)).astype(np.float32)
    consts = {
        "paddings": np.array([[0, 0], [0, 1], [2, 0], [0, 0]], np.int32),
        "pad_value": np.array(0.75, np.float32),
        "kernel": kernel,
    }
    nodes = [
        _placeholder("x", [1, 7, 8, 2]),
        _node("padded", "PadV2", ["x", "paddings", "pad_value"]),  # 1x8x10x2
        _node(
            "conv",
            "Conv2D",
            ["padded", "kernel"],
            padding=_s("SAME"),
            strides=_ints([1, 2, 2, 1]),
        ),
        _node("Identity", "Relu6", ["conv"]),
    ]
    path = _write_model(tmp_path, nodes, consts, {"Identity": [1, 4, 5, 3]})
    got = _run(path, {"x": x})["Identity"]

    padded = np.pad(x, [(0, 0), (0, 1), (2, 0), (0, 0)], constant_values=0.75).astype(np.float64)
    # TF SAME, stride 2: out = ceil(in / 2); the odd pixel of padding goes at the end
    same = np.pad(padded, [(0, 0), (0, 1), (0, 1), (0, 0)])  # 8 -> 4 and 10 -> 5 need 1 each
    expected = np.clip(_conv_nhwc(same, kernel.astype(np.float64), 2), 0.0, 6.0)
    assert got.shape == (1, 4, 5, 3)
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_an_unsupported_op_is_a_model_error_naming_it(tmp_path: Path) -> None:
    nodes = [_placeholder("x", [1, 4]), _node("Identity", "Softplus", ["x"])]
    path = _write_model(tmp_path, nodes, {"unused": np.zeros(1, np.float32)}, {"Identity": [1, 4]})
    with pytest.raises(ModelError, match="Softplus"):
        convert(path)


@pytest.mark.parametrize(
    ("op", "attrs", "message"),
    [
        ("MaxPool", {"ksize": [1, 2, 2, 1], "strides": [1, 2, 2, 1], "padding": "SAME"}, "SAME"),
        ("Conv2D", {"strides": [1, 1, 1, 1], "padding": "VALID", "data_format": "NCHW"}, "NCHW"),
        ("Conv2D", {"strides": [1, 1, 1, 1], "padding": "EXPLICIT"}, "EXPLICIT"),
    ],
)
def test_unsupported_attributes_are_model_errors(
    tmp_path: Path, op: str, attrs: dict[str, Any], message: str
) -> None:
    encoded = {k: _s(v) if isinstance(v, str) else _ints(v) for k, v in attrs.items()}
    inputs = ["x", "kernel"] if op == "Conv2D" else ["x"]
    nodes = [_placeholder("x", [1, 4, 4, 1]), _node("Identity", op, inputs, **encoded)]
    consts = {"kernel": np.ones((1, 1, 1, 1), np.float32)}
    path = _write_model(tmp_path, nodes, consts, {"Identity": [1, 4, 4, 1]})
    with pytest.raises(ModelError, match=message):
        convert(path)


def test_align_corners_resize_is_a_model_error(tmp_path: Path) -> None:
    nodes = [
        _placeholder("x", [1, 2, 2, 1]),
        _node("Identity", "ResizeBilinear", ["x", "size"], align_corners={"b": True}),
    ]
    path = _write_model(
        tmp_path, nodes, {"size": np.array([4, 4], np.int32)}, {"Identity": [1, 4, 4, 1]}
    )
    with pytest.raises(ModelError, match="align_corners"):
        convert(path)


def test_a_constant_without_a_weight_is_a_model_error(tmp_path: Path) -> None:
    nodes = [_node("orphan", "Const"), _placeholder("x", [1]), _node("Identity", "Relu", ["x"])]
    path = _write_model(tmp_path, nodes, {"w": np.zeros(1, np.float32)}, {"Identity": [1]})
    with pytest.raises(ModelError, match="orphan"):
        convert(path)


def test_a_model_that_is_not_a_graph_model_is_a_model_error(tmp_path: Path) -> None:
    nodes = [_placeholder("x", [1]), _node("Identity", "Relu", ["x"])]
    path = _write_model(
        tmp_path, nodes, {"w": np.zeros(1, np.float32)}, {"Identity": [1]}, fmt="layers-model"
    )
    with pytest.raises(ModelError, match=r"not a TF\.js graph model"):
        convert(path)
