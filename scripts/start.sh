#!/usr/bin/env bash
# The main job: install dependencies, build, and serve examples/hello.ts on the development server.
# Under CI=true it serves, checks one request, and stops (so that .ci/run can run this very command).
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund
npm run build
PORT=${PORT:-8000}
if [ "${CI:-}" != true ]; then
  exec node bin/tsgi.js serve examples/hello.ts --port "$PORT"
fi
node bin/tsgi.js serve examples/hello.ts --port "$PORT" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  body=$(node -e 'fetch(process.argv[1]).then(async (r) => { if (!r.ok) process.exit(1); process.stdout.write(await r.text()); }, () => process.exit(1))' "http://127.0.0.1:$PORT/") && break
  sleep 0.2
done
echo "start.sh: GET / -> ${body:-<no answer>}"
[ -n "${body:-}" ]
