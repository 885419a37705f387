// CGI programs as tsgi applications: one program (`fromCgi`), or a directory of them (`fromCgiBin`, fcgiwrap's job).
import { resolve } from 'node:path';
import type { Application } from '../shared/types.js';
import { plainPage } from './plain-page.js';
import { runProgram, type CgiHostOptions } from './run-program.js';
import { ScriptRoot } from './script-file.js';

/**
 * A tsgi application that runs the CGI program at `path` once per request (RFC 3875): SCRIPT_NAME and
 * PATH_INFO are the environ's own, the body streams both ways, a program that prints no valid head is a 502,
 * one past `timeoutMs` a 504.
 *
 * @example
 * mount({ '/legacy': fromCgi('/usr/lib/cgi-bin/report.sh') })
 */
export function fromCgi(path: string, options: CgiHostOptions = {}): Application {
  const file = resolve(path);
  return (environ, startResponse) =>
    runProgram(
      environ,
      startResponse,
      { file, scriptName: environ.SCRIPT_NAME, pathInfo: environ.PATH_INFO },
      options,
    );
}

// Anyone's execute bit: the program runs as this process's user, which the web server's recipe chose.
const isExecutable = (_file: string, stat: { mode: number }): boolean => (stat.mode & 0o111) !== 0;

/**
 * A tsgi application that runs the executable a request names under `dir`: SCRIPT_FILENAME from the web
 * server (nginx `$document_root$fastcgi_script_name`), else the first path segment that is a file. Only
 * executable regular files under `dir` after resolving symlinks, no dotfiles, none that group or others can
 * write; anything else is 404 (or 403 when refused), with the reason in the log and never in the response.
 */
export function fromCgiBin(dir: string, options: CgiHostOptions = {}): Application {
  const root = new ScriptRoot(dir, isExecutable);
  return (environ, startResponse) => {
    const found = root.locate(environ);
    if (!found.found) {
      const line = `tsgi cgi-bin: ${found.status} for ${environ.SCRIPT_NAME}${environ.PATH_INFO}: ${found.reason}`;
      if (options.log) options.log(line);
      else environ['tsgi.errors'].write(`${line}\n`);
      return plainPage(startResponse, found.status);
    }
    return runProgram(environ, startResponse, found, options);
  };
}
