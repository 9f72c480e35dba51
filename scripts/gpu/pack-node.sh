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
#   run(command="bash scripts/gpu/device-check.sh", carry=[".cache/pysrc", ".cache/node"], timeout_s=560)
# The carry limit is 64 MiB in all: .cache/pysrc is about 31 MiB and this folder about 27 MiB.
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

du -sh "$out" "$out"/* | sed 's/^/pack-node: /'
