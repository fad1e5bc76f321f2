#!/usr/bin/env bash
# Installs what fuzzing and the load script need, if missing: AFL++ (Debian `afl++`), wrk (Debian `wrk`) and the
# SharpFuzz instrumenter (NuGet dotnet tool `SharpFuzz.CommandLine`, into fuzz/.tools). Idempotent; run by
# fuzz/run.sh and bench/load-fault.sh.
# Usage: fuzz/install-tools.sh [afl] [wrk] [sharpfuzz]   (default: all three)
set -euo pipefail
cd "$(dirname "$0")"
want=("$@"); [ ${#want[@]} -eq 0 ] && want=(afl wrk sharpfuzz)
sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
updated=0
apt_install() {
  if [ $updated -eq 0 ]; then sudo_ apt-get update -qq >/dev/null; updated=1; fi
  DEBIAN_FRONTEND=noninteractive sudo_ apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
for w in "${want[@]}"; do
  case "$w" in
    afl) command -v afl-fuzz >/dev/null || { echo "installing AFL++ (apt-get install afl++)" >&2; apt_install afl++; } ;;
    wrk) command -v wrk >/dev/null || { echo "installing wrk (apt-get install wrk)" >&2; apt_install wrk; } ;;
    sharpfuzz)
      [ -x .tools/sharpfuzz ] || { echo "installing SharpFuzz.CommandLine 2.3.0 into fuzz/.tools" >&2;
        dotnet tool install SharpFuzz.CommandLine --version 2.3.0 --tool-path .tools >/dev/null; } ;;
    *) echo "install-tools.sh: unknown tool '$w'" >&2; exit 2 ;;
  esac
done
