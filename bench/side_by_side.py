#!/usr/bin/env python3
"""One table of training and inference throughput: fracdet on each compiled backend and
PyTorch, same nets, input size, batch and threads, run alternately for several rounds so a
noisy machine affects all alike; medians of each run's best step, and ratios to PyTorch.

    python3 bench/side_by_side.py [--nets resnet18,mobilenet_v2] [--size 224] [--batch 16]
        [--steps 3] [--rounds 3] [--out bench/results.md] [--gpu [--wgpu-bench PATH]]

Runs, each round and net, in this order:
  flex     target/release/examples/bench            (cargo build --release -p fracdet-train --example bench)
  tch      target-tch/release/examples/bench ... tch (CARGO_TARGET_DIR=target-tch cargo build
           --release -p fracdet-train --features tch --example bench, libtorch from
           tools/setup-libtorch.sh; skipped, with a notice, when absent)
  pytorch  bench/pytorch_bench.py in the venv of tools/setup-libtorch.sh, else python3
With --gpu, the same table on the GPU instead:
  wgpu     the bench example built with --features wgpu (--wgpu-bench, default
           target-wgpu/release/examples/bench: CARGO_TARGET_DIR=target-wgpu cargo build
           --release -p fracdet-train --features wgpu --example bench)
  pytorch  bench/pytorch_bench.py ... cuda
Set-up only: nothing is downloaded here.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINE = re.compile(
    r"train best [\d.]+ s/step = (?P<train>[\d.]+) img/s .*inference best [\d.]+ s/batch = (?P<infer>[\d.]+) img/s"
)


def libtorch_env():
    """The environment tools/setup-libtorch.sh prints, or None when it is not installed."""
    venv = ROOT / ".venv-libtorch"
    if not (venv / "bin" / "python").exists():
        return None, None
    out = subprocess.run(
        ["bash", str(ROOT / "tools" / "setup-libtorch.sh"), "--env"],
        capture_output=True, text=True, check=False,
    )
    env = dict(os.environ)
    for line in out.stdout.splitlines():
        m = re.match(r"export (\w+)=(.*)", line)
        if m:
            value = m.group(2).replace("${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}",
                                       ":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
            env[m.group(1)] = value
    return env, str(venv / "bin" / "python")


def run(cmd, env=None):
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    m = LINE.search(out.stdout)
    if out.returncode != 0 or not m:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}")
    return float(m.group("train")), float(m.group("infer"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nets", default="resnet18,mobilenet_v2")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--gpu", action="store_true", help="wgpu against PyTorch on CUDA")
    ap.add_argument("--wgpu-bench", type=Path, default=ROOT / "target-wgpu/release/examples/bench")
    a = ap.parse_args()

    env, venv_python = libtorch_env()
    python = venv_python or sys.executable
    # (column, command, environment, extra arguments after the shape)
    if a.gpu:
        backends = [("wgpu", [str(a.wgpu_bench)], None, ["wgpu"]),
                    ("pytorch", [python, str(ROOT / "bench/pytorch_bench.py")], None, ["cuda"])]
    else:
        backends = [("flex", [str(ROOT / "target/release/examples/bench")], None, [])]
        tch_bin = ROOT / "target-tch/release/examples/bench"
        if env and tch_bin.exists():
            backends.append(("tch", [str(tch_bin)], env, ["tch"]))
        else:
            print("notice: no tch build or libtorch; the tch column is skipped", file=sys.stderr)
        backends.append(("pytorch", [python, str(ROOT / "bench/pytorch_bench.py")], None, []))

    shape = [str(a.size), str(a.batch), str(a.steps)]
    results = {}  # (net, backend) -> [(train, infer)]
    for r in range(a.rounds):
        for net in a.nets.split(","):
            for name, cmd, e, extra in backends:
                args = cmd + [net] + shape + extra
                t, i = run(args, e)
                results.setdefault((net, name), []).append((t, i))
                print(f"round {r + 1} {net:<13} {name:<8} train {t:6.2f} img/s  inference {i:6.2f} img/s",
                      file=sys.stderr)

    lines = [
        f"{a.size}x{a.size}, batch {a.batch}, best of {a.steps} steps per run, median of {a.rounds} "
        f"alternated rounds, {'one GPU' if a.gpu else '2 threads'}; ratio = fracdet / PyTorch.",
        "",
        "| net | backend | train img/s | ratio | inference img/s | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for net in a.nets.split(","):
        ref = results[(net, "pytorch")]
        ref_t = statistics.median(x[0] for x in ref)
        ref_i = statistics.median(x[1] for x in ref)
        for name, *_ in backends:
            rs = results[(net, name)]
            t = statistics.median(x[0] for x in rs)
            i = statistics.median(x[1] for x in rs)
            lines.append(f"| {net} | {name} | {t:.2f} | {t / ref_t:.2f}x | {i:.2f} | {i / ref_i:.2f}x |")
    table = "\n".join(lines)
    print(table)
    if a.out:
        a.out.write_text(table + "\n")


if __name__ == "__main__":
    main()
