// Node built-ins for the CGI cold path, fetched without an ESM import: every CGI request starts a process.
import { createRequire } from 'node:module';

type Builtins = {
  'node:fs': typeof import('node:fs');
  'node:os': typeof import('node:os');
  'node:child_process': typeof import('node:child_process');
  'node:console': typeof import('node:console');
  // enableCompileCache: Node 22.1+, absent from Node 20's types and runtime.
  'node:module': typeof import('node:module') & { enableCompileCache?: (directory?: string) => unknown };
};

// An ESM `import` of a built-in builds its namespace object first: measured at start-up, node:fs costs ~2.5 ms
// and node:util ~9 ms on Node 24, against ~0.05 ms through process.getBuiltinModule (Node 20.16+, 22.3+).
// A CGI request pays start-up every time, so the cold path takes built-ins from here; older Node 20 releases
// get them through require, which is just as cheap.
const load: (id: string) => unknown =
  typeof process.getBuiltinModule === 'function'
    ? (id) => process.getBuiltinModule(id)
    : createRequire(import.meta.url);

/** The built-in module `id`, already loaded by Node itself, without the cost of an ESM namespace. */
export function nodeBuiltin<ID extends keyof Builtins>(id: ID): Builtins[ID] {
  return load(id) as Builtins[ID];
}
