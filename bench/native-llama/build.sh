#!/usr/bin/env bash
# Builds a native (-march=native) llama.cpp from the exact source node-llama-cpp@3.22.1 ships
# (llama/gitRelease.bundle), plus our embed_worker, into <repo>/.cache/llama.cpp-native/.
# Idempotent: each step is skipped when its output already exists.
#   bench/native-llama/build.sh            # build everything
#   JOBS=4 bench/native-llama/build.sh     # parallel jobs (default: 2)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="$ROOT/.cache"
PKG_VERSION="${NODE_LLAMA_CPP_VERSION:-3.22.1}"
PKG_DIR="$CACHE/node-llama-cpp-$PKG_VERSION"
SRC="$CACHE/llama.cpp-src"
OUT="$CACHE/llama.cpp-native"
BUILD="$OUT/build"
JOBS="${JOBS:-2}"
mkdir -p "$CACHE" "$OUT"

# 1. The npm package (only for its git bundle of llama.cpp sources).
if [ ! -f "$PKG_DIR/package/llama/gitRelease.bundle" ]; then
  mkdir -p "$PKG_DIR"
  (cd "$PKG_DIR" && npm pack "node-llama-cpp@$PKG_VERSION" --silent >/dev/null && tar xzf node-llama-cpp-*.tgz)
fi

# 2. Clone the bundle.
if [ ! -d "$SRC/.git" ]; then
  rm -rf "$SRC"
  git -c advice.detachedHead=false clone --quiet "$PKG_DIR/package/llama/gitRelease.bundle" "$SRC"
fi

# 3. Configure + build llama.cpp tools (CPU only, native ISA, no curl/server/tests).
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  cmake -S "$SRC" -B "$BUILD" \
    -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
    -DBUILD_SHARED_LIBS=OFF -DGGML_OPENMP=ON \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_UI=OFF \
    -DLLAMA_BUILD_EXAMPLES=ON -DLLAMA_BUILD_TOOLS=ON -DLLAMA_OPENSSL=OFF -DLLAMA_LLGUIDANCE=OFF \
    -DGGML_CUDA=OFF -DGGML_VULKAN=OFF -DGGML_METAL=OFF
fi
cmake --build "$BUILD" --config Release -j "$JOBS" --target llama-bench llama-embedding llama-quantize
mkdir -p "$OUT/bin"
for t in llama-bench llama-embedding llama-quantize; do
  cp -f "$BUILD/bin/$t" "$OUT/bin/$t"
done

# 4. Our worker, a tiny CMake project linking the static libllama/ggml built above.
WBUILD="$OUT/worker-build"
cmake -S "$HERE" -B "$WBUILD" -DCMAKE_BUILD_TYPE=Release \
  -DLLAMA_SRC="$SRC" -DLLAMA_BUILD_DIR="$BUILD" >/dev/null
cmake --build "$WBUILD" -j "$JOBS"
cp -f "$WBUILD/embed_worker" "$OUT/bin/embed_worker"
echo "built: $(ls "$OUT/bin")  in $OUT/bin"
