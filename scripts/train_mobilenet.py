"""Train a MobileNetV3-small-style network on Fashion-MNIST at 3 x 64 x 64 and export it to
ONNX (a dev-only tool: the evidence model of the MobileNet low-bit work, bench/mobilenet.py).

The network has what makes MobileNetV3 hard to quantize at low bits: HardSwish,
squeeze-and-excitation gates (HardSigmoid), depthwise convolutions, inverted residuals
and a wide last stage. Inputs are the grey images resized to 64 x 64 and repeated to three
channels by plutflow's own preprocessing (``mobilenet_fmnist64.json``), so training, the
float reference and the integer model see the same pixels.

Needs torch (``pip install -e .[train]``), onnxscript, and Debian's
``dataset-fashion-mnist``. Users never run this; its outputs are committed under
``bench/data``.

    python scripts/train_mobilenet.py --epochs 6
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from plutflow.calib.preprocess import Preprocess
from plutflow.calib.sources import read_idx

DATA = Path("/usr/share/datasets/fashion-mnist")
OUT = Path(__file__).resolve().parents[1] / "bench" / "data"
NAME = "mobilenet_fmnist64"
PRE = {"size": [64, 64], "channels": 3, "scale": 1 / 255, "mean": [0.286] * 3,
       "std": [0.353] * 3, "layout": "NCHW"}  # fmt: skip

#: (kernel, expansion, out, squeeze-excite, activation, stride) per block, as in
#: MobileNetV3-small (Howard et al. 2019, table 2) with the widths scaled for 64 x 64
BLOCKS = [
    (3, 16, 16, True, "relu", 2),
    (3, 72, 24, False, "relu", 2),
    (3, 88, 24, False, "relu", 1),
    (5, 96, 40, True, "hswish", 2),
    (5, 240, 40, True, "hswish", 1),
    (5, 120, 48, True, "hswish", 1),
    (5, 144, 48, True, "hswish", 1),
    (5, 288, 96, True, "hswish", 2),
    (5, 576, 96, True, "hswish", 1),
]


def act(kind: str) -> nn.Module:
    return nn.Hardswish() if kind == "hswish" else nn.ReLU()


class SqueezeExcite(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        mid = max(8, c // 4)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(c, mid, 1)
        self.fc2 = nn.Conv2d(mid, c, 1)
        self.relu = nn.ReLU()
        self.gate = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.fc2(self.relu(self.fc1(self.pool(x)))))


class Bneck(nn.Module):
    """Inverted residual: 1x1 expansion, k x k depthwise, optional SE, 1x1 projection."""

    def __init__(self, cin: int, k: int, exp: int, cout: int, se: bool, kind: str, s: int):
        super().__init__()
        layers: list[nn.Module] = []
        if exp != cin:
            layers += [nn.Conv2d(cin, exp, 1, bias=False), nn.BatchNorm2d(exp), act(kind)]
        layers += [nn.Conv2d(exp, exp, k, s, k // 2, groups=exp, bias=False),
                   nn.BatchNorm2d(exp), act(kind)]  # fmt: skip
        if se:
            layers.append(SqueezeExcite(exp))
        layers += [nn.Conv2d(exp, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.body = nn.Sequential(*layers)
        self.residual = s == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.residual else y


class MobileNetV3Small(nn.Module):
    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16),
                                  nn.Hardswish())  # fmt: skip
        blocks, cin = [], 16
        for k, exp, cout, se, kind, s in BLOCKS:
            blocks.append(Bneck(cin, k, exp, cout, se, kind, s))
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.last = nn.Sequential(nn.Conv2d(cin, 288, 1, bias=False), nn.BatchNorm2d(288),
                                  nn.Hardswish())  # fmt: skip
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(288, 256), nn.Hardswish(),
                                  nn.Dropout(0.2), nn.Linear(256, classes))  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.last(self.blocks(self.stem(x)))))


def grey64(raw: np.ndarray) -> torch.Tensor:
    """Images through plutflow's preprocessing, kept as one channel (the three are equal)."""
    pre = Preprocess.from_dict({**PRE, "channels": 1, "mean": PRE["mean"][:1],
                                "std": PRE["std"][:1]})  # fmt: skip
    return torch.from_numpy(np.concatenate([pre.apply(raw[i : i + 2000])
                                            for i in range(0, len(raw), 2000)]))  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    xtr = grey64(read_idx(DATA / "train-images-idx3-ubyte.gz"))
    ytr = torch.from_numpy(read_idx(DATA / "train-labels-idx1-ubyte.gz").astype(np.int64))
    xte = grey64(read_idx(DATA / "t10k-images-idx3-ubyte.gz"))
    yte = torch.from_numpy(read_idx(DATA / "t10k-labels-idx1-ubyte.gz").astype(np.int64))
    model = MobileNetV3Small()
    print(f"{sum(p.numel() for p in model.parameters()):,} parameters", flush=True)
    steps = args.epochs * (len(xtr) // 128)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.05)
    for epoch in range(args.epochs):
        model.train()
        t0, perm = time.time(), torch.randperm(len(xtr))
        for i in range(len(xtr) // 128):
            idx = perm[i * 128 : (i + 1) * 128]
            xb = xtr[idx]
            flip = torch.rand(len(xb)) < 0.5
            xb[flip] = xb[flip].flip(-1)
            loss = loss_fn(model(xb.expand(-1, 3, -1, -1)), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        acc = evaluate(model, xte, yte)
        print(f"epoch {epoch + 1}: loss {loss.item():.3f}, test top-1 {acc:.2f} % "
              f"({time.time() - t0:.0f} s)", flush=True)  # fmt: skip
    model.eval()
    OUT.mkdir(parents=True, exist_ok=True)
    onnx_path = OUT / f"{NAME}.onnx"
    torch.onnx.export(model, (torch.zeros(1, 3, 64, 64),), str(onnx_path), dynamo=True,
                      external_data=False,
                      input_names=["image"], output_names=["logits"],
                      dynamic_shapes={"x": {0: torch.export.Dim("batch")}})  # fmt: skip
    (OUT / f"{NAME}.json").write_text(json.dumps(PRE, indent=1) + "\n")
    print(f"test top-1 {evaluate(model, xte, yte):.2f} %; wrote {onnx_path} "
          f"({onnx_path.stat().st_size:,} bytes)")  # fmt: skip
    return 0


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    hits = sum(int((model(x[i : i + 500].expand(-1, 3, -1, -1)).argmax(1) == y[i : i + 500])
                   .sum()) for i in range(0, len(x), 500))  # fmt: skip
    return 100.0 * hits / len(x)


if __name__ == "__main__":
    raise SystemExit(main())
