#!/usr/bin/env bash
# Packs what the GPU machine needs to run the real `netlens` CLI (it has no Node) into .cache/node/
# (ignored by git, so a device run must carry it):
#   node.xz          this machine's node binary, xz-compressed (about 24 MB; Node 20, glibc-linked)
#   dist.tar.xz      the CLI bundle: dist/cli.js, dist/engineHost.js, the tree-sitter wasm files and,
#                    as a fallback, this machine's dist/native/netlens.node (built with nvcc 13 here)
#   include/         the Node-API headers (node-api-headers + node-addon-api, ~0.3 MB), so the GPU
#                    machine builds netlens.node with plain CMake (-DNETLENS_NODE_API_INCLUDE_DIRS)
#                    against its own cuDNN, in the same build as the C++ tests: no npm, no cmake-js
# Run it here before a device session, then:
#   run(command="bash scripts/gpu/device-check.sh", carry=[".cache/node"], timeout_s=560)
# The 64 MiB limit counts the working tree that travels (tracked and untracked, not ignored, files)
# plus the carried folders; the last line printed is that total for the run above, and the script
# fails when it is over the limit.
# Usage: bash scripts/gpu/pack-node.sh [--no-build]   (--no-build: pack the dist/ that is there)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.cache/node
mkdir -p "$out/include"

if [ "${1:-}" != "--no-build" ]; then
  # Bundles only: the typecheck is the CI's job, and a teammate's unfinished file must not block packing.
  node scripts/build.mjs --no-typecheck
fi
for file in dist/cli.js dist/engineHost.js dist/tree-sitter.wasm dist/tree-sitter-python.wasm; do
  [ -f "$file" ] || { echo "pack-node: $file is missing (run node scripts/build.mjs)" >&2; exit 1; }
done

node_binary=$(command -v node)
echo "pack-node: $(node --version) from $node_binary"
xz -T0 -6 -c "$node_binary" > "$out/node.xz.partial"
mv "$out/node.xz.partial" "$out/node.xz"

fallback=()
[ -f dist/native/netlens.node ] && fallback=(dist/native/netlens.node)
tar -cJf "$out/dist.tar.xz" dist/cli.js dist/engineHost.js dist/tree-sitter.wasm dist/tree-sitter-python.wasm "${fallback[@]}"

cp node_modules/node-api-headers/include/*.h "$out/include/"
cp node_modules/node-addon-api/napi.h node_modules/node-addon-api/napi-inl.h node_modules/node-addon-api/napi-inl.deprecated.h "$out/include/"
node --version > "$out/node-version.txt"

{ du -sh "$out"/*; du -sh "$out"; } | sed 's/^/pack-node: /'

# What the device tool sends: tracked and untracked-but-not-ignored files, plus the carried .cache/node.
if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
  tree_bytes=$(git ls-files -z --cached --others --exclude-standard | xargs -0 stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')
  carried_bytes=$(du -sb "$out" | cut -f1)
  total=$((tree_bytes + carried_bytes))
  echo "pack-node: a device run sends $((tree_bytes >> 20)) MiB of working tree + $((carried_bytes >> 20)) MiB of .cache/node = $((total >> 20)) MiB (limit 64 MiB)"
  if [ "$total" -gt $((64 << 20)) ]; then
    echo "pack-node: over the device tool's 64 MiB limit: the run would be refused" >&2
    exit 1
  fi
fi
