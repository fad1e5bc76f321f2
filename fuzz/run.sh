#!/usr/bin/env bash
# Coverage-guided fuzzing with SharpFuzz + AFL++.
# Usage: fuzz/run.sh <target|all> <seconds per target>
#   targets: gguf safetensors tokenizer-json tokenize http index
# Installs what is missing (fuzz/install-tools.sh: Debian afl++, NuGet tool SharpFuzz.CommandLine), publishes
# fuzz/EmbeddingGemma.Fuzz into fuzz/out/bin, instruments the project's assemblies (EmbeddingGemma, .Search,
# .Server), then runs afl-fuzz on fuzz/corpus/<target> for the given time and prints, per target, executions,
# execs/s, corpus size, crashes and hangs. Findings go to fuzz/out/findings/<target>/ (crashes/, hangs/); a crash
# becomes a regression file in fuzz/crashes/<target>/ that the test suite replays (CorpusReplayTests).
# Exit code: 0 when no target crashed or hung, 1 otherwise, 2 on bad usage.
set -euo pipefail
cd "$(dirname "$0")"
targets_all=(gguf safetensors tokenizer-json tokenize http index)
[ $# -eq 2 ] || { echo "usage: fuzz/run.sh <target|all> <seconds>   (targets: ${targets_all[*]})" >&2; exit 2; }
if [ "$1" = all ]; then targets=("${targets_all[@]}"); else targets=("$1"); fi
secs=$2
for t in "${targets[@]}"; do [[ " ${targets_all[*]} " == *" $t "* ]] || { echo "unknown target '$t'" >&2; exit 2; }; done
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# Targets that write their input to a scratch file (index: a SQLite file per execution) run ~7x faster on tmpfs.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi

./install-tools.sh afl sharpfuzz

# Publish + instrument once per source change (instrumenting an instrumented assembly fails).
bin=out/bin
stamp=$bin/.instrumented
if [ ! -f "$stamp" ] || [ -n "$(find ../src EmbeddingGemma.Fuzz -name '*.cs' -newer "$stamp" -print -quit)" ]; then
  rm -rf "$bin"
  echo "publishing and instrumenting the fuzz harness..." >&2
  dotnet publish EmbeddingGemma.Fuzz -c Release -o "$bin" -nologo -v q >&2
  for a in EmbeddingGemma EmbeddingGemma.Search EmbeddingGemma.Server; do
    .tools/sharpfuzz "$bin/$a.dll" >&2
  done
  touch "$stamp"
fi

# AFL++ runs the .NET host (not an AFL-compiled binary): SharpFuzz speaks the fork-server protocol in-process.
export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1 \
       AFL_AUTORESUME=0 AFL_QUIET=1
status=0
summary=()
for t in "${targets[@]}"; do
  out=out/findings/$t
  rm -rf "$out"; mkdir -p "$out"
  echo "== $t: afl-fuzz for ${secs}s on corpus/$t ($(ls corpus/$t | wc -l) seeds)" >&2
  # -t: per-input timeout (ms; beyond it the input is a hang), -m none: .NET reserves much virtual memory.
  # Every target's inputs are small files: 1 s is ~100x the slowest seed.
  # The harness appends every contract-breaking exception here (AFL++ itself only records the input).
  export FUZZ_EXCEPTION_LOG="$PWD/$out/exceptions.log"
  timeout -k 10 $((secs + 120)) afl-fuzz -i "corpus/$t" -o "$out" -t 1000 -m none -V "$secs" \
    -- dotnet "$bin/EmbeddingGemma.Fuzz.dll" "$t" > "$out/afl.log" 2>&1 || true
  stats=$out/default/fuzzer_stats
  if [ ! -f "$stats" ]; then
    echo "$t: afl-fuzz did not start; last lines of $out/afl.log:" >&2; tail -20 "$out/afl.log" >&2; status=1
    summary+=("$(printf '%-15s %s' "$t" "did not start")"); continue
  fi
  get() { awk -F' *: *' -v k="$1" '$1 ~ "^"k"$" {print $2}' "$stats"; }
  execs=$(get execs_done); eps=$(get execs_per_sec); run=$(get run_time)
  crashes=$(get saved_crashes); [ -n "$crashes" ] || crashes=$(get unique_crashes)
  hangs=$(get saved_hangs); [ -n "$hangs" ] || hangs=$(get unique_hangs)
  paths=$(get corpus_count); [ -n "$paths" ] || paths=$(get paths_total)
  summary+=("$(printf '%-15s %10s execs in %5ss (%7s/s)  corpus %5s  crashes %s  hangs %s' "$t" "$execs" "$run" "$eps" "$paths" "$crashes" "$hangs")")
  if [ "${crashes:-0}" != 0 ] || [ "${hangs:-0}" != 0 ]; then
    status=1
    ls "$out"/default/crashes/id* "$out"/default/hangs/id* 2>/dev/null | sed 's/^/  finding: fuzz\//' >&2 || true
    [ -f "$out/exceptions.log" ] && { echo "  exceptions (fuzz/$out/exceptions.log), first:" >&2; head -12 "$out/exceptions.log" | sed 's/^/    /' >&2; }
  fi
done
echo "fuzz summary ($(date -u +%Y-%m-%dT%H:%MZ), ${secs}s per target):"
printf '%s\n' "${summary[@]}"
exit $status
