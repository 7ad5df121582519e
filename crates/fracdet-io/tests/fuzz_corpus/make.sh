#!/bin/sh
# Regenerates the committed JPEG seeds of the reader fuzz tests (see README.md).
# Needs cjpeg from libjpeg-turbo (Debian: apt-get install libjpeg-turbo-progs) and python3.
# Output is deterministic for a given libjpeg-turbo version.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$tmp" <<'PY'
import sys
out = sys.argv[1]
def image(w, h, channels):
    px = bytearray()
    for y in range(h):
        for x in range(w):
            v = (x * 255 // w + y * 97 // h + (x * y * 7919) % 23) % 256
            px += bytes([v, (v * 3) % 256, 255 - v][:channels])
    magic = b"P6" if channels == 3 else b"P5"
    return magic + b"\n%d %d\n255\n" % (w, h) + bytes(px)
open(out + "/rgb.ppm", "wb").write(image(33, 9, 3))
open(out + "/grey.pgm", "wb").write(image(40, 30, 1))
PY
# Progressive, 4:2:0 with a restart marker every 2 MCUs: spectral selection, successive
# approximation (refinement scans) and EOB runs across restarts.
cjpeg -progressive -sample 2x2 -restart 2B "$tmp/rgb.ppm" > progressive_420_restart.jpg
# Progressive grey: one component, non-interleaved AC scans.
cjpeg -progressive -grayscale "$tmp/grey.pgm" > progressive_grey.jpg
# Baseline 4:2:2 with a restart every MCU row, optimised Huffman tables.
cjpeg -optimize -sample 2x1 -restart 1 "$tmp/rgb.ppm" > baseline_422_restart.jpg
