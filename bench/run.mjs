// `npm run bench [name…] [--flag…]`: runs bench/<name>.bench.mjs (all of them when no name is given), one after
// another, each in its own process so that one benchmark's warm-up or leftovers cannot colour the next. Flags
// go to each benchmark run (`npm run bench -- frameworks --rounds 5`).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const dir = new URL('.', import.meta.url);
const all = readdirSync(dir)
  .filter((file) => file.endsWith('.bench.mjs'))
  .map((file) => file.slice(0, -'.bench.mjs'.length))
  .sort();
const args = process.argv.slice(2);
// A flag's value (`--rounds 5`) is not a benchmark name.
const firstFlag = args.findIndex((arg) => arg.startsWith('-'));
const wanted = firstFlag === -1 ? args : args.slice(0, firstFlag);
const flags = firstFlag === -1 ? [] : args.slice(firstFlag);
const unknown = wanted.filter((name) => !all.includes(name));
if (unknown.length > 0) {
  console.error(`bench: no bench/${unknown[0]}.bench.mjs (have: ${all.join(', ')})`);
  process.exit(2);
}
let failed = 0;
for (const name of wanted.length > 0 ? wanted : all) {
  console.log(`\n## ${name}\n`);
  const result = spawnSync(process.execPath, [new URL(`${name}.bench.mjs`, dir).pathname, ...flags], {
    stdio: 'inherit',
  });
  if (result.status !== 0) failed += 1;
}
process.exit(failed === 0 ? 0 : 1);
