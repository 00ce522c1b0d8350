#!/usr/bin/env bash
# Record a CLI's real screens into tests/fixtures/<cli>-<version>/ for the detector tests.
#
#   scripts/capture-fixtures.sh claude           # or: codex, gemini
#   scripts/capture-fixtures.sh --force claude   # replace an existing version's screens
#
# Installs the pinned CLIs (scripts/install-agents.sh; set CLAUDE_CODE_VERSION / CODEX_VERSION /
# GEMINI_CLI_VERSION to record another version), asks the CLI for its version, (with --force) removes that
# directory's old <status>-<n>.{txt,ansi} files and runs the CLI's live tests one at a time with
# BOSUN_FIXTURES_DIR pointing there: each test saves the screens it waited for, named after
# the status it waited for. Then `cargo test --test it detect_fixtures::` tells whether the
# provider profile still reads them right.
set -euo pipefail
cd "$(dirname "$0")/.."

force=false
if [ "${1:-}" = "--force" ]; then
    force=true
    shift
fi
cli="${1:?usage: scripts/capture-fixtures.sh [--force] claude|codex|gemini}"
case "$cli" in
    claude | codex | gemini) ;;
    *) echo "unknown CLI: $cli (claude, codex or gemini)" >&2; exit 2 ;;
esac

bin="$(scripts/install-agents.sh | sed -n "s/^$cli=//p")"
version="$("$bin" --version | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n1)"
dir="tests/fixtures/$cli-$version"
mkdir -p "$dir"
if ls "$dir" | grep -qE '^(idle|busy|waiting|error|done)-[0-9]+\.(txt|ansi)$' && ! $force; then
    echo "$dir already has screens; --force replaces them" >&2
    exit 1
fi
find "$dir" -maxdepth 1 -regextype posix-extended \
    -regex '.*/(idle|busy|waiting|error|done)-[0-9]+\.(txt|ansi)' -delete
echo "recording $cli $version screens into $dir" >&2
BOSUN_FIXTURES_DIR="$PWD/$dir" cargo test --test live "${cli}_live::" -- --test-threads=1
ls "$dir"
