// Resume planning (pure): from what a ceremony recorded before it was interrupted, decide for every step of
// its script whether it stays done, is redone, is recovered (an intent with no result: the action asks the
// token what happened) or is still to come. What lived only in memory is lost with the process (the
// login, the token session, the loaded import parameters, the wrapped bytes), so the steps that produced
// it are redone whenever a later step still needs it; what lives in the token or on disk is not redone.
import { ACTIONS, isActionName, type ScriptStep } from '../script/index.js';
import type { JsonObject } from '../../transcript/json-value.js';

/** One recorded entry of the interrupted ceremony, from its pre-genesis log or its chain. */
export interface PlanEntry {
  step: string;
  kind: string;
  data: JsonObject;
}

export type PlannedState = 'done' | 'redo' | 'recover' | 'pending';

export interface PlannedStep {
  id: string;
  action: string;
  state: PlannedState;
  /** Why, in one sentence: recorded in the `resumed` entry and shown to the room. */
  why: string;
}

export interface ResumePlan {
  steps: PlannedStep[];
  /** The first step that is not done: where the resumed run starts. Null when nothing is left. */
  currentStepId: string | null;
  /** 1 for the first resume of a ceremony, 2 for the second, ... */
  attempt: number;
}

/** The kind of the entry a resume writes; its data is the plan. */
export const RESUMED_KIND = 'resumed';

/** Actions that cannot act without the user login the quorum step opens (lost with the process). */
const NEEDS_LOGIN: readonly string[] = ['generate-key', 'wrap-key', 'write-chain-head', 'export-bundle'];
const LOGIN_FREE_TOKEN_ACTIONS: readonly string[] = ['select-token', 'quorum-login', 'logout'];

/** A done step of this action is redone while a later step of one of these actions is not done: it made in-memory state they need. */
export const REDO_WHILE_PENDING: Readonly<Record<string, readonly string[]>> = {
  'load-import-parameters': ['generate-key', 'wrap-key', 'export-wrapped-key'],
  'generate-key': ['wrap-key', 'export-wrapped-key'],
  // kms-rewrap: the key handle it found lived in this process.
  'find-key': ['wrap-key', 'export-wrapped-key'],
  'wrap-key': ['export-wrapped-key'],
  // backup-key / restore-key: the key handle, the proved mechanism, the wrapped bytes and the backup read
  // lived in this process.
  'find-backup-key': ['backup-wrap', 'write-backup'],
  'backup-wrap': ['write-backup'],
  'check-backup': ['restore-unwrap'],
};

const WHY_REDO: Readonly<Record<string, string>> = {
  'check-airgap': 'the air gap is a condition of the room now, not when the ceremony was interrupted',
  'quorum-login': 'the token login did not survive the interruption; a fresh quorum must approve the current transcript head',
  'load-import-parameters': 'the import parameters were held in memory only; present the same KMS key\'s parameters again',
  'generate-key': 'the key stays in the token: it is found again by its label and recorded CKA_ID and checked, not generated again',
  'find-key': 'the key handle lived in the interrupted process; the key is found again and its check value compared',
  'wrap-key': 'the wrapped key material was held in memory only and was not exported; the token wraps it again',
  'find-backup-key': 'the key handle and the proved wrap mechanism lived in the interrupted process; the key is found and checked again',
  'backup-wrap': 'the wrapped key was held in memory only and was not written; a fresh quorum lets the backup key wrap it again',
  'check-backup': 'the backup read and checked lived in the interrupted process; it is read and checked again',
};

export function needsLogin(action: string): boolean {
  if (NEEDS_LOGIN.includes(action)) return true;
  // Actions added later (kms-rewrap): anything else that talks to the token is assumed to need the login.
  return isActionName(action) && ACTIONS[action].touchesToken && !LOGIN_FREE_TOKEN_ACTIONS.includes(action);
}

/** Decide, step by step, how a resumed run continues. `entries` are the ceremony's own, in recorded order. */
export function planResume(steps: readonly Pick<ScriptStep, 'id' | 'action'>[], entries: readonly PlanEntry[]): ResumePlan {
  const attempt = entries.filter((e) => e.kind === RESUMED_KIND).length + 1;
  const attached = entries.some((e) => e.kind === 'pre-chain');
  const planned: PlannedStep[] = steps.map((s) => {
    const mine = entries.filter((e) => e.step === s.id);
    if (mine.some((e) => e.kind === 'result')) return { id: s.id, action: s.action, state: 'done', why: 'its result was recorded' };
    if (s.action === 'select-token' && attached) return { id: s.id, action: s.action, state: 'done', why: 'the ceremony had joined the token\'s chain; the resume opens a new session on the same token' };
    const lastIntent = mine.map((e) => e.kind).lastIndexOf('intent');
    const settled = lastIntent >= 0 && mine.slice(lastIntent + 1).some((e) => e.kind === 'failure');
    if (lastIntent >= 0 && !settled) return { id: s.id, action: s.action, state: 'recover', why: 'its intent was recorded but no result: the step runs again and first asks the token what happened' };
    return { id: s.id, action: s.action, state: 'pending', why: 'not reached before the interruption' };
  });
  // Backwards, so a step redone because of a later one makes the steps it depends on redo too.
  for (let i = planned.length - 1; i >= 0; i -= 1) {
    const p = planned[i] as PlannedStep;
    if (p.state !== 'done') continue;
    const later = planned.slice(i + 1);
    const open = (actions: readonly string[]) => later.some((q) => q.state !== 'done' && actions.includes(q.action));
    let redo = false;
    if (p.action === 'check-airgap') redo = later.some((q) => q.state !== 'done');
    else if (p.action === 'quorum-login') redo = later.some((q) => q.state !== 'done' && needsLogin(q.action));
    else if (REDO_WHILE_PENDING[p.action]) redo = open(REDO_WHILE_PENDING[p.action] as readonly string[]);
    if (redo) planned[i] = { ...p, state: 'redo', why: WHY_REDO[p.action] ?? 'a later step needs what it made' };
  }
  const current = planned.find((p) => p.state !== 'done');
  return { steps: planned, currentStepId: current?.id ?? null, attempt };
}
