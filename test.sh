#!/usr/bin/env bash
# The test command: fetches test assets, builds, packs the NuGet packages (scripts/pack.sh), runs every test project,
# prints one summary line.
# Usage: ./test.sh [extra dotnet test args, e.g. --filter FullyQualifiedName~Tokenizer]
set -uo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
scripts/fetch-assets.sh || { echo "test.sh: fetching test assets failed" >&2; exit 1; }
dotnet build EmbeddingGemma.slnx -c Release -nologo -v q || { echo "test.sh: build failed" >&2; exit 1; }
# the TorchSharp oracle's loader fix (also run by that project's build; idempotent): training.md, GLIBCXX_3.4.32
python3 scripts/fix-libtorchsharp.py tests/EmbeddingGemma.Training.Oracle.Tests/bin || { echo "test.sh: fixing libLibTorchSharp.so failed" >&2; exit 1; }
# the NuGet packages into the local feed artifacts/packages (once; tests/EmbeddingGemma.Packaging.Tests installs and inspects them)
scripts/pack.sh --no-build || { echo "test.sh: packing failed" >&2; exit 1; }
log=$(mktemp)
dotnet test EmbeddingGemma.slnx -c Release --no-build -nologo "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
# dotnet test prints one "Passed!/Failed!  - Failed: F, Passed: P, Skipped: S, Total: T" line per test project.
read -r passed failed skipped < <(grep -E '(Passed|Failed)! +- Failed: ' "$log" | sed -E 's/.*Failed: *([0-9]+), Passed: *([0-9]+), Skipped: *([0-9]+).*/\2 \1 \3/' | awk '{p+=$1; f+=$2; s+=$3} END {print p+0, f+0, s+0}')
rm -f "$log"
echo "total: ${passed} passed, ${failed} failed, ${skipped} skipped"
if [ "$rc" -eq 0 ] && [ "$passed" -eq 0 ]; then echo "test.sh: no test ran" >&2; exit 1; fi
exit "$rc"
