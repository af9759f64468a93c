"""YOLOX-tiny in plain torch, laid out so the MegaDetector-Lite checkpoint loads into it as is.

The network is the YOLOX family's (CSPDarknet backbone, PAFPN neck, decoupled anchor-free head)
at depth 0.33 and width 0.375 with ordinary (not depthwise) convolutions and SiLU activations.
Module names follow the checkpoint's state-dict keys (``backbone.backbone.stem.conv.conv.weight``,
``head.stems.0.conv.weight``, ...), so ``load_state_dict(strict=True)`` checks the whole layout.

:class:`YoloxTiny` returns decoded predictions ``[B, N, 5 + classes]``: ``cx, cy, w, h`` in input
pixels, objectness (sigmoid) and class scores (sigmoid), N = sum over strides 8/16/32 of cells.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["YoloxTiny", "load_megadetector_lite"]

DEPTH = 0.33
WIDTH = 0.375
BN_EPS = 1e-3
STRIDES = (8, 16, 32)


class BaseConv(nn.Module):
    """Conv2d (no bias) + BatchNorm + SiLU, 'same' padding."""

    def __init__(self, cin: int, cout: int, ksize: int, stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, ksize, stride, (ksize - 1) // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=BN_EPS, momentum=0.03)
        self.act = nn.SiLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    def __init__(self, channels: int, shortcut: bool) -> None:
        super().__init__()
        self.conv1 = BaseConv(channels, channels, 1)
        self.conv2 = BaseConv(channels, channels, 3)
        self.use_add = shortcut

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv2(self.conv1(x))
        return y + x if self.use_add else y


class CSPLayer(nn.Module):
    """Cross-stage partial block: half the channels through n bottlenecks, then merged."""

    def __init__(self, cin: int, cout: int, n: int, shortcut: bool = True) -> None:
        super().__init__()
        hidden = cout // 2
        self.conv1 = BaseConv(cin, hidden, 1)
        self.conv2 = BaseConv(cin, hidden, 1)
        self.conv3 = BaseConv(2 * hidden, cout, 1)
        self.m = nn.Sequential(*[Bottleneck(hidden, shortcut) for _ in range(n)])

    def forward(self, x: Tensor) -> Tensor:
        return self.conv3(torch.cat((self.m(self.conv1(x)), self.conv2(x)), dim=1))


class Focus(nn.Module):
    """Space-to-depth (2x2 pixels into channels), then a convolution."""

    def __init__(self, cin: int, cout: int, ksize: int) -> None:
        super().__init__()
        self.conv = BaseConv(cin * 4, cout, ksize)

    def forward(self, x: Tensor) -> Tensor:
        tl = x[..., ::2, ::2]
        tr = x[..., ::2, 1::2]
        bl = x[..., 1::2, ::2]
        br = x[..., 1::2, 1::2]
        return self.conv(torch.cat((tl, bl, tr, br), dim=1))


class SPPBottleneck(nn.Module):
    """Spatial pyramid pooling: max pools of 5, 9 and 13 concatenated with the input."""

    def __init__(self, cin: int, cout: int, kernels: tuple[int, ...] = (5, 9, 13)) -> None:
        super().__init__()
        hidden = cin // 2
        self.conv1 = BaseConv(cin, hidden, 1)
        self.m = nn.ModuleList([nn.MaxPool2d(k, stride=1, padding=k // 2) for k in kernels])
        self.conv2 = BaseConv(hidden * (len(kernels) + 1), cout, 1)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(x)
        return self.conv2(torch.cat([x] + [m(x) for m in self.m], dim=1))


class CSPDarknet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        c = int(WIDTH * 64)
        d = max(round(DEPTH * 3), 1)
        self.stem = Focus(3, c, 3)
        self.dark2 = nn.Sequential(BaseConv(c, c * 2, 3, 2), CSPLayer(c * 2, c * 2, d))
        self.dark3 = nn.Sequential(BaseConv(c * 2, c * 4, 3, 2), CSPLayer(c * 4, c * 4, d * 3))
        self.dark4 = nn.Sequential(BaseConv(c * 4, c * 8, 3, 2), CSPLayer(c * 8, c * 8, d * 3))
        self.dark5 = nn.Sequential(
            BaseConv(c * 8, c * 16, 3, 2),
            SPPBottleneck(c * 16, c * 16),
            CSPLayer(c * 16, c * 16, d, shortcut=False),
        )

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        x3 = self.dark3(self.dark2(self.stem(x)))
        x4 = self.dark4(x3)
        return x3, x4, self.dark5(x4)


class PAFPN(nn.Module):
    """Top-down then bottom-up feature pyramid over the backbone's strides 8, 16, 32."""

    def __init__(self) -> None:
        super().__init__()
        c3, c4, c5 = (int(ch * WIDTH) for ch in (256, 512, 1024))
        n = round(3 * DEPTH)
        self.backbone = CSPDarknet()
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        self.lateral_conv0 = BaseConv(c5, c4, 1)
        self.C3_p4 = CSPLayer(2 * c4, c4, n, shortcut=False)
        self.reduce_conv1 = BaseConv(c4, c3, 1)
        self.C3_p3 = CSPLayer(2 * c3, c3, n, shortcut=False)
        self.bu_conv2 = BaseConv(c3, c3, 3, 2)
        self.C3_n3 = CSPLayer(2 * c3, c4, n, shortcut=False)
        self.bu_conv1 = BaseConv(c4, c4, 3, 2)
        self.C3_n4 = CSPLayer(2 * c4, c5, n, shortcut=False)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        x2, x1, x0 = self.backbone(x)
        fpn_out0 = self.lateral_conv0(x0)
        f_out0 = self.C3_p4(torch.cat((self.upsample(fpn_out0), x1), dim=1))
        fpn_out1 = self.reduce_conv1(f_out0)
        pan_out2 = self.C3_p3(torch.cat((self.upsample(fpn_out1), x2), dim=1))
        pan_out1 = self.C3_n3(torch.cat((self.bu_conv2(pan_out2), fpn_out1), dim=1))
        pan_out0 = self.C3_n4(torch.cat((self.bu_conv1(pan_out1), fpn_out0), dim=1))
        return pan_out2, pan_out1, pan_out0


class Head(nn.Module):
    """Decoupled head per stride: classification branch; box + objectness branch."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        hidden = int(256 * WIDTH)
        ins = [int(ch * WIDTH) for ch in (256, 512, 1024)]
        self.stems = nn.ModuleList([BaseConv(c, hidden, 1) for c in ins])
        self.cls_convs = nn.ModuleList(
            [nn.Sequential(BaseConv(hidden, hidden, 3), BaseConv(hidden, hidden, 3)) for _ in ins]
        )
        self.reg_convs = nn.ModuleList(
            [nn.Sequential(BaseConv(hidden, hidden, 3), BaseConv(hidden, hidden, 3)) for _ in ins]
        )
        self.cls_preds = nn.ModuleList([nn.Conv2d(hidden, num_classes, 1) for _ in ins])
        self.reg_preds = nn.ModuleList([nn.Conv2d(hidden, 4, 1) for _ in ins])
        self.obj_preds = nn.ModuleList([nn.Conv2d(hidden, 1, 1) for _ in ins])

    def forward(self, feats: tuple[Tensor, Tensor, Tensor]) -> Tensor:
        outputs = []
        for k, (x, stride) in enumerate(zip(feats, STRIDES, strict=True)):
            x = self.stems[k](x)
            cls_out = self.cls_preds[k](self.cls_convs[k](x))
            reg_feat = self.reg_convs[k](x)
            reg_out = self.reg_preds[k](reg_feat)
            obj_out = self.obj_preds[k](reg_feat)
            h, w = x.shape[2:]
            pred = torch.cat((reg_out, obj_out.sigmoid(), cls_out.sigmoid()), dim=1)
            pred = pred.flatten(2).permute(0, 2, 1)  # [B, h*w, 5+C]
            ys = torch.arange(h, dtype=x.dtype, device=x.device)
            xs = torch.arange(w, dtype=x.dtype, device=x.device)
            gy, gx = torch.meshgrid(ys, xs, indexing="ij")
            grid = torch.stack((gx, gy), dim=2).reshape(1, h * w, 2)
            xy = (pred[..., :2] + grid) * stride
            wh = torch.exp(pred[..., 2:4]) * stride
            outputs.append(torch.cat((xy, wh, pred[..., 4:]), dim=2))
        return torch.cat(outputs, dim=1)


class YoloxTiny(nn.Module):
    """YOLOX-tiny: input ``[B, 3, S, S]`` RGB float 0..255 (S divisible by 32)."""

    def __init__(self, num_classes: int = 1) -> None:
        super().__init__()
        self.backbone = PAFPN()
        self.head = Head(num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.backbone(x))


def load_megadetector_lite(checkpoint: str, num_classes: int = 1) -> YoloxTiny:
    """Build the network and load the zamba checkpoint (``{"model": state_dict}``) strictly."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    model = YoloxTiny(num_classes)
    model.load_state_dict(state.get("model", state), strict=True)
    return model.eval()
