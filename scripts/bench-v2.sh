#!/usr/bin/env bash
# EmbeddingGemma 2 (text) vs EmbeddingGemma v1 on the same machine, through the user path: the CLI's `bench` loads each
# GGUF with EmbeddingGemmaModel.Load and encodes with EncodeTokenIds in a child process per weight type, so every row has
# its own peak RSS. Workloads: tokens/s on documents of 256 tokens, the median latency of one 32-token query, one
# document of the model's whole context (v1: 2,048 tokens, its limit; v2: 8,192), peak RSS. Then the full-size parity
# check of the v2 fast engine against the fp64-accumulating reference (cos >= 0.999999 at fp32, >= 0.999 quantized).
#
#   scripts/bench-v2.sh                      # full-size random models with the real 262,144-row vocabulary, into .cache/bench
#   scripts/bench-v2.sh --small              # the same on tiny models: checks the script in about a minute
#   TYPES=f32,q4_0 THREADS=4 scripts/bench-v2.sh
#
# Full size: `make-model --shape full --tokenizer .cache/tokenizer-gemma3/tokenizer.json` per architecture (the released
# shapes and parameter counts: 307,581,696 for v1, 271,002,648 for v2; random weights) into the ignored .cache/bench
# (~1.2 GB / ~1.1 GB F32 folders), then `bench --model` converts each to every type in a temporary folder; ~2 GB of
# memory per process. The parity step runs the reference encoder (seconds per token at full size).
# Results: .cache/bench/bench-v2-<arch>.json and .cache/bench/bench-v2-parity.txt; the tables go to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
SMALL=0
[ "${1:-}" = "--small" ] && SMALL=1
TYPES=${TYPES:-f32,bf16,q8_0,q4_0}
THREADS=${THREADS:-$(nproc)}
OUT=.cache/bench
mkdir -p "$OUT"
[ "$SMALL" = 1 ] || scripts/fetch-assets.sh   # the real Gemma 3 tokenizer.json (262,144 pieces) for full-size vocabularies
TOKENIZER=.cache/tokenizer-gemma3/tokenizer.json
dotnet build src/EmbeddingGemma.Cli -c Release -nologo -v q >/dev/null
dotnet build bench/EmbeddingGemma.Benchmarks -c Release -nologo -v q >/dev/null
CLI="dotnet src/EmbeddingGemma.Cli/bin/Release/net10.0/EmbeddingGemma.Cli.dll"
BENCH="dotnet bench/EmbeddingGemma.Benchmarks/bin/Release/net10.0/EmbeddingGemma.Benchmarks.dll"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) logical CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); threads $THREADS; types $TYPES" >&2

for arch in embeddinggemma embeddinggemma2; do
  if [ "$SMALL" = 1 ]; then
    # tiny random models through --model (converted per type into a temporary folder by bench itself)
    model="$OUT/small-$arch"
    [ -d "$model" ] || $CLI make-model --arch "$arch" --shape tiny --out "$model" >&2
    $CLI bench --model "$model" --types "$TYPES" --threads "$THREADS" --docs 4 --doc-tokens 256 --query-runs 5 \
      --workloads docs,query,long --json > "$OUT/bench-v2-$arch.json"
  else
    # the full-size random model of each architecture with the real vocabulary, written once and reused
    model="$OUT/full-$arch"
    [ -d "$model" ] || $CLI make-model --arch "$arch" --shape full --tokenizer "$TOKENIZER" --out "$model" >&2
    $CLI bench --model "$model" --types "$TYPES" --threads "$THREADS" --docs 64 --doc-tokens 256 --query-runs 30 \
      --workloads docs,query,long --json > "$OUT/bench-v2-$arch.json"
  fi
done

# one summary table, v1 and v2 side by side per weight type
python3 - "$OUT/bench-v2-embeddinggemma.json" "$OUT/bench-v2-embeddinggemma2.json" <<'PY'
import json, sys
rows = []
for path in sys.argv[1:]:
    doc = json.load(open(path))
    for r in doc["results"]:
        rows.append((r.get("architecture", "?"), r["type"], r.get("docs_tokens_per_s", 0), r.get("query_median_ms", 0),
                     r.get("long_tokens", 0), r.get("long_s", 0), r.get("peak_rss_mb", 0), r.get("file_mb", 0)))
print(f"{'model':16} {'type':5} {'tok/s @256':>11} {'query32 ms':>11} {'long tokens':>11} {'long s':>8} {'peak RSS MB':>12} {'file MB':>8}")
for a, t, tps, q, lt, ls, rss, mb in rows:
    print(f"{a:16} {t:5} {tps:11.0f} {q:11.1f} {lt:11.0f} {ls:8.2f} {rss:12.0f} {mb:8.0f}")
PY

# fast engine vs reference on the same random v2 model (full size: the released shapes)
if [ "$SMALL" = 1 ]; then
  $BENCH parity2 --shape tiny --lengths 2,32,600 --types "$TYPES" --out "$OUT/parity2-tiny" | tee "$OUT/bench-v2-parity.txt"
else
  $BENCH parity2 --shape full --tokenizer "$TOKENIZER" --lengths 2,32,600 --types "$TYPES" --out "$OUT/parity2-full" | tee "$OUT/bench-v2-parity.txt"
fi
