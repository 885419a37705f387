// A script root for the --scripts and --cgi-bin end-to-end tests: files the web server's user can read.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A temp directory holding ROOT (served) and a file outside it; `remove()` deletes both. */
export interface ScriptTree {
  readonly base: string;
  readonly root: string;
  /** Writes `name` under ROOT with `mode` (default 0644), making its directories. */
  write(name: string, text: string, mode?: number): string;
  remove(): void;
}

export function makeScriptTree(prefix: string): ScriptTree {
  const base = mkdtempSync(join(tmpdir(), `tsgi-${prefix}-`));
  chmodSync(base, 0o755);
  const root = join(base, 'www');
  mkdirSync(root, { mode: 0o755 });
  // Bare imports (hono, express) resolve from the script's directory: lend the checkout's packages.
  symlinkSync(fileURLToPath(new URL('../../node_modules', import.meta.url)), join(base, 'node_modules'));
  return {
    base,
    root,
    write(name, text, mode = 0o644) {
      const file = join(root, name);
      mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
      writeFileSync(file, text);
      chmodSync(file, mode);
      return file;
    },
    remove: () => rmSync(base, { recursive: true, force: true }),
  };
}

/** A tsgi script answering `WORD SCRIPT_NAME PATH_INFO` (plus what ./lib/suffix.ts exports, when `lib`). */
export function helloScript(word: string, lib = false): string {
  return `${lib ? "import { suffix } from './lib/suffix.ts';\n" : 'const suffix = "";\n'}
export default function app(environ: { SCRIPT_NAME: string; PATH_INFO: string }, startResponse: (s: string, h: [string, string][]) => void) {
  startResponse('200 OK', [['Content-Type', 'text/plain']]);
  return [Buffer.from('${word} ' + environ.SCRIPT_NAME + ' ' + environ.PATH_INFO + suffix)];
}
`;
}
