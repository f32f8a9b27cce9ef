#!/usr/bin/env bash
# The GPU check on a device machine (see BENCHMARKS.md, "GPU (NVIDIA H200)"): installs the carried wheels
# (.whl/, the packages imgtune needs that the machine's image lacks) into /tmp/site, then runs
# benchmarks/gpu_check.py with imgtune from the working tree (PYTHONPATH=src), results under $OUT.
# Extra arguments go to gpu_check.py.   Usage: bash benchmarks/gpu_check.sh [--models resnet18 ...]
set -u
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
        .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site:src
else
    export PYTHONPATH=src
fi
export JAX_PLATFORMS="${JAX_PLATFORMS:-cuda}" PYTHONUNBUFFERED=1
OUT="${OUT:-gpu_check_out}"
mkdir -p "$OUT"
set -o pipefail
python3 benchmarks/gpu_check.py --out "$OUT" --gpu-sample "$@" 2>&1 | tee "$OUT/console.log"
