// The head of a built file: compiles the embedded bundle through vm.Script with a V8 code cache kept per user.
//
// Why not `module.enableCompileCache()` (Node 22+): it caches modules compiled *after* the call, and a built
// file is one script that is already compiled when its first line runs; Node's cache is also written right
// after compilation, so the functions a request compiles lazily are not in it (measured on Node 24 with an
// Express bundle: 28 KB of cache, no gain). `vm.Script` with `cachedData`, written after the first request by
// `createCachedData()`, holds those functions too, works on Node 20, and cut an Express cold start from ~75 ms
// to ~55 ms on Node 24 (bench/coldstart.bench.mjs). Bundling the payload inside a comment keeps Node's own
// parse of this file cheap (a comment is skipped, a string literal of 800 KB is not).

/** What the loader needs to know about the payload that follows it. */
export interface LoaderOptions {
  /** Content hash of the payload: names the cache file (V8 only checks the source length, not its text). */
  readonly buildId: string;
  /** One ASCII line for the comment at the top (what was built, by which tsgi). */
  readonly banner: string;
  /** Interpreter line; `/usr/bin/env node` unless the build named a node binary. */
  readonly shebang: string;
  /** A cache directory fixed at build time (TSGI_CACHE_DIR still wins); undefined: per-user dir in tmpdir. */
  readonly cacheDir?: string;
  /** False builds a file that never reads or writes a cache (`tsgi build --no-code-cache`). */
  readonly codeCache: boolean;
  /** The payload is pure ASCII, so the file can be read as latin1 (a plain copy, no UTF-8 decoding). */
  readonly ascii: boolean;
  /** The control character that stands for the `/` of every `*\/` inside the payload, if it had any. */
  readonly escape?: string;
}

const OFFSET_DIGITS = 10;

// The loader as JavaScript source. It runs under CJS or ESM (an ancestor package.json with "type":"module"),
// so it takes builtins from process.getBuiltinModule (Node 20.16+) and falls back to require.
function loaderSource(options: LoaderOptions, offset: string): string {
  const cacheDir = options.cacheDir === undefined ? 'undefined' : JSON.stringify(options.cacheDir);
  const unescape =
    options.escape === undefined ? '' : `s=s.replaceAll(${JSON.stringify(`*${options.escape}/`)},'*/');`;
  const cache = options.codeCache
    ? `let d=process.env.TSGI_CACHE_DIR;if(d===undefined)d=${cacheDir};` +
      // os.tmpdir() without loading node:os (one more module to compile on every start).
      `if(d===undefined)d=P.join((process.env.TMPDIR||'/tmp').replace(/(.)\\/+$/,'$1'),'tsgi-v8-'+(process.getuid?process.getuid():'user'));` +
      `if(d!==''&&d!=='off'){try{let t;try{t=F.lstatSync(d)}catch{F.mkdirSync(d,{recursive:true,mode:0o700});t=F.lstatSync(d)}` +
      // One lstat on the usual path (the directory exists). A cache directory another user can write would let
      // them run code as this user: only our own, closed to others.
      `if(t.isDirectory()&&(!process.getuid||t.uid===process.getuid())&&(t.mode&0o022)===0){` +
      `c=P.join(d,${JSON.stringify(options.buildId)}+'-'+process.version+'-'+process.arch+'.v8');` +
      `try{a=F.readFileSync(c)}catch{}n=a?'hit '+c:'miss '+c}else n='unsafe directory '+d+' (not owned by this user, or writable by others): not used'}catch(e){n='unusable directory '+d+': '+e.code}}else n='off (TSGI_CACHE_DIR)';`
    : `n='off (built with --no-code-cache)';`;
  return [
    `#!${options.shebang}`,
    `// ${options.banner}`,
    `// Self-contained: the bundle after this loader is compiled with a V8 code cache (see tsgi's src/deploy/loader.ts).`,
    `'use strict';(()=>{const B=process.getBuiltinModule||require,F=B('node:fs'),P=B('node:path'),V=B('node:vm');`,
    `const f=typeof __filename==='string'?__filename:F.realpathSync(process.argv[1]);`,
    `const r=F.readFileSync(f);let s=r.toString(${options.ascii ? "'latin1'" : "'utf8'"},${offset},r.length-3);${unescape}`,
    `let a,c,n;${cache}`,
    `const x=new V.Script(s,{filename:f,cachedData:a,importModuleDynamically:V.constants&&V.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER});`,
    `if(c&&(!a||x.cachedDataRejected)){if(a)n='rejected (other V8 flags?), rewritten: '+c;process.once('exit',()=>{try{const t=c+'.'+process.pid;F.writeFileSync(t,x.createCachedData(),{mode:0o600});F.renameSync(t,c)}catch{}})}`,
    `const m={exports:{}};x.runInThisContext().call(m.exports,m.exports,typeof require==='function'?require:B('node:module').createRequire(f),m,f,P.dirname(f),(/^[\\w/.-]+$/.test(f)?'file://'+f:B('node:url').pathToFileURL(f).href),n)})();`,
    '/*',
  ].join('\n');
}

/**
 * The whole built file: loader, then the payload (a function expression taking
 * `exports, require, module, __filename, __dirname, __tsgi_url, __tsgi_cache`) inside a comment. The loader
 * finds the payload at a fixed character offset (the loader is ASCII, so characters are bytes).
 */
export function assembleBuiltFile(options: LoaderOptions, payload: string): string {
  const placeholder = ' '.repeat(OFFSET_DIGITS);
  const head = loaderSource(options, placeholder);
  // Padded with spaces, not zeros: a leading 0 would make an octal literal (a SyntaxError in strict mode).
  const offset = String(head.length + 1).padStart(OFFSET_DIGITS, ' ');
  // A byte offset, read before decoding: the loader is ASCII, so its characters are its bytes.
  return `${loaderSource(options, offset)}\n${payload}\n*/\n`;
}

/**
 * Prepares a payload for embedding in a block comment: every `*\/` becomes `*` + a control character + `/`,
 * using the first control character that the payload does not contain (undefined when nothing needed it).
 */
export function escapePayload(payload: string): { text: string; escape?: string } {
  if (!payload.includes('*/')) return { text: payload };
  for (let code = 1; code < 32; code++) {
    const char = String.fromCharCode(code);
    if (code === 9 || code === 10 || code === 13 || payload.includes(char)) continue;
    return { text: payload.replaceAll('*/', `*${char}/`), escape: char };
  }
  throw new Error('tsgi build: the bundle uses every control character; cannot embed it');
}
