#!/usr/bin/env python3
"""A smaller copy of FracAtlas for a machine that can only be sent 64 MiB (the GPU runs in
README's Backends section): every image scaled down to at most MAX pixels on its long side
and re-encoded as JPEG, labels.csv copied with width/height blanked (they describe the
originals). boxes.csv and masks.json are left out: the classifier does not read them.

    /usr/bin/python3 bench/shrink_dataset.py SRC DST [--max 256] [--quality 75]

The defaults make the 13.3 MB copy bench/gpu_check.sh was prepared with (all 3,198 images;
512 px at quality 90 is 59 MB, too much beside the binaries).

Training on the copy measures speed; the models we ship are trained on the originals.
FracAtlas is CC BY 4.0 (Abedeen et al., 2023): keep its README beside any copy.
"""
import argparse
import csv
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from PIL import Image


def shrink(job):
    src, dst, longest, quality = job
    with Image.open(src) as im:
        im = im.convert("L") if im.mode not in ("L", "RGB") else im
        im.thumbnail((longest, longest), Image.LANCZOS)
        im.save(dst, "JPEG", quality=quality)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    ap.add_argument("--max", type=int, default=256)
    ap.add_argument("--quality", type=int, default=75)
    a = ap.parse_args()
    (a.dst / "images").mkdir(parents=True, exist_ok=True)
    with open(a.src / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    fields = list(rows[0].keys())
    jobs = [(a.src / "images" / r["image"], a.dst / "images" / r["image"], a.max, a.quality)
            for r in rows]
    with ProcessPoolExecutor() as pool:
        list(pool.map(shrink, jobs, chunksize=32))
    for r in rows:
        r["width"] = r["height"] = ""
    with open(a.dst / "labels.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    if (a.src / "README.md").exists():
        shutil.copy(a.src / "README.md", a.dst / "README.md")
    print(f"{len(rows)} images -> {a.dst}")


if __name__ == "__main__":
    main()
