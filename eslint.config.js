// One linter, a short hand-picked rule set (as Rack's RuboCop DisabledByDefault): correctness, not taste.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// tsgi/import-direction (issue 9): folders under src/ import downward only, so each layer reads without the ones
// above it. shared is the bottom; middleware and adapters are applications over shared; the four front ends
// (cgi, fastcgi, http, fetch) serve applications and never import each other; cgi-host (CGI programs as an
// application) sits with the adapters; testing over shared; deploy, scripts-dir and cli are on top. The key is a
// folder, the value the folders it may import besides itself; a new folder must be placed here (a test checks).
export const LAYERS = {
  shared: [],
  middleware: ['shared'],
  adapters: ['shared'],
  'cgi-host': ['shared'],
  cgi: ['shared', 'middleware', 'cgi-host'],
  fastcgi: ['shared', 'middleware'],
  http: ['shared', 'middleware'],
  fetch: ['shared', 'middleware'],
  testing: ['shared', 'middleware'],
  deploy: ['shared', 'middleware', 'adapters', 'cgi-host', 'cgi', 'fastcgi', 'http', 'fetch', 'testing'],
  'scripts-dir': [
    'shared',
    'middleware',
    'adapters',
    'cgi-host',
    'cgi',
    'fastcgi',
    'http',
    'fetch',
    'deploy',
  ],
  cli: [
    'shared',
    'middleware',
    'adapters',
    'cgi-host',
    'cgi',
    'fastcgi',
    'http',
    'fetch',
    'testing',
    'deploy',
    'scripts-dir',
  ],
};
export const IMPORT_DIRECTION_RULE = 'tsgi/import-direction';

/** The lint config that refuses, in `src/<folder>/**` (or src/index.ts), an import of a folder not allowed. */
function importDirection(files, folder, allowed, prefix = '^(\\.\\./)+') {
  const refused = Object.keys(LAYERS).filter((other) => other !== folder && !allowed.includes(other));
  if (refused.length === 0) return [];
  const message =
    `${IMPORT_DIRECTION_RULE}: ${folder === '' ? 'src/index.ts' : `src/${folder}`} may import only ` +
    `${allowed.map((name) => `src/${name}`).join(', ') || 'no other folder'} (folders import downward; see LAYERS in eslint.config.js)`;
  // One or more "../" then a refused folder: a sibling folder seen from src/<folder> or from a subfolder of it.
  const upward = `${prefix}(${refused.join('|')})(/|$)`;
  return [
    {
      files,
      rules: {
        'no-restricted-imports': ['error', { patterns: [{ regex: upward, message }] }],
        // no-restricted-imports does not see import(): the same rule for dynamic imports (esquery regexes
        // cannot hold a slash, hence \x2F).
        'no-restricted-syntax': [
          'error',
          {
            selector: `ImportExpression[source.value=/${upward.replaceAll('/', '\\x2F')}/]`,
            message,
          },
        ],
      },
    },
  ];
}

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.cache/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        URL: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        Request: 'readonly',
        Response: 'readonly',
        Headers: 'readonly',
        ReadableStream: 'readonly',
        fetch: 'readonly',
        queueMicrotask: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // The Node bridge may need `any` where Node's own types are loose; each use carries a reason comment.
    files: ['src/adapters/_node/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  ...Object.entries(LAYERS).flatMap(([folder, allowed]) =>
    importDirection([`src/${folder}/**`], folder, allowed),
  ),
  ...importDirection(['src/index.ts'], '', ['shared', 'middleware'], '^\\./'),
);
