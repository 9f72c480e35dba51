#!/usr/bin/env bash
# The one script a session with a lent GPU machine runs there (no Node on that machine). First, here:
#   bash scripts/gpu/pack-node.sh        (node binary, CLI bundle and Node-API headers → .cache/node)
# then:
#   run(command="bash scripts/gpu/device-check.sh", carry=[".cache/pysrc", ".cache/node"], timeout_s=560)
# (about 56 MiB of the 64 MiB carry limit; without .cache/node the cli stage fails and says why).
# It builds the engine core, its C++ tests and netlens.node with CUDA (plain CMake, no cmake-js: the
# Node-API headers come from .cache/node/include), then, most valuable first:
#   cli        the real `netlens train` on cuda and on cpu through the carried node: first-step
#              losses compared (relative < 1e-4), both step times, then `netlens bench` on cuda
#              (scripts/gpu/cli-check.sh)
#   ctest      the C++ tests expecting a GPU and cuDNN (so a silently CPU-only build fails): op
#              parity, training parity (graph, eager, pipelined), optimizer state, refusals
#   benches    Netlens's CUDA executor (cuda_bench: graph, eager, graph-unfused) and PyTorch
#              (bench_torch.py), then cuda_bench --autotune (graph+autotune rows), ratios
#   measure_gpu  the training-memory goldens with PyTorch (scripts/memory/measure_gpu.py)
# Everything it learns lands in $OUT: summary.txt, ctest.log, gpu.json (→ tests/unit/goldens/memory/gpu.json),
# cuda_bench.jsonl, cuda_bench_autotune.jsonl, cudnn-autotune.json, torch_bench.jsonl,
# cli_train_{cuda,cpu}.jsonl, cli_bench.jsonl, engine-info.json,
# measure_gpu.log, machine.txt.
# Each stage runs even when an earlier one failed, within one time budget (DEVICE_CHECK_SECONDS,
# default 520): a stage gets at most what is left, and one that cannot start is noted as SKIP.
# The exit code is 1 when any stage failed or was skipped.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
status=0
note() { echo "$*" | tee -a "$OUT/summary.txt"; }
budget=${DEVICE_CHECK_SECONDS:-520}
stage() {  # stage NAME SECONDS COMMAND...
  local name=$1 limit=$2; shift 2
  local left=$((budget - SECONDS))
  if [ "$left" -lt 15 ]; then note "SKIP $name (time budget of $budget s spent)"; status=1; return; fi
  [ "$limit" -le "$left" ] || limit=$left
  local started=$SECONDS
  if timeout "$limit" "$@"; then note "PASS $name ($((SECONDS - started)) s)"; else note "FAIL $name (exit $?, $((SECONDS - started)) s, limit $limit s)"; status=1; fi
}

{
  date -u; uname -a; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1
  nvcc --version 2>&1 | tail -1
  ls /usr/include/x86_64-linux-gnu/cudnn_version*.h /usr/include/cudnn_version*.h 2>/dev/null
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())' 2>&1
} > "$OUT/machine.txt"
note "machine: $(head -3 "$OUT/machine.txt" | tail -1)"

build=native/build-gpu-tests
# netlens.node joins the same build when the carried Node-API headers are here (no second core build).
node_api=()
[ -d .cache/node/include ] && node_api=(-DNETLENS_NODE_API_INCLUDE_DIRS="$PWD/.cache/node/include")
stage configure 90 cmake -S . -B "$build" -DNETLENS_BUILD_TESTS=ON -DNETLENS_CUDA=ON -DCMAKE_BUILD_TYPE=Release "${node_api[@]}"
stage build 240 cmake --build "$build" -j "$(nproc)"
stage cli 150 env OUT="$OUT" bash scripts/gpu/cli-check.sh "$build"
stage ctest 180 env NETLENS_EXPECT_GPU=1 NETLENS_EXPECT_CUDNN=1 \
  ctest --test-dir "$build" --output-on-failure --output-log "$OUT/ctest.log"

# Training-step speed: Netlens's CUDA executor (cuda_bench) and PyTorch (bench_torch.py) on the same
# models, batches and precisions (fp32, tf32, bf16), one after the other on this card; the ratios and
# issue 7's goals go into summary.txt. ResNet-18 at 224×224 (batch 128) makes these the slow stages.
stage cuda_bench 150 sh -c "'$build/cuda_bench' 64 256 > '$OUT/cuda_bench.jsonl' 2> '$OUT/cuda_bench.log'"
stage bench_torch 150 sh -c "python3 scripts/gpu/bench_torch.py 64 256 > '$OUT/torch_bench.jsonl' 2> '$OUT/torch_bench.log'"
# cuDNN autotuning as extra rows (seed net and LeNet-5 at 256 in each precision, ResNet-18 bf16); its
# cache file comes back in $OUT, so the chosen algorithms can be read. Short: the main rows come first.
stage cuda_bench_autotune 60 env NETLENS_CUDNN_AUTOTUNE_CACHE="$OUT/cudnn-autotune.json" \
  sh -c "'$build/cuda_bench' --autotune > '$OUT/cuda_bench_autotune.jsonl' 2> '$OUT/cuda_bench_autotune.log'"
cat "$OUT/cuda_bench.jsonl" "$OUT/cuda_bench_autotune.jsonl" > "$OUT/cuda_bench_all.jsonl" 2>/dev/null
python3 scripts/gpu/bench_ratio.py "$OUT/cuda_bench_all.jsonl" "$OUT/torch_bench.jsonl" 2>&1 | tee -a "$OUT/summary.txt"

# torchvision's model files: the installed package when there is one, else the sources carried in
# .cache/pysrc (scripts/fetch-python-sources.mjs); a CPU-less stub keeps its import light.
if ! python3 -c 'import torchvision' 2>/dev/null && [ -d .cache/pysrc ]; then
  export PYTHONPATH="$PWD/.cache/pysrc${PYTHONPATH:+:$PYTHONPATH}"
fi
stage measure_gpu 150 sh -c "python3 scripts/memory/measure_gpu.py > '$OUT/gpu.json' 2> '$OUT/measure_gpu.log'"
note "gpu.json: $(python3 -c "import json; d=json.load(open('$OUT/gpu.json')); print(len(d['results']), 'results,', len(d['failures']), 'failures on', d['gpu'])" 2>&1)"
exit $status
