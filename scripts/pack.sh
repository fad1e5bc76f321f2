#!/usr/bin/env bash
# Packs every package (each project under src/, see README "Packages") with its .snupkg into a local NuGet feed,
# artifacts/packages (ignored; emptied first). test.sh runs it after the build, so CI packs once; the packaging tests
# (tests/EmbeddingGemma.Packaging.Tests) install and inspect what it wrote.
# Usage: scripts/pack.sh [--no-build] [extra dotnet pack arguments]
#   REPOSITORY_URL=https://... scripts/pack.sh   overrides the repository address written into the packages
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
feed="$PWD/artifacts/packages"
rm -rf "$feed"
mkdir -p "$feed"
args=(EmbeddingGemma.slnx -c Release -nologo -v q "-p:PackageOutputPath=$feed")
if [ -n "${REPOSITORY_URL:-}" ]; then args+=("-p:RepositoryUrl=$REPOSITORY_URL"); fi
dotnet pack "${args[@]}" "$@"
echo "pack.sh: $(find "$feed" -name '*.nupkg' | wc -l) packages, $(find "$feed" -name '*.snupkg' | wc -l) symbol packages in $feed"
