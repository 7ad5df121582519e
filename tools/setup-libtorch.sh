#!/usr/bin/env bash
# Puts PyTorch 2.9.0 (the libtorch that burn 0.22's torch-sys is generated against) in a
# virtual environment and prints the environment that `--features tch` needs to build and
# to run. Set-up only: nothing here runs at fracdet's run time, and the default build does
# not need it.
#
#   bash tools/setup-libtorch.sh            # venv in .venv-libtorch/ (about 4 GB on disk)
#   eval "$(bash tools/setup-libtorch.sh --env)"   # the exports alone, once installed
#
# Then, in a target folder of its own so the default build's target/ stays warm:
#   CARGO_TARGET_DIR=target-tch cargo build --release -p fracdet-cli --features tch
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${FRACDET_LIBTORCH_VENV:-$PWD/.venv-libtorch}
TORCH_VERSION=2.9.0

print_env() {
    local torch_dir
    torch_dir=$("$VENV/bin/python" -W ignore -c 'import os, torch; print(os.path.dirname(torch.__file__))')
    # torch-sys reads LIBTORCH (the folder holding lib/ and include/); the loader needs
    # lib/ at run time. LIBTORCH_USE_PYTORCH is not used: it would ask whichever python3
    # is first on PATH, not this venv.
    echo "export LIBTORCH=$torch_dir"
    echo "export LIBTORCH_CXX11_ABI=1"
    echo "export LD_LIBRARY_PATH=$torch_dir/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
}

if [[ "${1:-}" == "--env" ]]; then
    print_env
    exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
    # The wheel is ~900 MB; pip's cache would keep a second copy.
    "$VENV/bin/pip" install --no-cache-dir --quiet "torch==$TORCH_VERSION"
fi
# bench/pytorch_bench.py (the PyTorch column of bench/side_by_side.py) builds its nets with
# tools/make_fixtures.py, which needs numpy.
"$VENV/bin/python" -c "import numpy" 2>/dev/null || "$VENV/bin/pip" install --no-cache-dir --quiet numpy
echo "# libtorch $TORCH_VERSION in $VENV; for --features tch, run:" >&2
print_env
