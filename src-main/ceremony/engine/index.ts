// The ceremony engine: one import for the service, the state machine and the action input schemas.
export { CeremonyService, type CeremonyServiceOptions, type InterruptedCeremony, type ScriptSummary, type StartRequest } from './service.js';
export { CeremonyRun, ENGINE_KINDS, TERMINAL_KINDS, inputProblem, newCeremonyId } from './run.js';
export { PreGenesisLog, readPreGenesisLog, PRE_GENESIS_FILE, type PreGenesisRecord } from './pre-genesis-log.js';
export { planResume, RESUMED_KIND, type PlanEntry, type PlannedStep, type ResumePlan } from './resume-plan.js';
export type * from './types.js';
export {
  presentShareInput,
  recordParticipantsInput,
  witnessSignOffInput,
  exportBundleInput,
  selectTokenInput,
  distributeSharesInput,
  initTokenInput,
  noInput,
  quorumLogin,
  loginWithShares,
  enrolmentFromEntries,
} from '../actions/index.js';
