#!/usr/bin/env python3
"""What one `fracdet detect` costs: seconds per image and peak memory, for one or more
models on the same images, run alternately for several rounds (medians; these machines are
noisy, so compare models within one run).

    python3 bench/detect_cost.py --model models/default [--model RUN_OR_BUNDLE ...]
        [--images DIR] [--count 24] [--rounds 3] [--out bench/detect_cost.md]

Each round and model runs the release binary twice, as a user would:
  - on one image: start-up, model load and one image;
  - on `count` images: the same plus count - 1 more.
"whole" is the second run's wall time over `count`; "marginal" is the difference of the two
runs over count - 1, the cost of one more image once the model is loaded. Peak memory is the
maximum resident set of the `count`-image run (GNU time's "Maximum resident set size").
Images: the first `count` of `--images` (default: FracAtlas val images under ../shared when
present, else samples/), copied to a temporary folder so outputs never land beside them.
"""
import argparse
import csv
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BINARY = ROOT / "target" / "release" / "fracdet"
FRACATLAS = ROOT.parent / "shared" / "datasets" / "fracatlas"
RSS = re.compile(r"Maximum resident set size \(kbytes\): (\d+)")


def default_images(count):
    labels = FRACATLAS / "labels.csv"
    if labels.exists():
        with open(labels, newline="") as f:
            names = [r["image"] for r in csv.DictReader(f) if r.get("split") == "val"]
        return [FRACATLAS / "images" / n for n in names[:count]]
    return sorted(p for p in (ROOT / "samples").iterdir() if p.suffix.lower() in {".jpg", ".png"})[:count]


def run_detect(model, folder, out):
    cmd = ["/usr/bin/time", "-v", str(BINARY), "detect", str(folder), "--model", str(model),
           "--out", str(out), "--replace", "--assess-anyway"]
    start = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if p.returncode != 0:
        sys.exit(f"detect failed ({p.returncode}): {p.stderr.strip().splitlines()[-1:]}")
    rss = RSS.search(p.stderr)
    return wall, int(rss.group(1)) / 1024 if rss else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", required=True)
    ap.add_argument("--images", type=Path)
    ap.add_argument("--count", type=int, default=24)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "detect_cost.md")
    a = ap.parse_args()
    if not BINARY.exists():
        sys.exit(f"{BINARY} missing: cargo build --release -p fracdet-cli")
    images = (sorted(p for p in a.images.iterdir() if p.is_file())[: a.count]
              if a.images else default_images(a.count))
    if len(images) < 2:
        sys.exit("need at least two images")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        one, many = tmp / "one", tmp / "many"
        one.mkdir()
        many.mkdir()
        shutil.copy(images[0], one)
        for p in images:
            shutil.copy(p, many)
        rows = {m: {"whole": [], "marginal": [], "rss": []} for m in a.model}
        for r in range(a.rounds):
            for m in a.model:
                w1, _ = run_detect(m, one, tmp / "out1")
                wn, rss = run_detect(m, many, tmp / "outn")
                rows[m]["whole"].append(wn / len(images))
                rows[m]["marginal"].append((wn - w1) / (len(images) - 1))
                rows[m]["rss"].append(rss)
                print(f"round {r + 1} {m}: whole {wn / len(images):.3f} s/img, "
                      f"marginal {(wn - w1) / (len(images) - 1):.3f} s/img, peak {rss:.0f} MiB",
                      flush=True)
    lines = [
        f"`fracdet detect` on {len(images)} images ({images[0].parent}), "
        f"{os.cpu_count()} CPUs, median of {a.rounds} alternated rounds; "
        "whole = wall time / images, marginal = one more image after start-up.",
        "",
        "| model | whole s/image | marginal s/image | peak RSS MiB |",
        "|---|---|---|---|",
    ]
    for m, v in rows.items():
        lines.append(f"| {m} | {statistics.median(v['whole']):.3f} | "
                     f"{statistics.median(v['marginal']):.3f} | {statistics.median(v['rss']):.0f} |")
    a.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
