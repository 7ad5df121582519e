#!/usr/bin/env python3
"""PyTorch reference throughput for the same work as `fracdet-train`'s `bench` example.

    python3 bench/pytorch_bench.py BACKBONE [SIZE] [BATCH] [STEPS] [DEVICE]
        # BACKBONE: resnet18 | mobilenet_v2 | efficientnet_lite0; DEVICE: cpu (default) | cuda

Times STEPS training steps (forward, BCE-with-logits with a positive weight, backward,
AdamW) and STEPS eval-mode inference batches on random input after one untimed warm-up of
each, with torch.set_num_threads(2) (on `cuda`, each timed step ends with
torch.cuda.synchronize(), as the Rust example's read-back of the loss does); prints the
best and mean like the Rust example, so the two lines can be put side by side. Needs torch (CPU use is enough); the networks are built
with plain torch.nn in torchvision's layout (tools/make_fixtures.py), so torchvision is not
needed.
"""
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import make_fixtures  # noqa: E402


class BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


def resnet18(num_classes=1):
    """torchvision's ResNet-18 structure."""
    layers, c_in = [], 64
    for c_out, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
        layers.append(nn.Sequential(BasicBlock(c_in, c_out, stride), BasicBlock(c_out, c_out, 1)))
        c_in = c_out
    return nn.Sequential(
        nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
        nn.MaxPool2d(3, 2, 1), *layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(512, num_classes),
    )


def build(name):
    if name == "resnet18":
        return resnet18()
    if name == "mobilenet_v2":
        mods = make_fixtures._mobile_torch()
        if mods is None:
            raise SystemExit("torch is not importable")
        return mods.MobileNetV2(num_classes=1)
    if name == "efficientnet_lite0":
        mods = make_fixtures._mobile_torch()
        if mods is None:
            raise SystemExit("torch is not importable")
        return mods.EfficientNetLite(num_classes=1)
    raise SystemExit(f"unknown backbone {name!r} (resnet18, mobilenet_v2, efficientnet_lite0)")


def main():
    args = sys.argv[1:]
    if not args:
        raise SystemExit(__doc__)
    name = args[0]
    size = int(args[1]) if len(args) > 1 else 224
    batch = int(args[2]) if len(args) > 2 else 16
    steps = int(args[3]) if len(args) > 3 else 3
    device = torch.device(args[4] if len(args) > 4 else "cpu")
    torch.set_num_threads(2)
    torch.manual_seed(0)
    model = build(name).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor([4.0], device=device))
    x = torch.randn(batch, 3, size, size, device=device)
    y = (torch.rand(batch, 1, device=device) < 0.2).float()

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        sync()

    def infer():
        model(x)
        sync()

    def timed(fn):
        fn()  # warm-up
        times = []
        for _ in range(steps):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return min(times), sum(times) / len(times)

    model.train()
    t_best, t_mean = timed(train_step)
    model.eval()
    with torch.no_grad():
        i_best, i_mean = timed(infer)
    print(
        f"pytorch {torch.__version__} {name} {size}x{size} batch {batch}, {steps} timed steps, "
        f"{'2 threads' if device.type == 'cpu' else device.type}: "
        f"train best {t_best:.2f} s/step = {batch / t_best:.2f} img/s (mean {batch / t_mean:.2f} img/s); "
        f"inference best {i_best:.2f} s/batch = {batch / i_best:.2f} img/s (mean {batch / i_mean:.2f} img/s)"
    )


if __name__ == "__main__":
    main()
