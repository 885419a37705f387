// tsgi/middleware: applications that wrap applications (the validator, the error catcher, and compose).
export { validate } from './validate.js';
export { catchErrors, type CatchErrorsOptions } from './catch-errors.js';
export { compose } from './compose.js';
