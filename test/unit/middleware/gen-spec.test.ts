// scripts/gen-spec.mjs: SPEC.md's Rules section follows the validator's /// SPEC: lines, and --check catches drift.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const ROOT = new URL('../../../', import.meta.url).pathname;
const SCRIPT = join(ROOT, 'scripts/gen-spec.mjs');
const ENVIRON_CHECKS = 'src/middleware/validate/environ.ts';

/** Runs gen-spec in `cwd`; returns exit status and output. */
function genSpec(cwd: string, ...args: string[]): { status: number | null; output: string } {
  const result = spawnSync(process.execPath, [SCRIPT, ...args], { cwd, encoding: 'utf8' });
  return { status: result.status, output: result.stdout + result.stderr };
}

describe('gen-spec', () => {
  let work: string;

  // A copy of the inputs: SPEC.md, the validator sources and the prettier config the section is formatted with.
  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), 'tsgi-gen-spec-'));
    for (const path of [
      'SPEC.md',
      '.prettierrc.json',
      'src/middleware/validate.ts',
      'src/middleware/validate',
    ]) {
      cpSync(join(ROOT, path), join(work, path), { recursive: true });
    }
  });
  afterEach(() => rmSync(work, { recursive: true, force: true }));

  function edit(path: string, change: (text: string) => string): void {
    writeFileSync(join(work, path), change(readFileSync(join(work, path), 'utf8')));
  }

  it('finds the committed SPEC.md current', () => {
    const result = genSpec(work, '--check');
    expect(result.output).toMatch(/^gen-spec: SPEC\.md is current \(\d+ rules\)\n$/);
    expect(result.status).toBe(0);
  });

  it('fails --check when a /// SPEC: line changed, and regenerating brings the new text into SPEC.md', () => {
    edit(ENVIRON_CHECKS, (text) =>
      text.replace(
        '/// SPEC: [environ.server-name] `SERVER_NAME` MUST NOT be empty.',
        '/// SPEC: [environ.server-name] `SERVER_NAME` MUST NOT be empty, ever.',
      ),
    );
    const stale = genSpec(work, '--check');
    expect(stale.status).toBe(1);
    expect(stale.output).toContain(
      'SPEC.md is out of date with the /// SPEC: lines of the validator: run `npm run spec`',
    );
    expect(genSpec(work).status).toBe(0);
    expect(readFileSync(join(work, 'SPEC.md'), 'utf8')).toContain('`SERVER_NAME` MUST NOT be empty, ever.');
    expect(genSpec(work, '--check').status).toBe(0);
  });

  it('refuses a rule no check cites, and a check citing no rule', () => {
    edit(ENVIRON_CHECKS, (text) =>
      text.replace("fail('environ.server-name',", "fail('environ.server-host',"),
    );
    const result = genSpec(work, '--check');
    expect(result.status).toBe(1);
    expect(result.output).toContain(
      `${ENVIRON_CHECKS}: [environ.server-name] is never cited by a fail/warn/report call`,
    );
    expect(result.output).toContain(
      `${ENVIRON_CHECKS}: a check cites [environ.server-host] but no /// SPEC: [environ.server-host] line defines it`,
    );
  });

  it('refuses prose that links to a rule that does not exist', () => {
    edit('SPEC.md', (text) => text.replace('(#status.reason)', '(#status.phrase)'));
    const result = genSpec(work, '--check');
    expect(result.status).toBe(1);
    expect(result.output).toContain('SPEC.md links to rules that do not exist: status.phrase');
  });
});
