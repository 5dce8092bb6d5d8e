"""Export the "bring your own model" test networks with PyTorch's default (dynamo)
exporter, as a user on PyTorch >= 2.9 gets them (a dev tool; needs torch and onnxscript).

    python scripts/export_byom_models.py   # writes tests/data/byom_*.onnx

Random weights with non-trivial BatchNorm statistics; what matters is the graph the
exporter writes:

* ``byom_classifier``: conv/BN/ReLU/SiLU, ``AdaptiveAvgPool2d(1)`` (exported as
  ``ReduceMean``), flatten, Linear;
* ``byom_detector``: a YOLO-style network: SiLU, a CSP block (``torch.chunk`` on channels,
  exported as ``Split``), SPPF max pooling, ``Concat``, nearest ``Upsample``, a box/class
  head split by channel slices;
* ``byom_fcn``: a fully convolutional segmenter exported with a free height and width
  (``(N, 3, H, W)``), with a zero ``F.pad`` before a conv;
* ``byom_two_head``: one shared feature tensor read by a classification head and a box
  regression head (two outputs).
"""

from __future__ import annotations

from pathlib import Path

import torch
from export_test_models import randomise_bn  # the same BatchNorm randomisation
from torch import nn

OUT = Path(__file__).resolve().parents[1] / "tests" / "data"


def conv(cin: int, cout: int, k: int = 3, s: int = 1, act: type = nn.SiLU) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, k // 2, bias=False), nn.BatchNorm2d(cout),
                         act())  # fmt: skip


class Classifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.f = nn.Sequential(conv(3, 16, s=2, act=nn.ReLU), conv(16, 32, s=2), conv(32, 32))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.f(x)), 1))


class Detector(nn.Module):
    def __init__(self, w: int = 16) -> None:
        super().__init__()
        self.p1 = conv(3, w, s=2)
        self.p2 = conv(w, 2 * w, s=2)
        self.b = conv(w, w)
        self.pool = nn.MaxPool2d(5, 1, 2)
        self.fuse = conv(3 * w, 2 * w, k=1)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.neck = conv(3 * w, w)
        self.head = nn.Conv2d(w, 4 + 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p1 = self.p1(x)
        a, b = torch.chunk(self.p2(p1), 2, dim=1)
        b = self.b(b)
        c = self.fuse(torch.cat([a, b, self.pool(b)], dim=1))
        f = self.neck(torch.cat([self.up(c), p1], dim=1))
        h = self.head(f)
        return torch.cat([h[:, :4], torch.sigmoid(h[:, 4:])], dim=1)


class FullyConvolutional(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.enc = nn.Sequential(conv(3, 16, s=2, act=nn.ReLU), conv(16, 16, act=nn.ReLU))
        self.pad_conv = nn.Conv2d(16, 16, 3, padding=0)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.cls = nn.Conv2d(16, 5, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.enc(x)
        y = torch.relu(self.pad_conv(nn.functional.pad(y, (1, 1, 1, 1))))
        return self.cls(self.up(y))


class TwoHead(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(conv(3, 16, s=2, act=nn.ReLU), conv(16, 32, s=2, act=nn.ReLU))
        self.cls = nn.Sequential(conv(32, 32, act=nn.ReLU), nn.AdaptiveAvgPool2d(1),
                                 nn.Flatten(), nn.Linear(32, 10))  # fmt: skip
        self.box = nn.Sequential(conv(32, 16, act=nn.ReLU), nn.Conv2d(16, 4, 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.body(x)
        return self.cls(f), self.box(f)


def export(net: nn.Module, name: str, shape: tuple[int, ...], dims: dict[int, str]) -> None:
    x = torch.randn(*shape)
    prog = torch.onnx.export(randomise_bn(net), (x,), dynamo=True, input_names=["x"],
                             dynamic_shapes={"x": dims})  # fmt: skip
    prog.save(str(OUT / f"{name}.onnx"))
    print(f"wrote {OUT / name}.onnx")


def main() -> None:
    torch.manual_seed(0)
    OUT.mkdir(parents=True, exist_ok=True)
    batch = {0: "batch"}
    export(Classifier(), "byom_classifier", (2, 3, 32, 32), batch)
    export(Detector(), "byom_detector", (2, 3, 32, 32), batch)
    export(FullyConvolutional(), "byom_fcn", (2, 3, 32, 48), {0: "batch", 2: "h", 3: "w"})
    export(TwoHead(), "byom_two_head", (2, 3, 32, 32), batch)


if __name__ == "__main__":
    main()
