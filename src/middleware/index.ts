// tsgi/middleware: applications that wrap applications (the validator, the error catcher, and compose).
export { validate } from './validate.js';
export { catchErrors, type CatchErrorsOptions } from './catch-errors.js';
export { compose } from './compose.js';
export { mount, type MountMap } from './mount.js';
export { accessLog, type AccessLogOptions } from './access-log.js';
export { limitBody, ContentTooLargeError } from './limit-body.js';
export { timeout, RequestTimeoutError } from './timeout.js';
export { methodOverride, ORIGINAL_METHOD_KEY, type MethodOverrideOptions } from './method-override.js';
export { head } from './head.js';
export { conditionalGet, isFresh } from './conditional-get.js';
export { applyQuirks, iisPathInfo, lighttpdPathInfo, type Quirk } from './quirks.js';
