// The FastCGI conformance kit: wire-level cases any responder can be checked with (`tsgi conform ADDRESS`).
export {
  CONFORM_CASES,
  formatScorecard,
  runConformance,
  type CaseResult,
  type ConformOptions,
  type Scorecard,
} from './run.js';
export type { CaseGroup, ConformCase } from './case.js';
export { HOSTILE_INPUTS, type HostileInput } from './cases-hostile.js';
