"""Train the bundled demo CNN on Fashion-MNIST and export it to ONNX (a dev-only tool).

Needs torch (``pip install -e .[train]``) and Debian's ``dataset-fashion-mnist``. Users of
plutflow never run this: its outputs are committed under ``host/plutflow/data``.

    python scripts/train_demo.py --epochs 8
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

from plutflow.calib.sources import read_idx

sys.path.insert(0, str(Path(__file__).parent))
from bundle_demo_data import bundle

DATA = Path("/usr/share/datasets/fashion-mnist")
OUT = Path(__file__).resolve().parents[1] / "host" / "plutflow" / "data"
MEAN, STD = 0.2860, 0.3530
CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]


def block(cin: int, cout: int, stride: int = 1, relu: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)]
    if relu:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class DemoNet(nn.Module):
    """conv-bn-relu blocks, one residual Add, global average pooling and a final FC."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = block(1, 16)
        self.down1 = block(16, 32, stride=2)
        self.res_a = block(32, 32)
        self.res_b = block(32, 32, relu=False)
        self.down2 = block(32, 64, stride=2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.down1(self.stem(x))
        x = torch.relu(x + self.res_b(self.res_a(x)))
        x = self.pool(self.down2(x))
        return self.fc(torch.flatten(x, 1))


def load(split: str) -> tuple[np.ndarray, np.ndarray]:
    images = read_idx(DATA / f"{split}-images-idx3-ubyte.gz")
    labels = read_idx(DATA / f"{split}-labels-idx1-ubyte.gz")
    return images, labels.astype(np.int64)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    x = (images.astype(np.float32) / 255.0 - MEAN) / STD
    return torch.from_numpy(x[:, None])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--subset", type=int, default=2000, help="test images to bundle")
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(2)
    xtr, ytr = load("train")
    xte, yte = load("t10k")
    xtr_t, ytr_t, xte_t = to_tensor(xtr), torch.from_numpy(ytr), to_tensor(xte)
    net = DemoNet()
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    steps = args.epochs * (len(xtr) // 128)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    for epoch in range(args.epochs):
        net.train()
        perm = torch.randperm(len(xtr))
        for i in range(len(xtr) // 128):
            idx = perm[i * 128 : (i + 1) * 128]
            xb = xtr_t[idx]
            # light augmentation: random horizontal flip
            flip = torch.rand(len(idx)) < 0.5
            xb[flip] = xb[flip].flip(-1)
            loss = nn.functional.cross_entropy(net(xb), ytr_t[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        net.eval()
        with torch.no_grad():
            acc = (net(xte_t).argmax(1).numpy() == yte).mean()
        print(f"epoch {epoch + 1}: loss {loss.item():.3f} test top-1 {acc * 100:.2f}%", flush=True)

    OUT.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        net,
        xte_t[:1],
        str(OUT / "fashion_mnist_demo.onnx"),
        input_names=["image"],
        output_names=["logits"],
        dynamic_axes={"image": {0: "N"}, "logits": {0: "N"}},
        opset_version=17,
        dynamo=False,
    )
    bundle(test_count=args.subset)
    meta = {
        "model": "fashion_mnist_demo.onnx",
        "dataset": "Fashion-MNIST (MIT licence), test split subset",
        "classes": CLASSES,
        "float_top1_full_test": float(acc),
        "preprocess": {
            "scale": 1 / 255.0,
            "mean": [MEAN],
            "std": [STD],
            "layout": "NCHW",
            "channels": 1,
            "size": [28, 28],
        },
    }
    (OUT / "fashion_mnist_demo.json").write_text(json.dumps(meta, indent=2) + "\n")


if __name__ == "__main__":
    main()
