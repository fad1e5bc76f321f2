#!/usr/bin/env bash
# Installs the peer (npm hnswlib-node 3.0.0, builds hnswlib from source with node-gyp) into the ignored .cache folder.
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
dest="$root/.cache/hnswlib-node"
if [ -f "$dest/node_modules/hnswlib-node/package.json" ]; then echo "$dest"; exit 0; fi
mkdir -p "$dest"
cd "$dest"
[ -f package.json ] || echo '{"name":"searchbench-peer","private":true}' > package.json
npm install --no-audit --no-fund hnswlib-node@3.0.0 >&2
echo "$dest"
