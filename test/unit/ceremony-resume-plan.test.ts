// The resume plan (src-main/ceremony/engine/resume-plan.ts) over the kms-import script's steps: what stays
// done, what is redone because it lived in memory, what is recovered (an intent without a result).
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { planResume, type PlanEntry, type PlannedState } from '../../src-main/ceremony/engine/resume-plan.js';
import { loadScriptFile, type ScriptStep } from '../../src-main/ceremony/script/index.js';

let steps: ScriptStep[];
let rewrap: ScriptStep[];
beforeAll(async () => {
  steps = (await loadScriptFile(resolve('ceremonies/kms-import.yaml'))).script.steps;
  rewrap = (await loadScriptFile(resolve('ceremonies/kms-rewrap.yaml'))).script.steps;
});

const e = (step: string, kind: string): PlanEntry => ({ step, kind, data: {} });
/** The entries of a kms-import that finished every step before `stopAt` (each with its result). */
function upTo(stopAt: string, extra: PlanEntry[] = []): PlanEntry[] {
  const out: PlanEntry[] = [e('start', 'ceremony-start')];
  for (const s of steps) {
    if (s.id === stopAt) break;
    if (s.action === 'select-token') out.push(e(s.id, 'intent'), e(s.id, 'chain-attach'), e(s.id, 'pre-chain'));
    else if (s.approvals === 'quorum') out.push(e(s.id, 'quorum-open'), e(s.id, 'approval'), e(s.id, 'approval'), e(s.id, 'intent'));
    else out.push(e(s.id, 'intent'));
    out.push(e(s.id, 'result'));
  }
  return [...out, ...extra];
}
const states = (entries: PlanEntry[], on: ScriptStep[] = steps) => Object.fromEntries(planResume(on, entries).steps.map((p) => [p.id, p.state])) as Record<string, PlannedState>;

describe('planResume', () => {
  it('after the generate-key intent: the step is recovered; the air gap, the parameters and the login are redone', () => {
    const plan = planResume(steps, upTo('generate', [e('generate', 'intent')]));
    expect(Object.fromEntries(plan.steps.map((p) => [p.id, p.state]))).toEqual({
      participants: 'done',
      airgap: 'redo',
      token: 'done',
      parameters: 'redo',
      login: 'redo',
      generate: 'recover',
      wrap: 'pending',
      'export-key': 'pending',
      'sign-off': 'pending',
      head: 'pending',
      export: 'pending',
      logout: 'pending',
    });
    expect(plan.currentStepId).toBe('airgap');
    expect(plan.attempt).toBe(1);
    expect(plan.steps.find((p) => p.id === 'login')?.why).toMatch(/fresh quorum/);
  });

  it('after the wrap result: the key is found again and wrapped again, because the wrapped bytes were never exported', () => {
    expect(states(upTo('export-key'))).toMatchObject({ parameters: 'redo', login: 'redo', generate: 'redo', wrap: 'redo', 'export-key': 'pending' });
  });

  it('after the export result: nothing of the key is redone; the login is, for the chain head and the bundle', () => {
    expect(states(upTo('sign-off'))).toMatchObject({ parameters: 'done', login: 'redo', generate: 'done', wrap: 'done', 'export-key': 'done', 'sign-off': 'pending' });
  });

  it('with only logout left, no login is asked for', () => {
    const s = states(upTo('logout'));
    expect(s).toMatchObject({ login: 'done', generate: 'done', export: 'done', logout: 'pending' });
  });

  it('an intent followed by a failure is an ordinary retry, not a recovery', () => {
    expect(states(upTo('generate', [e('generate', 'intent'), e('generate', 'failure')])).generate).toBe('pending');
  });

  it('a crash during the quorum (approvals, no intent) redoes the login with a new quorum', () => {
    const plan = planResume(steps, upTo('login', [e('login', 'quorum-open'), e('login', 'approval')]));
    expect(plan.steps.find((p) => p.id === 'login')?.state).toBe('pending');
    expect(plan.currentStepId).toBe('airgap');
  });

  it('a second resume counts the first, and a step redone then is judged again from what it recorded', () => {
    const entries = upTo('export-key', [e('resume', 'resumed'), e('airgap', 'result'), e('parameters', 'result'), e('login', 'quorum-open'), e('login', 'approval')]);
    const plan = planResume(steps, entries);
    expect(plan.attempt).toBe(2);
    expect(Object.fromEntries(plan.steps.map((p) => [p.id, p.state]))).toMatchObject({ airgap: 'redo', parameters: 'redo', login: 'redo', generate: 'redo', wrap: 'redo' });
  });

  it('kms-rewrap: the found key is found again while wrap or export is left', () => {
    const entries: PlanEntry[] = [e('start', 'ceremony-start'), e('token', 'pre-chain')];
    for (const s of rewrap) {
      if (s.action === 'wrap-key') break;
      entries.push(e(s.id, 'result'));
    }
    const plan = planResume(rewrap, entries);
    const find = rewrap.find((s) => s.action === 'find-key')!;
    expect(plan.steps.find((p) => p.id === find.id)?.state).toBe('redo');
    expect(plan.steps.find((p) => p.action === 'quorum-login')?.state).toBe('redo');
  });

  it('backup-key and restore-key: what lived in memory (found key, wrapped bytes, checked backup) is made again', async () => {
    for (const [file, stopAt, redo] of [
      ['backup-key', 'write-backup', ['find-backup-key', 'backup-wrap', 'quorum-login']],
      ['restore-key', 'restore-unwrap', ['check-backup', 'quorum-login']],
    ] as const) {
      const script = (await loadScriptFile(resolve(`ceremonies/${file}.yaml`))).script.steps;
      const entries: PlanEntry[] = [e('start', 'ceremony-start'), e('token', 'pre-chain')];
      for (const s of script) {
        if (s.action === stopAt) break;
        entries.push(e(s.id, 'result'));
      }
      const plan = planResume(script, entries);
      for (const action of redo) expect(plan.steps.find((p) => p.action === action)?.state, `${file}: ${action}`).toBe('redo');
      expect(plan.currentStepId).toBe(script.find((s) => s.action === 'check-airgap')?.id);
    }
  });
});
