#!/usr/bin/env bash
# Install the agent CLIs bosun's live tests drive, pinned, into a private prefix.
#
#   scripts/install-agents.sh            # into ${BOSUN_AGENTS_DIR:-.cache/agents}
#
# Pinned versions are the ones checked against bosun's scripted model server; override with
# CLAUDE_CODE_VERSION / CODEX_VERSION / GEMINI_CLI_VERSION to try another. Idempotent: a package already installed
# at its pinned version is not reinstalled. Prints the bin paths at the end.
set -euo pipefail

CLAUDE_CODE_VERSION="${CLAUDE_CODE_VERSION:-2.1.332}"
CODEX_VERSION="${CODEX_VERSION:-0.171.0}"
GEMINI_CLI_VERSION="${GEMINI_CLI_VERSION:-0.61.0}"
DIR="${BOSUN_AGENTS_DIR:-.cache/agents}"

mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"

installed_version() { # $1 = package name
    local pj="$DIR/node_modules/$1/package.json"
    [ -f "$pj" ] && node -p "require(process.argv[1]).version" "$pj" 2>/dev/null || true
}

want=()
for spec in "@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION" "@openai/codex@$CODEX_VERSION" \
    "@google/gemini-cli@$GEMINI_CLI_VERSION"; do
    name="${spec%@*}"
    version="${spec##*@}"
    if [ "$(installed_version "$name")" = "$version" ]; then
        echo "already installed: $spec" >&2
    else
        want+=("$spec")
    fi
done

if [ "${#want[@]}" -gt 0 ]; then
    echo "installing into $DIR: ${want[*]}" >&2
    npm install --prefix "$DIR" --no-audit --no-fund --loglevel=error "${want[@]}" >&2
fi

for bin in claude codex gemini; do
    path="$DIR/node_modules/.bin/$bin"
    if [ ! -x "$path" ]; then
        echo "missing after install: $path" >&2
        exit 1
    fi
    echo "$bin=$path"
done
