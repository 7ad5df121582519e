#!/usr/bin/env python3
"""Where one training step's time goes, fracdet (flex) beside PyTorch, same nets and shapes.

    python3 bench/profile_step.py [--nets mobilenet_v2,resnet18] [--size 224] [--batch 16]
        [--out bench/profile.md]

flex: `perf record` (Linux perf) of the `bench` example (target/release/examples/bench:
cargo build --release -p fracdet-train --example bench) running 2 timed training and
inference steps on 2 threads; samples grouped by symbol into the categories below.
PyTorch: torch.profiler over 2 training steps (forward, BCE, backward, AdamW) of
bench/pytorch_bench.py's networks with torch.set_num_threads(2), self CPU time per aten op.
Both are shares of the profiled time (flex: all samples, start-up included; PyTorch: the
training steps), so read them as where each spends its time, not as absolute times.
Set-up only: perf and the libtorch venv of tools/setup-libtorch.sh (else python3's torch).
"""
import argparse
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "target" / "release" / "examples" / "bench"
VENV_PY = ROOT / ".venv-libtorch" / "bin" / "python"

# First match wins; patterns are on perf's symbol names.
CATEGORIES = [
    ("GEMM (conv as matmul, linear)", r"gemm"),
    ("direct / depthwise convolution", r"conv3d|conv2d|conv_transpose|depthwise"),
    ("masking (ReLU/ReLU6 backward, clamp)", r"mask_fill|mask_where|cmp_scalar|lower_elem|greater"),
    ("layout copies (transpose to contiguous)", r"copy_2d_tiled|into_data|to_contiguous|permute|strided"),
    ("element-wise (zip, binary, unary, SIMD maps)", r"zip_|binary_op|unary_op|macerator|scalar"),
    ("pooling / reductions / batch norm", r"pool|sum|mean|reduce|batch_norm|var"),
    ("kernel: page faults and zeroing", r"^\[k\].*(clear_page|page_fault|alloc_pages|handle_mm|do_anonymous)"),
    ("memset / memcpy", r"memset|memcpy|memmove"),
    ("random init (bench input)", r"rand|chacha|random"),
]


def flex_profile(net, size, batch):
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "perf.data"
        run = subprocess.run(["perf", "record", "-F", "499", "-o", str(data), str(BENCH), net,
                              str(size), str(batch), "2"], capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit(f"perf record failed: {run.stderr.strip()[-300:]}")
        rep = subprocess.run(["perf", "report", "-i", str(data), "--no-children", "--sort",
                              "symbol", "--stdio"], capture_output=True, text=True).stdout
    shares = Counter()
    for line in rep.splitlines():
        m = re.match(r"\s+([0-9.]+)%\s+(\[.\])\s+(.+?)\s{2,}", line)
        if not m:
            continue
        share, kind, name = float(m.group(1)), m.group(2), m.group(3)
        label = "other"
        for cat, pat in CATEGORIES:
            if re.search(pat, f"{kind} {name}" if pat.startswith("^") else name):
                label = cat
                break
        shares[label] += share
    return shares


TORCH_PROFILE = r"""
import sys, torch
sys.path.insert(0, sys.argv[1])
import pytorch_bench as pb
from torch import nn
name, size, batch = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(2); torch.manual_seed(0)
model = pb.build(name)
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor([4.0]))
x = torch.randn(batch, 3, size, size); y = (torch.rand(batch, 1) > 0.5).float()
def step():
    opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()
model.train(); step()
with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
    for _ in range(2): step()
events = prof.key_averages()
total = sum(e.self_cpu_time_total for e in events)
for e in sorted(events, key=lambda e: -e.self_cpu_time_total)[:12]:
    print(f"{100 * e.self_cpu_time_total / total:.1f}\t{e.key}")
"""


def torch_profile(net, size, batch):
    py = str(VENV_PY) if VENV_PY.exists() else "python3"
    run = subprocess.run([py, "-c", TORCH_PROFILE, str(ROOT / "bench"), net, str(size), str(batch)],
                         capture_output=True, text=True)
    if run.returncode != 0:
        print(f"notice: PyTorch profile skipped ({run.stderr.strip().splitlines()[-1:]})")
        return []
    return [line.split("\t", 1) for line in run.stdout.strip().splitlines()]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nets", default="mobilenet_v2,resnet18")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "profile.md")
    a = ap.parse_args()
    if not BENCH.exists():
        sys.exit(f"{BENCH} missing: cargo build --release -p fracdet-train --example bench")
    lines = [f"Training step profile, {a.size}², batch {a.batch}, 2 threads "
             "(bench/profile_step.py). Shares of profiled time.", ""]
    for net in a.nets.split(","):
        flex = flex_profile(net, a.size, a.batch)
        torch_ops = torch_profile(net, a.size, a.batch)
        lines += [f"### {net}", "", "| flex: category | share |", "|---|---|"]
        for cat, share in flex.most_common():
            lines.append(f"| {cat} | {share:.1f} % |")
        lines += ["", "| PyTorch: aten op (self CPU) | share |", "|---|---|"]
        for share, op in torch_ops:
            lines.append(f"| {op} | {share} % |")
        lines.append("")
        print("\n".join(lines[-(len(flex) + len(torch_ops) + 7):]), flush=True)
    a.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
