#!/usr/bin/env bash
# The one script a session with a lent GPU machine runs there (no Node on that machine):
#   run(command="bash scripts/gpu/device-check.sh", carry=[".cache/pysrc"], timeout_s=540)
# It builds the engine core and its C++ tests with CUDA (plain CMake, no cmake-js), runs them
# expecting a GPU and cuDNN (so a silently CPU-only build fails), and measures the training-memory
# goldens with PyTorch (scripts/memory/measure_gpu.py). Everything it learns lands in $OUT:
#   $OUT/summary.txt, $OUT/ctest.log, $OUT/gpu.json (→ tests/unit/goldens/memory/gpu.json),
#   $OUT/cuda_bench.jsonl and $OUT/torch_bench.jsonl (training-step times; ratios in summary.txt),
#   $OUT/measure_gpu.log, $OUT/machine.txt
# Each stage runs even when an earlier one failed; the exit code is 1 when any failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
status=0
note() { echo "$*" | tee -a "$OUT/summary.txt"; }
stage() {  # stage NAME SECONDS COMMAND...
  local name=$1 limit=$2; shift 2
  local started=$SECONDS
  if timeout "$limit" "$@"; then note "PASS $name ($((SECONDS - started)) s)"; else note "FAIL $name (exit $?, $((SECONDS - started)) s)"; status=1; fi
}

{
  date -u; uname -a; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1
  nvcc --version 2>&1 | tail -1
  ls /usr/include/x86_64-linux-gnu/cudnn_version*.h /usr/include/cudnn_version*.h 2>/dev/null
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())' 2>&1
} > "$OUT/machine.txt"
note "machine: $(head -3 "$OUT/machine.txt" | tail -1)"

build=native/build-gpu-tests
stage configure 120 cmake -S . -B "$build" -DNETLENS_BUILD_TESTS=ON -DNETLENS_CUDA=ON -DCMAKE_BUILD_TYPE=Release
stage build 300 cmake --build "$build" -j "$(nproc)"
stage ctest 240 env NETLENS_EXPECT_GPU=1 NETLENS_EXPECT_CUDNN=1 \
  ctest --test-dir "$build" --output-on-failure --output-log "$OUT/ctest.log"

# Training-step speed: Netlens's CUDA executor (cuda_bench) and PyTorch (bench_torch.py) on the same
# models, batches and precisions, one after the other on this card; the ratios go into summary.txt.
stage cuda_bench 150 sh -c "'$build/cuda_bench' 64 256 > '$OUT/cuda_bench.jsonl' 2> '$OUT/cuda_bench.log'"
stage bench_torch 150 sh -c "python3 scripts/gpu/bench_torch.py 64 256 > '$OUT/torch_bench.jsonl' 2> '$OUT/torch_bench.log'"
python3 scripts/gpu/bench_ratio.py "$OUT/cuda_bench.jsonl" "$OUT/torch_bench.jsonl" 2>&1 | tee -a "$OUT/summary.txt"

# torchvision's model files: the installed package when there is one, else the sources carried in
# .cache/pysrc (scripts/fetch-python-sources.mjs); a CPU-less stub keeps its import light.
if ! python3 -c 'import torchvision' 2>/dev/null && [ -d .cache/pysrc ]; then
  export PYTHONPATH="$PWD/.cache/pysrc${PYTHONPATH:+:$PYTHONPATH}"
fi
stage measure_gpu 300 sh -c "python3 scripts/memory/measure_gpu.py > '$OUT/gpu.json' 2> '$OUT/measure_gpu.log'"
note "gpu.json: $(python3 -c "import json; d=json.load(open('$OUT/gpu.json')); print(len(d['results']), 'results,', len(d['failures']), 'failures on', d['gpu'])" 2>&1)"
exit $status
