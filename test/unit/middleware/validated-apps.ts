// A CGI fixture: the conformance app named by TSGI_TEST_APP, under validate() (for validate-conformance.test.ts).
import { validate } from '../../../src/middleware/validate.js';
import type { Application } from '../../../src/shared/types.js';
import * as apps from '../../conformance/apps.js';
import type { AppName } from '../../conformance/cases.js';

const validatedApp: Application = (environ, startResponse) =>
  validate(apps[environ.TSGI_TEST_APP as AppName] as Application)(environ, startResponse);

export default validatedApp;
