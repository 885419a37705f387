// Which real programs (web servers, wrk, cgi-fcgi) this machine has; under CI=true a missing one is a failure.
import { accessSync, constants } from 'node:fs';

const SEARCH = ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin', '/sbin', '/bin'];

/** Absolute path of `name`, or undefined. */
export function findTool(name: string): string | undefined {
  for (const dir of SEARCH) {
    try {
      accessSync(`${dir}/${name}`, constants.X_OK);
      return `${dir}/${name}`;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/**
 * True when `name` is installed. When it is not: under CI=true this throws (a test must never skip silently
 * in CI), elsewhere it prints a visible notice with the install command and returns false.
 */
export function hasTool(name: string, debianPackage: string): boolean {
  if (findTool(name) !== undefined) return true;
  const message = `${name} is not installed (install: apt-get install -y ${debianPackage}, or run scripts/install-servers.sh)`;
  if (process.env.CI === 'true') throw new Error(`CI=true and ${message}`);
  console.warn(`NOTICE: skipping tests that need ${message}`);
  return false;
}

/**
 * True when the tests run as root (needed to chown sockets to the web server's user and to run servers that
 * drop privileges). When not: under CI=true this throws (CI runs as root), elsewhere it prints a notice.
 */
export function isRoot(why: string): boolean {
  if (process.getuid?.() === 0) return true;
  const message = `not running as root, which ${why}`;
  if (process.env.CI === 'true') throw new Error(`CI=true and ${message}`);
  console.warn(`NOTICE: skipping tests: ${message}`);
  return false;
}
