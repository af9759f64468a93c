"""The students: a tiny stage-1 classifier and a medium stage-2 classifier with a box head.

Both are stacks of depthwise-separable blocks (3x3 depthwise + 1x1 pointwise, BatchNorm, ReLU6)
with no skip connections, so whole channels can be pruned: :func:`prune` keeps, for every
pointwise layer, the channels with the largest BatchNorm scale (|gamma|) and rebuilds a narrower
network with the surviving weights, which is then fine-tuned.

Training is distillation from the teacher's soft labels (binary cross-entropy on soft targets)
plus, for the medium model, an L1 loss on the teacher's box where the target says "animal".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wildcam.training.crops import CropSet

__all__ = [
    "MEAN",
    "MEDIUM",
    "STD",
    "TINY",
    "Arch",
    "Student",
    "predict",
    "prune",
    "to_tensor",
    "train",
]

MEAN, STD = 0.5, 0.25
"""Input normalisation: RGB / 255, then (x - MEAN) / STD."""


@dataclass(frozen=True)
class Arch:
    """``stem`` channels, then ``(out_channels, stride)`` per depthwise-separable block."""

    size: int
    stem: int
    blocks: tuple[tuple[int, int], ...]
    box_head: bool
    hidden: int = 0


TINY = Arch(96, 16, ((24, 2), (32, 2), (48, 1), (64, 2), (96, 1), (128, 2), (160, 1)), False)
MEDIUM = Arch(
    128,
    32,
    ((64, 2), (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (384, 2), (384, 1)),
    True,
    hidden=128,
)


def _cbr(cin: int, cout: int, k: int, stride: int, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU6(inplace=True),
    )


class Student(nn.Module):
    """Input ``[N, 3, S, S]`` normalised RGB; output logit ``[N, 1]`` (and box ``[N, 4]``)."""

    def __init__(self, arch: Arch, widths: Sequence[int] | None = None) -> None:
        super().__init__()
        self.arch = arch
        widths = list(widths) if widths is not None else [arch.stem] + [c for c, _ in arch.blocks]
        self.widths = widths
        layers: list[nn.Module] = [_cbr(3, widths[0], 3, 2)]
        for i, (_, stride) in enumerate(arch.blocks):
            cin, cout = widths[i], widths[i + 1]
            layers.append(
                nn.Sequential(_cbr(cin, cin, 3, stride, groups=cin), _cbr(cin, cout, 1, 1))
            )
        self.features = nn.Sequential(*layers)
        last = widths[-1]
        if arch.box_head:
            self.reduce = _cbr(last, 32, 1, 1)
            grid = arch.size // 32
            self.fc = nn.Sequential(
                nn.Flatten(), nn.Linear(32 * grid * grid, arch.hidden), nn.ReLU6(inplace=True)
            )
            self.logit = nn.Linear(arch.hidden + last, 1)
            self.box = nn.Linear(arch.hidden, 4)
        else:
            self.logit = nn.Linear(last, 1)

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        f = self.features(x)
        pooled = f.mean(dim=(2, 3))
        if not self.arch.box_head:
            return self.logit(pooled)
        h = self.fc(self.reduce(f))
        return self.logit(torch.cat((h, pooled), dim=1)), torch.sigmoid(self.box(h))


def to_tensor(images_bgr: np.ndarray, size: int) -> Tensor:
    """BGR uint8 crops ``[N, H, W, 3]`` to the students' normalised RGB NCHW input."""
    if images_bgr.shape[1] != size:
        images_bgr = np.stack(
            [cv2.resize(im, (size, size), interpolation=cv2.INTER_AREA) for im in images_bgr]
        )
    x = images_bgr[..., ::-1].astype(np.float32) / 255.0
    return torch.from_numpy(np.ascontiguousarray(((x - MEAN) / STD).transpose(0, 3, 1, 2)))


def _augment(x: Tensor, box: Tensor, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """Random horizontal flips (boxes mirrored with them) and contrast changes."""
    flip = torch.rand(x.shape[0], generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    box = box.clone()
    box[:, 0] = torch.where(flip, 1.0 - box[:, 0], box[:, 0])
    gain = 1.0 + 0.3 * (torch.rand(x.shape[0], 1, 1, 1, generator=gen) - 0.5)
    return x * gain, box


def train(
    model: Student,
    data: CropSet,
    epochs: int,
    seed: int,
    lr: float = 3e-3,
    batch: int = 64,
    log: Callable[[str], None] = print,
) -> Student:
    """Distil ``data``'s soft labels (and boxes) into ``model``; AdamW, cosine schedule."""
    gen = torch.Generator().manual_seed(seed)
    x_all = to_tensor(data.images, model.arch.size)
    y_all = torch.from_numpy(data.labels)[:, None]
    b_all = torch.from_numpy(data.boxes)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * ((len(x_all) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.15)
    # positives are rarer than backgrounds: weight them up to balance the loss
    pos = float((y_all >= 0.5).float().mean())
    w_pos = min(max((1 - pos) / max(pos, 1e-3), 1.0), 4.0)
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(x_all), generator=gen)
        total = 0.0
        for start in range(0, len(order), batch):
            idx = order[start : start + batch]
            x, box_t = _augment(x_all[idx], b_all[idx], gen)
            y = y_all[idx]
            weight = torch.where(y >= 0.5, w_pos, 1.0)
            out = model(x)
            logit = out[0] if isinstance(out, tuple) else out
            loss = F.binary_cross_entropy_with_logits(logit, y, weight=weight)
            if isinstance(out, tuple):
                mask = (y >= 0.5).float()
                loss = loss + 2.0 * (mask * (out[1] - box_t).abs()).sum() / mask.sum().clamp(min=1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        log(f"  epoch {epoch + 1}/{epochs}: loss {total / len(order):.4f}")
    return model.eval()


def predict(model: Student, images_bgr: np.ndarray) -> np.ndarray:
    """Presence probabilities of BGR crops."""
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(images_bgr), 256):
            r = model(to_tensor(images_bgr[start : start + 256], model.arch.size))
            out.append(torch.sigmoid(r[0] if isinstance(r, tuple) else r)[:, 0].numpy())
    return np.concatenate(out)


def prune(model: Student, keep: float) -> Student:
    """A copy of ``model`` keeping ``keep`` of each block's pointwise channels (by |BN gamma|).

    The stem and the last block keep their width (the heads depend on it).
    """
    blocks = list(model.features)
    keep_idx: list[torch.Tensor] = []
    for i, _ in enumerate(model.widths):
        bn = blocks[i][1] if i == 0 else blocks[i][1][1]
        n = model.widths[i]
        if i in (0, len(model.widths) - 1):
            keep_idx.append(torch.arange(n))
            continue
        k = max(8, int(round(n * keep / 8)) * 8)
        strongest = torch.argsort(bn.weight.detach().abs(), descending=True)[:k]
        keep_idx.append(torch.sort(strongest)[0])
    pruned = Student(model.arch, [len(k) for k in keep_idx])
    src, dst = model.state_dict(), pruned.state_dict()
    for name, value in src.items():
        target = dst[name]
        if value.shape == target.shape:
            dst[name] = value.clone()
            continue
        parts = name.split(".")
        layer = int(parts[1])
        out_idx = keep_idx[layer]
        in_idx = keep_idx[layer - 1] if layer > 0 else None
        v = value
        if layer == 0 or parts[2] == "1":  # stem, or a block's pointwise conv/bn: output channels
            v = v[out_idx] if v.dim() > 0 else v
            if layer > 0 and name.endswith("0.weight") and v.dim() == 4:
                v = v[:, in_idx]
        else:  # a block's depthwise conv/bn: its channels are the previous block's outputs
            v = v[in_idx] if v.dim() > 0 else v
        dst[name] = v.clone()
    pruned.load_state_dict(dst)
    return pruned
