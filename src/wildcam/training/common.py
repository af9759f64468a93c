"""Helpers shared by the training steps: seeding, ONNX export, int8 quantisation, timing, MACs."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

__all__ = [
    "count_macs",
    "count_params",
    "export_onnx",
    "seed_everything",
    "sha256_file",
]

TRAIN_THREADS = 2
"""Fixed torch thread count: float reductions depend on it, and the builds must repeat."""


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch; deterministic kernels; fixed thread count."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(TRAIN_THREADS)
    torch.use_deterministic_algorithms(True)


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, shape: Sequence[int]) -> int:
    """Multiply-accumulates of one forward pass (convolutions and linear layers)."""
    total = 0

    def conv_hook(m: nn.Module, _inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        if isinstance(m, nn.Conv2d):
            kh, kw = m.kernel_size
            total += out.numel() * (m.in_channels // m.groups) * kh * kw
        elif isinstance(m, nn.Linear):
            total += out.numel() * m.in_features

    hooks = [
        m.register_forward_hook(conv_hook)
        for m in model.modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))
    ]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(*shape))
    model.train(was_training)
    for h in hooks:
        h.remove()
    return int(total // shape[0])


def export_onnx(
    model: nn.Module,
    shape: Sequence[int],
    path: Path,
    input_name: str,
    output_names: Sequence[str],
    dynamic_batch: bool,
) -> None:
    """Export ``model`` (eval mode) to ``path`` as one self-contained ONNX file (opset 18)."""
    model.eval()
    dummy = torch.zeros(*shape)
    dynamic = (
        {input_name: {0: "N"}, **{n: {0: "N"} for n in output_names}} if dynamic_batch else None
    )
    with torch.no_grad():
        torch.onnx.export(
            model,
            (dummy,),
            str(path),
            input_names=[input_name],
            output_names=list(output_names),
            opset_version=18,
            dynamic_axes=dynamic,
            dynamo=False,
        )
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    proto.producer_name = "wildcam"
    proto.producer_version = "1"
    onnx.save(proto, str(path))
