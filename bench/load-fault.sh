#!/usr/bin/env bash
# Load and fault test of `embeddinggemma serve` on 127.0.0.1 (bounded: a warm-up and 8 phases of SECONDS each, at most 20,000
# requests per phase, 60 s per request; about 8 x SECONDS + 60 s in all).
# Usage: bench/load-fault.sh [SECONDS per phase, default 10] [PORT, default 18080]
# Makes a tiny random model (make-model --shape tiny), starts `serve --drain-timeout 30` on it, runs the C# client
# bench/LoadFault (wrk cannot send open-loop constant-rate traffic, per-request invalid bodies, slow bodies or
# mid-body disconnects), which prints throughput, p50/p99, counts per status, RSS over time (/proc/PID/status) and
# the requests drained vs dropped after the SIGTERM it sends; then this script reports how `serve` exited.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
port=${2:-18080}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
work=$(mktemp -d /tmp/embeddinggemma-loadfault.XXXXXX)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill -9 "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

echo "building (Release): src/EmbeddingGemma.Cli, bench/LoadFault" >&2
dotnet build src/EmbeddingGemma.Cli -c Release -nologo -v q >&2
dotnet build bench/LoadFault -c Release -nologo -v q >&2
cli=(dotnet src/EmbeddingGemma.Cli/bin/Release/net10.0/EmbeddingGemma.Cli.dll)
"${cli[@]}" make-model --shape tiny --out "$work/model" >&2
echo "serve --model <tiny> --urls http://127.0.0.1:$port --drain-timeout 30" >&2
"${cli[@]}" serve --model "$work/model" --urls "http://127.0.0.1:$port" --drain-timeout 30 > "$work/serve.log" 2>&1 &
server_pid=$!
start=$(date +%s.%N)
set +e
dotnet bench/LoadFault/bin/Release/net10.0/LoadFault.dll --url "http://127.0.0.1:$port" --pid "$server_pid" --seconds "$secs"
client_rc=$?
# the client sent SIGTERM; the server drains (at most --drain-timeout 30) and exits
sig_wait_start=$(date +%s.%N)
timeout 45 tail --pid="$server_pid" -f /dev/null
wait "$server_pid"; server_rc=$?
set -e
server_pid=
end=$(date +%s.%N)
echo "serve exited with code $server_rc, $(awk -v a="$sig_wait_start" -v b="$end" 'BEGIN{printf "%.1f", b-a}') s after the client finished (total run $(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.0f", b-a}') s)"
echo "serve log (last lines):"; tail -5 "$work/serve.log" | sed 's/^/  /'
[ "$client_rc" -eq 0 ] && [ "$server_rc" -eq 0 ]
