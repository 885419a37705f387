#!/usr/bin/env bash
# The whole test suite from a fresh Debian machine: real web servers (apt), npm dependencies, Node 24, npm test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-servers.sh
npm ci --no-audit --no-fund
scripts/install-node24.sh
npm test
