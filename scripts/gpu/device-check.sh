#!/usr/bin/env bash
# The one script a session with a lent GPU machine runs there (no Node on that machine). First, here:
#   bash scripts/gpu/pack-node.sh        (node binary, CLI bundle and Node-API headers → .cache/node)
# then:
#   run(command="bash scripts/gpu/device-check.sh", carry=[".cache/node"], timeout_s=560)
# The 64 MiB limit counts the whole working tree that travels (tracked and untracked files, about
# 15 MiB) plus what is carried (.cache/node about 25 MiB): .cache/pysrc (29 MiB) no longer fits beside
# them, and the GPU machine has torchvision installed. pack-node.sh prints the total. Without
# .cache/node the cli stage fails and says why.
# It builds the engine core, its C++ tests and netlens.node with CUDA (plain CMake, no cmake-js: the
# Node-API headers come from .cache/node/include; CUDA code for this GPU's architecture only), then,
# most valuable first:
#   cli        the real `netlens train` on cuda and on cpu through the carried node: first-step
#              losses compared (relative < 1e-4), both step times, then `netlens bench` on cuda
#              (scripts/gpu/cli-check.sh)
#   ctest      the C++ tests expecting a GPU and cuDNN (so a silently CPU-only build fails): op
#              parity, training parity (graph, eager, pipelined), optimizer state, refusals
#   benches    Netlens's CUDA executor (cuda_bench: graph, eager, graph-unfused, graph+channels-last) and PyTorch
#              (bench_torch.py), then cuda_bench --autotune (graph+autotune rows), ratios
#   measure_gpu  the training-memory goldens with PyTorch (scripts/memory/measure_gpu.py)
# The device tool brings back at most 8 files from $OUT, so every log is written to a work folder and
# $OUT receives, after each stage (a run cut short still returns what was done):
#   summary.txt                  every stage's PASS/FAIL/SKIP, failed checks, bench ratios and goals
#   gpu.json                     measure_gpu's result (→ tests/unit/goldens/memory/gpu.json)
#   device-check-results.tar.gz  everything: summary.txt, machine.txt, configure/build.log, ctest{,-full}.log,
#                                cuda_bench{,_autotune,_all}.jsonl, torch_bench.jsonl, cudnn-autotune.json,
#                                cli_train_*.jsonl, cli_bench*.jsonl, engine-info.json, *.log, gpu.json
# (read it with `tar -xzf device-check-results.tar.gz -C somewhere`).
# Each stage runs even when an earlier one failed, within one time budget (DEVICE_CHECK_SECONDS,
# default 520): a stage gets at most what is left, and one that cannot start is noted as SKIP.
# The exit code is 1 when any stage failed or was skipped.
# NETLENS_DEVICE_BUILD_DIR overrides the build folder (native/build-gpu-tests), e.g. to rehearse the
# script on a machine without a GPU against a build that is already there.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
results=$(mktemp -d "${TMPDIR:-/tmp}/device-check.XXXXXX")
status=0
note() { echo "$*" | tee -a "$results/summary.txt"; }
# What comes back: the two files read first, and one archive of everything (at most 8 files return).
collect() {
  cp "$results/summary.txt" "$OUT/summary.txt" 2>/dev/null
  [ -s "$results/gpu.json" ] && cp "$results/gpu.json" "$OUT/gpu.json"
  tar -czf "$OUT/.results.partial" -C "$results" . 2>/dev/null && mv "$OUT/.results.partial" "$OUT/device-check-results.tar.gz"
}
trap collect EXIT
budget=${DEVICE_CHECK_SECONDS:-520}
stage() {  # stage NAME SECONDS COMMAND...
  local name=$1 limit=$2; shift 2
  local left=$((budget - SECONDS))
  if [ "$left" -lt 15 ]; then note "SKIP $name (time budget of $budget s spent)"; status=1; return; fi
  [ "$limit" -le "$left" ] || limit=$left
  local started=$SECONDS code=0
  timeout "$limit" "$@" || code=$?
  if [ "$code" -eq 0 ]; then note "PASS $name ($((SECONDS - started)) s)"
  else note "FAIL $name (exit $code$([ "$code" -eq 124 ] && echo ', timed out'), $((SECONDS - started)) s, limit $limit s)"; status=1; fi
  collect
}
# Seconds a stage asking for LIMIT will get (what stage() gives it), for commands that pace themselves.
granted() { local left=$((budget - SECONDS)); [ "$1" -le "$left" ] && echo "$1" || echo "$left"; }

{
  date -u; uname -a
  nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv,noheader 2>&1
  nvcc --version 2>&1 | tail -1
  ls /usr/include/x86_64-linux-gnu/cudnn*.h /usr/include/cudnn*.h /usr/lib/x86_64-linux-gnu/libcudnn*.so* 2>/dev/null
  python3 -c 'import nvidia.cudnn as w; print("cudnn wheel:", list(w.__path__))' 2>/dev/null || echo "cudnn wheel: none"
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())' 2>&1
  python3 -c 'import torchvision; print("torchvision", torchvision.__version__)' 2>&1 | tail -1
} > "$results/machine.txt"
note "machine: $(sed -n 3p "$results/machine.txt")"
[ "${NETLENS_DRY_RUN:-}" = "1" ] && note "DRY RUN (NETLENS_DRY_RUN=1): bench_torch.py and measure_gpu.py run on the CPU; no number here is a measurement"

build=${NETLENS_DEVICE_BUILD_DIR:-native/build-gpu-tests}
cmake_args=(-DNETLENS_BUILD_TESTS=ON -DNETLENS_CUDA=ON -DCMAKE_BUILD_TYPE=Release)
# netlens.node joins the same build when the carried Node-API headers are here (no second core build).
[ -d .cache/node/include ] && cmake_args+=(-DNETLENS_NODE_API_INCLUDE_DIRS="$PWD/.cache/node/include")
# Device code for this GPU only (e.g. "9.0" → 90): a fifth of the default five architectures' nvcc time.
capability=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')
[[ "$capability" =~ ^[0-9]+$ ]] && cmake_args+=(-DCMAKE_CUDA_ARCHITECTURES="$capability")
# cuDNN installed with only version-suffixed headers (cudnn_v9.h, cudnn_version_v9.h, … and no
# cudnn.h, as NVIDIA's packages leave them when update-alternatives did not run): FindCUDNN looks for
# cudnn.h, so the build gets a folder of unsuffixed links to them.
multiarch=/usr/include/x86_64-linux-gnu
if [ ! -e /usr/include/cudnn.h ] && [ ! -e "$multiarch/cudnn.h" ] && [ -e "$multiarch/cudnn_v9.h" ]; then
  mkdir -p "$results/cudnn-root/include"
  for header in "$multiarch"/cudnn*_v9.h; do
    name=$(basename "$header"); ln -sf "$header" "$results/cudnn-root/include/${name%_v9.h}.h"
  done
  cmake_args+=(-DCUDNN_ROOT="$results/cudnn-root")
  note "cuDNN: only version-suffixed headers in $multiarch; linked unsuffixed names for the build"
fi
stage configure 90 sh -c 'log=$0; cmake -S . "$@" > "$log" 2>&1 || { tail -25 "$log"; exit 1; }' "$results/configure.log" -B "$build" "${cmake_args[@]}"
note "build: $(grep -E 'Netlens: (CUDA backend|cuDNN|cuBLAS|no cuBLAS|not run by cmake-js)' "$results/configure.log" 2>/dev/null | sed 's/^-- //' | tr '\n' ';')"
stage build 240 sh -c 'cmake --build "$1" -j "$(nproc)" > "$0" 2>&1 || { grep -E "error|Error" "$0" | head -25; exit 1; }' "$results/build.log" "$build"
stage cli 150 env OUT="$results" bash scripts/gpu/cli-check.sh "$build"
# ctest's own per-test timeout ends a hung test inside the stage's limit, so its log is still written.
stage ctest 180 env NETLENS_EXPECT_GPU=1 NETLENS_EXPECT_CUDNN=1 sh -c \
  'ctest --test-dir "$0" --timeout 150 --output-on-failure --output-log "$1/ctest.log" > "$1/ctest-console.log" 2>&1' "$build" "$results"
# Every test's whole output (ctest's own log keeps only the failing ones'): plans, algorithms, worst errors.
cp "$build/Testing/Temporary/LastTest.log" "$results/ctest-full.log" 2>/dev/null
grep -E 'tests passed|tests failed|\(Failed\)|\(Timeout\)|\*\*\*' "$results/ctest-console.log" 2>/dev/null | head -20 | sed 's/^/ctest: /' | tee -a "$results/summary.txt"
grep -h '^FAIL: ' "$results/ctest-full.log" 2>/dev/null | head -60 | sed 's/^/ctest /' | tee -a "$results/summary.txt"

# Training-step speed: Netlens's CUDA executor (cuda_bench) and PyTorch (bench_torch.py) on the same
# models, batches and precisions (fp32, tf32, bf16), one after the other on this card; the ratios and
# issue 7's goals go into summary.txt. ResNet-18 at 224×224 (batch 128) makes these the slow stages.
# Each passes only with at least one timed row: without a usable GPU both print {"skipped": why} and exit 0.
stage cuda_bench 150 sh -c "'$build/cuda_bench' 64 256 > '$results/cuda_bench.jsonl' 2> '$results/cuda_bench.log' && grep -q step_ms_median '$results/cuda_bench.jsonl'"
stage bench_torch 150 sh -c "python3 scripts/gpu/bench_torch.py 64 256 > '$results/torch_bench.jsonl' 2> '$results/torch_bench.log' && grep -q step_ms_median '$results/torch_bench.jsonl'"
# cuDNN autotuning as extra rows (seed net and LeNet-5 at 256 in each precision, ResNet-18 bf16); its
# cache file comes back in the archive, so the chosen algorithms can be read. Short: the main rows come first.
stage cuda_bench_autotune 60 env NETLENS_CUDNN_AUTOTUNE_CACHE="$results/cudnn-autotune.json" \
  sh -c "'$build/cuda_bench' --autotune > '$results/cuda_bench_autotune.jsonl' 2> '$results/cuda_bench_autotune.log' && grep -q step_ms_median '$results/cuda_bench_autotune.jsonl'"
cat "$results/cuda_bench.jsonl" "$results/cuda_bench_autotune.jsonl" > "$results/cuda_bench_all.jsonl" 2>/dev/null
python3 scripts/gpu/bench_ratio.py "$results/cuda_bench_all.jsonl" "$results/torch_bench.jsonl" 2>&1 | tee -a "$results/summary.txt"

# torchvision's model files: the installed package when there is one, else the sources in .cache/pysrc
# (scripts/fetch-python-sources.mjs) when a run carries them.
if ! python3 -c 'import torchvision' 2>/dev/null && [ -d .cache/pysrc ]; then
  export PYTHONPATH="$PWD/.cache/pysrc${PYTHONPATH:+:$PYTHONPATH}"
fi
# measure_gpu stops starting cases 30 s before the stage's limit, so it still writes its JSON (a
# SIGTERM at the limit also makes it write what it has; `exec`, so that timeout waits for that write).
measure_limit=$(granted 150)
stage measure_gpu 150 env MEASURE_GPU_BUDGET_S=$((measure_limit > 40 ? measure_limit - 30 : 10)) \
  sh -c "exec python3 scripts/memory/measure_gpu.py > '$results/gpu.json' 2> '$results/measure_gpu.log'"
[ -s "$results/gpu.json" ] || note "gpu.json: not written (see measure_gpu.log in the archive)"
[ -s "$results/gpu.json" ] && note "gpu.json: $(python3 -c "import json, sys; d = json.load(open(sys.argv[1])); print(len(d['results']), 'results,', len(d['probes']), 'probes,', len(d['failures']), 'failures,', len(d['skipped']), 'skipped on', d['gpu'], '(interrupted)' if d.get('interrupted') else '')" "$results/gpu.json" 2>&1 | tail -1)"
exit $status
