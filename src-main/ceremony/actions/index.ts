// One implementation per action name. The engine refuses to start a script naming an action that is not here.
import type { ActionName } from '../script/index.js';
import type { ActionImpl } from '../engine/types.js';
import { announce, checkAirgap, exportBundle, logoutAction, quorumLoginAction, recordParticipants, witnessSignOff, writeChainHeadAction } from './general.js';
import { distributeShares, enrollCustodians, generateAuditKey, generateSecret, initTokenAction, proveSubsetsAction, setPins, writeGenesis } from './init-token.js';
import { exportWrappedKey, generateKey, loadImportParameters, selectTokenAction, wrapKey } from './kms-import.js';
import { findKey } from './kms-rewrap.js';
import { changePins, checkCurrentPins } from './enrol-token.js';
import { destroyKey, identifyKey } from './destroy-key.js';
import { auditObjects } from './audit-token.js';
import { listDomainTokens, rotatePins } from './rotate-custodians.js';
import { joinDomain } from './join-domain.js';
import { backupWrap, findBackupKey, writeBackup } from './backup-key.js';
import { checkBackup, restoreUnwrap } from './restore-key.js';

export const ACTION_IMPLEMENTATIONS: Partial<Record<ActionName, ActionImpl<never>>> = {
  announce,
  'record-participants': recordParticipants,
  'check-airgap': checkAirgap,
  'select-token': selectTokenAction,
  'generate-secret': generateSecret,
  'init-token': initTokenAction,
  'set-pins': setPins,
  'generate-audit-key': generateAuditKey,
  'write-genesis': writeGenesis,
  'enroll-custodians': enrollCustodians,
  'distribute-shares': distributeShares,
  'prove-subsets': proveSubsetsAction,
  'witness-sign-off': witnessSignOff,
  'write-chain-head': writeChainHeadAction,
  'export-bundle': exportBundle,
  'quorum-login': quorumLoginAction,
  logout: logoutAction,
  'load-import-parameters': loadImportParameters,
  'generate-key': generateKey,
  'wrap-key': wrapKey,
  'export-wrapped-key': exportWrappedKey,
  'find-key': findKey,
  'check-current-pins': checkCurrentPins,
  'change-pins': changePins,
  'identify-key': identifyKey,
  'destroy-key': destroyKey,
  'audit-objects': auditObjects,
  'rotate-pins': rotatePins,
  'list-domain-tokens': listDomainTokens,
  'join-domain': joinDomain,
  'find-backup-key': findBackupKey,
  'backup-wrap': backupWrap,
  'write-backup': writeBackup,
  'check-backup': checkBackup,
  'restore-unwrap': restoreUnwrap,
} as Partial<Record<ActionName, ActionImpl<never>>>;

export function actionImplementation(name: ActionName): ActionImpl<unknown> | undefined {
  return ACTION_IMPLEMENTATIONS[name] as ActionImpl<unknown> | undefined;
}

export { presentShareInput, openPresentedShare, type PresentShareInput } from './presented-share.js';
export { recordParticipantsInput, witnessSignOffInput, exportBundleInput, noInput } from './general.js';
export { selectTokenInput, distributeSharesInput, initTokenInput } from './init-token.js';
export { loadImportParametersInput, exportWrappedKeyInput } from './kms-import.js';
export { enrolmentFromEntries, loginWithShares, quorumLogin, ENROLMENT_KIND, type RecordedEnrolment } from './quorum-login.js';
