#!/usr/bin/env node
// The `tsgi` command: a shim over the built CLI (run `npm run build` first when working from a clone).
const args = process.argv.slice(2);
// `tsgi cgi` runs once per HTTP request: it loads one pre-bundled file instead of the CLI and its shared chunks
// (each extra ES module costs start-up time; see bench/cgi.bench.mjs).
const code =
  args[0] === 'cgi'
    ? await (await import('../dist/cli/cgi-entry.js')).runCgiCommand(args.slice(1))
    : await (await import('../dist/cli/main.js')).main(args);
// Commands that serve forever never resolve; the others set the exit code without cutting stdout short.
process.exitCode = code;
