#!/usr/bin/env bash
# The GPU measurements of README's Backends section, in one run on a machine with an
# NVIDIA GPU and nothing else reachable: the working tree plus
#   .devbin/fracdet.xz, .devbin/bench.xz  the `wgpu` builds (see README, Backends), xz'd
#   .gl/*.deb                             the Vulkan/GL loaders (libvulkan1 …), if absent
#   .devdata/fracatlas                    bench/shrink_dataset.py's copy of FracAtlas
# Writes everything to $OUT (or ./gpu-out): log, the detect results on both devices,
# the epoch's metrics.csv, the side-by-side table.
set -u
OUT=${OUT:-gpu-out}; mkdir -p "$OUT"
exec > >(tee "$OUT/log") 2>&1
step() { echo; echo "== $* ($(date +%T), ${SECONDS}s in)"; }
BUDGET=${BUDGET:-540}   # seconds for the whole script: each step gets at most what is left
left() { local l=$((BUDGET - SECONDS)); [ "$l" -lt 1 ] && l=1; [ "$l" -lt "$1" ] && echo "$l" || echo "$1"; }
if ! ldconfig -p | grep -q libvulkan.so.1 && ls .gl/*.deb >/dev/null 2>&1; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
fi
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
[ -e /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] &&
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
mkdir -p /tmp/fd && for b in fracdet bench; do xz -dc ".devbin/$b.xz" > "/tmp/fd/$b"; chmod +x "/tmp/fd/$b"; done
F=/tmp/fd/fracdet
step machine; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; nproc
python3 -c 'import torch; print("torch", torch.__version__, torch.cuda.is_available())'

step "detect samples/ on cpu and on wgpu"
timeout $(left 60) $F --device cpu detect samples/ --out /tmp/det-cpu >/dev/null
timeout $(left 120) $F --device wgpu detect samples/ --out /tmp/det-wgpu
cp /tmp/det-cpu/results.jsonl "$OUT/detect-cpu.jsonl"; cp /tmp/det-wgpu/results.jsonl "$OUT/detect-wgpu.jsonl"

step "one epoch, MobileNetV2 224, batch 16, wgpu"
time timeout $(left 200) $F --device wgpu train classifier --data .devdata/fracatlas \
  --backbone mobilenet_v2 --size 224 --batch 16 --epochs 1 --out /tmp/ep224
cp /tmp/ep224/metrics.csv "$OUT/epoch224-metrics.csv" 2>/dev/null

step "side by side, wgpu and PyTorch CUDA"
timeout $(left 200) python3 bench/side_by_side.py --gpu --wgpu-bench /tmp/fd/bench \
  --nets mobilenet_v2,resnet18,efficientnet_lite0 --steps 10 --rounds 2 --out "$OUT/side_by_side_gpu.md"

step "one epoch, MobileNetV2 512, batch 16, wgpu"
time timeout $(left 200) $F --device wgpu train classifier --data .devdata/fracatlas \
  --backbone mobilenet_v2 --size 512 --batch 16 --epochs 1 --out /tmp/ep512
cp /tmp/ep512/metrics.csv "$OUT/epoch512-metrics.csv" 2>/dev/null
step done
