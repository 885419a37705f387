#!/usr/bin/env node
// The `tsgi` command: a shim over the built CLI (run `npm run build` first when working from a clone).
import { main } from '../dist/cli/main.js';

const code = await main(process.argv.slice(2));
// Commands that serve forever never resolve; the others set the exit code without cutting stdout short.
process.exitCode = code;
