#!/usr/bin/env bash
# device-check.sh's cli stage: the real `netlens` CLI on the GPU machine, through the node binary
# carried in .cache/node (scripts/gpu/pack-node.sh). Trains LeNet-5 for one epoch on cuda and on cpu
# (same seed, data and initial weights), compares the first-step losses (relative < 1e-4) and puts
# both step times into $OUT/summary.txt; trains it again on cuda in bf16 mixed precision (first-step
# loss within 5e-2 of the fp32 CPU's: bf16 conv/linear operands, see cuda_parity_test's
# kBf16LossTolerance) and in fp32 with --channels-last (NHWC; first-step losses within 1e-4 of the CPU's);
# then benches LeNet-5 at batch 256 on cuda (fp32, tf32, bf16, fp32 --autotune, bf16 --channels-last).
# Usage: bash scripts/gpu/cli-check.sh BUILD_DIR   (BUILD_DIR: where CMake built netlens.node, if it did)
# Writes $OUT/engine-info.json, $OUT/cli_train_{cuda,cpu,cuda_bf16,cuda_nhwc}.{jsonl,log}, $OUT/cli_bench.jsonl (+ _fp32/_tf32/_bf16.log),
# $OUT/cli_bench_autotune.{jsonl,log}, $OUT/cli-autotune.json and $OUT/cli_bench_nhwc.{jsonl,log}.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
build=${1:-}
OUT="${OUT:-$(mktemp -d)}"
note() { echo "$*" | tee -a "$OUT/summary.txt"; }

if [ ! -f .cache/node/node.xz ]; then
  note "FAIL cli: .cache/node/node.xz is missing (run scripts/gpu/pack-node.sh here and carry .cache/node)"
  exit 1
fi
work=$(mktemp -d)
# xz-utils may be missing from the GPU machine's image; Python's lzma reads the same files.
unxz_to() {  # unxz_to FILE.xz DESTINATION
  if command -v xz > /dev/null; then xz -dc "$1" > "$2"
  else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; fi
}
unxz_to .cache/node/node.xz "$work/node" && chmod +x "$work/node"
node="$work/node"
# dist/ is ignored by git, so it only exists here when unpacked from the carried bundle.
if [ ! -f dist/cli.js ]; then
  unxz_to .cache/node/dist.tar.xz "$work/dist.tar" && tar -xf "$work/dist.tar"
fi
addon="$PWD/dist/native/netlens.node"
if [ -n "$build" ] && [ -f "$build/netlens.node" ]; then addon="$(cd "$build" && pwd)/netlens.node"; fi
export NETLENS_ADDON_PATH="$addon"
note "cli: node $("$node" --version), add-on $addon"

# The engine looks for cuDNN and cuBLAS in NETLENS_*_PATH, CUDNN_ROOT, CUDA_HOME, CUDA_PATH, the
# folder CMake found and ld.so's path; PyTorch's pip wheels are none of these, so name them here
# when nothing else is set (the add-on built on this machine already knows the folder CMake found).
wheel_dir() {  # wheel_dir LIBRARY: the first nvidia wheel folder holding it
  python3 - "$1" <<'EOF' 2>/dev/null
import glob, os, site, sys
roots = site.getsitepackages() + [site.getusersitepackages()]
for root in roots:
    for folder in ("nvidia/cu13/lib", "nvidia/cudnn/lib", "nvidia/cublas/lib"):
        if glob.glob(os.path.join(root, folder, sys.argv[1] + "*")):
            print(os.path.join(root, folder)); sys.exit(0)
EOF
}
[ -n "${NETLENS_CUDNN_PATH:-}" ] || { dir=$(wheel_dir libcudnn.so.9); [ -n "$dir" ] && export NETLENS_CUDNN_PATH="$dir"; }
[ -n "${NETLENS_CUBLAS_PATH:-}" ] || { dir=$(wheel_dir libcublas.so.1); [ -n "$dir" ] && export NETLENS_CUBLAS_PATH="$dir"; }

"$node" -e 'const a = require(process.env.NETLENS_ADDON_PATH); process.stdout.write(JSON.stringify(a.engineInfo(), null, 1))' > "$OUT/engine-info.json" 2>&1
note "cli: engine $("$node" -e 'const i = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(`${i.deviceName || "no GPU"}, cudaExecutorAvailable=${i.cudaExecutorAvailable}: ${i.cudaExecutorStatus}`)' "$OUT/engine-info.json" 2>&1)"

status=0
for device in cuda cpu; do
  "$node" bin/netlens.js train examples/lenet5.py --device "$device" --epochs 1 --seed 0 --json-events --runs-root "$work/$device" \
    > "$OUT/cli_train_$device.jsonl" 2> "$OUT/cli_train_$device.log" || status=1
done
"$node" scripts/gpu/compare-runs.mjs "$OUT/cli_train_cuda.jsonl" "$OUT/cli_train_cpu.jsonl" 1e-4 2>&1 | tee -a "$OUT/summary.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
"$node" bin/netlens.js train examples/lenet5.py --device cuda --precision bf16 --epochs 1 --seed 0 --json-events --runs-root "$work/cuda_bf16" \
  > "$OUT/cli_train_cuda_bf16.jsonl" 2> "$OUT/cli_train_cuda_bf16.log" || status=1
"$node" scripts/gpu/compare-runs.mjs "$OUT/cli_train_cuda_bf16.jsonl" "$OUT/cli_train_cpu.jsonl" 5e-2 'cuda bf16 vs cpu fp32' 2>&1 | tee -a "$OUT/summary.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
# --channels-last end to end (CLI → engine process → add-on → NHWC executor, checkpoints through the
# filter layout conversion): the same arithmetic as fp32 NCHW, so the CPU's tolerance.
"$node" bin/netlens.js train examples/lenet5.py --device cuda --channels-last --epochs 1 --seed 0 --json-events --runs-root "$work/cuda_nhwc" \
  > "$OUT/cli_train_cuda_nhwc.jsonl" 2> "$OUT/cli_train_cuda_nhwc.log" || status=1
"$node" scripts/gpu/compare-runs.mjs "$OUT/cli_train_cuda_nhwc.jsonl" "$OUT/cli_train_cpu.jsonl" 1e-4 'cuda channels-last vs cpu' 2>&1 | tee -a "$OUT/summary.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

: > "$OUT/cli_bench.jsonl"
for precision in fp32 tf32 bf16; do
  if "$node" bin/netlens.js bench examples/lenet5.py --device cuda --precision "$precision" --batch 256 --steps 100 --warmup 5 --json \
      >> "$OUT/cli_bench.jsonl" 2> "$OUT/cli_bench_$precision.log"; then
    note "cli bench LeNet-5 batch 256 cuda $precision: $(tail -1 "$OUT/cli_bench.jsonl")"
  else
    note "FAIL cli bench cuda $precision: $(tail -2 "$OUT/cli_bench_$precision.log" | tr '\n' ' ')"
    status=1
  fi
done
# The --autotune plumbing end to end (CLI → engine process → add-on → CudaExecutor): LeNet-5 fp32 with
# cuDNN autotuning, its cache written into $OUT.
if NETLENS_CUDNN_AUTOTUNE_CACHE="$OUT/cli-autotune.json" "$node" bin/netlens.js bench examples/lenet5.py --device cuda --autotune \
    --batch 256 --steps 100 --warmup 5 --json > "$OUT/cli_bench_autotune.jsonl" 2> "$OUT/cli_bench_autotune.log"; then
  note "cli bench LeNet-5 batch 256 cuda fp32 --autotune: $(tail -1 "$OUT/cli_bench_autotune.jsonl"); cache: $(grep -c '"algorithm"' "$OUT/cli-autotune.json" 2>/dev/null || echo 0) entries"
else
  note "FAIL cli bench cuda --autotune: $(tail -2 "$OUT/cli_bench_autotune.log" | tr '\n' ' ')"
  status=1
fi
if "$node" bin/netlens.js bench examples/lenet5.py --device cuda --precision bf16 --channels-last --batch 256 --steps 100 --warmup 5 --json \
    > "$OUT/cli_bench_nhwc.jsonl" 2> "$OUT/cli_bench_nhwc.log"; then
  note "cli bench LeNet-5 batch 256 cuda bf16 --channels-last: $(tail -1 "$OUT/cli_bench_nhwc.jsonl")"
else
  note "FAIL cli bench cuda bf16 --channels-last: $(tail -2 "$OUT/cli_bench_nhwc.log" | tr '\n' ' ')"
  status=1
fi
exit $status
