// Script directories: every .ts/.js file under a root is an application, loaded on first request and reloaded
// on change (issue 12). `fromScripts` is what `tsgi fastcgi --scripts` and `tsgi serve --scripts` mount.
export {
  fromScripts,
  DEFAULT_MAX_SCRIPTS,
  DEFAULT_REVALIDATE_MS,
  DEFAULT_SCRIPT_EXTENSIONS,
  type ScriptsOptions,
} from './from-scripts.js';
