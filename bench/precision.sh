#!/usr/bin/env bash
# Output-precision benchmark: recall@10 vs exact float32 search and bytes/vector per precision on the shipped
# scifact_beir subsample (1,000 documents, 300 queries), for the model-free hashing embedder, a tiny random
# EmbeddingGemma (64 dims) and a 768-dim random one with the real head layout (3 heads of 256, 1 KV head, FFN 1152;
# 4 layers instead of 24), both made here, plus any model given as an argument (folder or .gguf).
# Usage: bench/precision.sh [MODEL ...]
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build bench/PrecisionBench -c Release -nologo -v q >/dev/null
dotnet build src/EmbeddingGemma.Cli -c Release -nologo -v q >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cli() { dotnet src/EmbeddingGemma.Cli/bin/Release/net10.0/EmbeddingGemma.Cli.dll "$@" >/dev/null; }
cli make-model --shape tiny --seed 1 --out "$tmp/tiny"
cli make-model --shape tiny --seed 3 --set hidden_size=768 --set intermediate_size=1152 --set num_hidden_layers=4 \
  --set num_attention_heads=3 --set num_key_value_heads=1 --set head_dim=256 --set query_pre_attn_scalar=256 --out "$tmp/mid768"
run() { dotnet bench/PrecisionBench/bin/Release/net10.0/PrecisionBench.dll --data data/eval/scifact_beir "$@"; echo; }
run --model hash:768
run --model "$tmp/tiny"
run --model "$tmp/mid768"
for m in "$@"; do run --model "$m"; done
