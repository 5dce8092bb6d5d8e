"""Export the small PyTorch models used as importer test data (a dev tool; needs torch).

Random weights; what matters is the graph PyTorch's exporter writes: depthwise and
grouped convs, BatchNorm, Hardswish, SiLU, squeeze-excitation (adaptive pooling, Linear,
Hardsigmoid, Mul), residual Add, Concat, view(x.size(0), -1) shape arithmetic, ReLU6,
LeakyReLU, PReLU, MaxPool/AvgPool and a final Softmax.

    python scripts/export_test_models.py   # writes tests/data/*.onnx
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

OUT = Path(__file__).resolve().parents[1] / "tests" / "data"


class SqueezeExcite(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Linear(c, c // 4)
        self.fc2 = nn.Linear(c // 4, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.pool(x).view(x.size(0), -1)
        s = nn.functional.hardsigmoid(self.fc2(torch.relu(self.fc1(s))))
        return x * s.view(x.size(0), -1, 1, 1)


class MobileLike(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.Hardswish()
        )
        self.dw = nn.Sequential(
            nn.Conv2d(16, 16, 3, 1, 1, groups=16, bias=False), nn.BatchNorm2d(16), nn.ReLU6()
        )
        self.se = SqueezeExcite(16)
        self.pw = nn.Sequential(nn.Conv2d(16, 16, 1, bias=False), nn.BatchNorm2d(16))
        self.branch_a = nn.Sequential(nn.Conv2d(16, 8, 1), nn.SiLU())
        self.branch_b = nn.Sequential(nn.Conv2d(16, 8, 3, padding=1, groups=2), nn.LeakyReLU(0.1))
        self.down = nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(16, 24, 3, padding=1), nn.PReLU(24))
        self.pool = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
        self.head = nn.Linear(24 * 4 * 4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = x + self.pw(self.se(self.dw(x)))
        x = torch.cat([self.branch_a(x), self.branch_b(x)], dim=1)
        x = self.pool(self.down(x))
        x = x.view(x.size(0), -1)
        return torch.softmax(self.head(x), dim=1)


def randomise_bn(net: nn.Module) -> nn.Module:
    """Non-trivial BatchNorm statistics and affine parameters; the net in eval mode."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return net.eval()


def main() -> None:
    torch.manual_seed(0)
    net = randomise_bn(MobileLike())
    OUT.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        net,
        torch.randn(1, 3, 32, 32),
        str(OUT / "mobile_like.onnx"),
        input_names=["x"],
        output_names=["probs"],
        dynamic_axes={"x": {0: "N"}, "probs": {0: "N"}},
        opset_version=17,
        dynamo=False,
    )


if __name__ == "__main__":
    main()
