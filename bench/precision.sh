#!/usr/bin/env bash
# Output-precision benchmark: recall@10 vs exact float32 search and bytes/vector per precision on the shipped
# scifact_beir subsample (1,000 documents, 300 queries), for the model-free hashing embedder and a tiny random
# EmbeddingGemma (made here), plus any model given as an argument (folder or .gguf, e.g. a `make-model --shape full`).
# Usage: bench/precision.sh [MODEL ...]
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build bench/PrecisionBench -c Release -nologo -v q >/dev/null
dotnet build src/EmbeddingGemma.Cli -c Release -nologo -v q >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dotnet src/EmbeddingGemma.Cli/bin/Release/net10.0/EmbeddingGemma.Cli.dll make-model --shape tiny --seed 1 --out "$tmp/tiny" >/dev/null
run() { dotnet bench/PrecisionBench/bin/Release/net10.0/PrecisionBench.dll --data data/eval/scifact_beir "$@"; echo; }
run --model hash:768
run --model "$tmp/tiny"
for m in "$@"; do run --model "$m"; done
