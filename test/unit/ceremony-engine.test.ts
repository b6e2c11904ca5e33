// The ceremony state machine without a token: refusals with exact messages (and their records), the air-gap
// check, the confirmation word, abort, and the pre-genesis log's chain.
import { appendFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TokenLayer } from '../../hsm/token.js';
import type { SlotInfo, TokenInfo } from '../../hsm/types.js';
import { CeremonyRun } from '../../src-main/ceremony/engine/run.js';
import { CeremonyService } from '../../src-main/ceremony/engine/service.js';
import { readPreGenesisLog, preGenesisHash } from '../../src-main/ceremony/engine/pre-genesis-log.js';
import type { EngineDeps, PriorAttempt } from '../../src-main/ceremony/engine/types.js';
import { enrolCustodians, generateCeremonySecret, isWiped, secretCheck, splitSecret } from '../../src-main/ceremony/quorum/index.js';
import { loadScriptFile, type LoadedScript } from '../../src-main/ceremony/script/index.js';
import { verifyApprovals } from '../../src-main/ceremony/verify-approvals.js';

const token = (over: Partial<TokenInfo> = {}): TokenInfo => ({
  label: '',
  manufacturer: 'Fake',
  model: 'Fake v1',
  serial: '123',
  initialized: false,
  loginRequired: true,
  userPinInitialized: false,
  userPinLocked: false,
  userPinCountLow: false,
  userPinFinalTry: false,
  soPinLocked: false,
  writeProtected: false,
  hasRng: true,
  protectedAuthenticationPath: false,
  minPinLength: 4,
  maxPinLength: 255,
  flags: 0,
  ...over,
});

function fakeLayer(slotToken: TokenInfo, calls: string[]): TokenLayer {
  const slot: SlotInfo = { moduleId: 'fake', slotId: '1', description: 'fake slot', manufacturer: 'Fake', tokenPresent: true, removable: false, hardware: false, token: slotToken };
  const layer = {
    listSlots: async () => [slot],
    logout: async (s: string) => void calls.push(`logout ${s}`),
    closeSession: async (s: string) => void calls.push(`close ${s}`),
  };
  return new Proxy(layer, {
    get: (target, name) => (name in target ? target[name as keyof typeof target] : async () => Promise.reject(new Error(`fake layer: ${String(name)} not expected`))),
  }) as unknown as TokenLayer;
}

let dir: string;
let loaded: LoadedScript;
let calls: string[];
let runs: CeremonyRun[] = [];
const online = () => ({ offline: false, interfaces: [{ name: 'eth0', addresses: ['10.0.0.2/24'] }], checkedAt: '2026-01-31T12:00:00.000Z' });
const offline = () => ({ offline: true, interfaces: [], checkedAt: '2026-01-31T12:00:00.000Z' });

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kc-engine-'));
  loaded = await loadScriptFile(resolve('ceremonies/init-token.yaml'));
  calls = [];
});
afterEach(async () => {
  for (const r of runs) await r.dispose();
  runs = [];
  await rm(dir, { recursive: true, force: true });
});

async function start(over: Partial<EngineDeps> = {}, slotToken = token(), rehearsal = false, prior: PriorAttempt[] = []) {
  const deps: EngineDeps = { layer: fakeLayer(slotToken, calls), dataDir: dir, airGap: offline, appVersion: 'test', priorAttempts: async () => prior, ...over };
  const run = await CeremonyRun.start(deps, { loaded, scriptName: 'init-token', parameters: { tokenLabel: 'T1', custodians: ['alice', 'bob', 'carol'], threshold: 2 }, rehearsal, ceremonyId: 'init-token-unit' });
  runs.push(run);
  return run;
}

const log = () => readPreGenesisLog(join(dir, 'ceremonies', 'init-token-unit', 'pre-genesis.jsonl'));
const PARTICIPANTS = { administrator: 'admin', witnesses: ['wendy'] };

async function expectRefused(run: CeremonyRun, stepId: string, input: unknown, code: string, message: string) {
  await expect(run.perform(stepId, input)).rejects.toMatchObject({ code, message });
  const last = (await log()).records.at(-1);
  expect(last?.kind).toBe('refused');
  expect((last?.data.error as { message: string }).message).toBe(message);
}

/** Hand out the three (plain, fast) shares into a fresh folder and prove them: the steps before init. */
async function toInit(run: CeremonyRun): Promise<void> {
  const usb = join(dir, `usb-${Math.random().toString(16).slice(2)}`);
  await mkdir(usb);
  for (const custodian of ['alice', 'bob', 'carol']) await run.perform('shares', { custodian, insecurePlain: true, destinationDir: usb });
  await run.perform('prove', {});
}

describe('refusals, recorded', () => {
  it.each([
    ['a later step', 'token', { moduleId: 'fake', slotId: '1' }, 'ceremony-out-of-order', "step 'token' cannot run yet: the current step is 'participants'"],
    ['an unknown step', 'nope', {}, 'ceremony-unknown-step', "step 'nope' is not a step of init-token (its steps: participants, airgap, token, secret, shares, prove, init, pins, audit-key, genesis, enrol, sign-off, head, export)"],
    ['an unknown input field', 'participants', { ...PARTICIPANTS, extra: 1 }, 'ceremony-input', "step 'participants': input has unknown field 'extra'"],
    ['a missing input field', 'participants', { witnesses: ['wendy'] }, 'ceremony-input', "step 'participants': input.administrator is missing"],
    ['input that is not an object', 'participants', 'admin', 'ceremony-input', "step 'participants': input must be a JSON object"],
    ['too few witnesses', 'participants', { administrator: 'admin', witnesses: [] }, 'ceremony-witnesses', 'input.witnesses: 0 named; this ceremony needs at least 1'],
  ])('refuses %s', async (_name, stepId, input, code, message) => {
    const run = await start();
    if (code === 'ceremony-witnesses') {
      await expect(run.perform(stepId, input)).rejects.toMatchObject({ code, message });
      expect((await log()).records.at(-1)).toMatchObject({ kind: 'failure', step: 'participants' });
      expect(run.view().steps[0]?.status).toBe('failed');
      return;
    }
    await expectRefused(run, stepId, input, code, message);
    expect(run.view().currentStepId).toBe('participants');
  });

  it('refuses a repeated step', async () => {
    const run = await start();
    await run.perform('participants', PARTICIPANTS);
    await expectRefused(run, 'participants', PARTICIPANTS, 'ceremony-step-repeated', "step 'participants' is already done; a step runs once");
  });

  it.each([
    [{}, "step 'init': type INITIALIZE to confirm"],
    [{ confirm: 'initialize' }, "step 'init': the confirmation word does not match; type INITIALIZE exactly"],
    [{ confirm: 'ERASE' }, "step 'init': the confirmation word does not match; type INITIALIZE exactly"],
  ])('refuses init-token without the exact confirmation word: %j', async (input, message) => {
    const run = await start();
    await run.perform('participants', PARTICIPANTS);
    await run.perform('airgap', {});
    await run.perform('token', { moduleId: 'fake', slotId: '1' });
    await run.perform('secret', {});
    await toInit(run);
    await expectRefused(run, 'init', input, 'ceremony-confirm', message);
    expect(run.view().steps.find((s) => s.id === 'init')?.confirm).toEqual({ prompt: 'Initializing erases every key on the token and cannot be undone. Type INITIALIZE to erase and initialize T1.', word: 'INITIALIZE' });
  });
});

describe('steps', () => {
  it('records the script hash in the first record, and every record chains to the previous', async () => {
    const run = await start();
    await run.perform('participants', PARTICIPANTS);
    const { records } = await log();
    expect(records[0]).toMatchObject({ n: 0, kind: 'ceremony-start', step: 'start', data: { script: { name: 'init-token', kind: 'init-token', version: 2, sha256: loaded.sha256 } } });
    records.forEach((r, i) => {
      expect(r.hash).toBe(preGenesisHash(r));
      if (i > 0) expect(r.prev).toBe(records[i - 1]?.hash);
    });
    expect(run.view().steps.map((s) => s.status).slice(0, 3)).toEqual(['done', 'current', 'pending']);
    expect(run.view().steps[0]?.instructions).toContain('Ceremony init-token-unit.');
  });

  it('refuses an online laptop, and records a rehearsal that went on regardless', async () => {
    const run = await start({ airGap: online });
    await run.perform('participants', PARTICIPANTS);
    await expect(run.perform('airgap', {})).rejects.toMatchObject({ code: 'airgap-online', message: 'the laptop is not offline: eth0 (10.0.0.2/24)' });
    expect((await log()).records.at(-1)).toMatchObject({ kind: 'failure', data: { action: 'check-airgap', error: { code: 'airgap-online' } } });
    expect(run.view().lastError?.code).toBe('airgap-online');
    await run.dispose();
    await rm(join(dir, 'ceremonies'), { recursive: true });
    const rehearsal = await start({ airGap: online }, token(), true);
    await rehearsal.perform('participants', PARTICIPANTS);
    await rehearsal.perform('airgap', {});
    expect((await log()).records.at(-1)).toMatchObject({ kind: 'result', data: { offline: false, rehearsal: true, note: 'REHEARSAL: the laptop is online (eth0 (10.0.0.2/24)); the air gap was not enforced' } });
  });

  it('brackets a token step with intent and result', async () => {
    const run = await start();
    await run.perform('participants', PARTICIPANTS);
    await run.perform('airgap', {});
    await run.perform('token', { moduleId: 'fake', slotId: '1' });
    expect((await log()).records.slice(-2).map((r) => r.kind)).toEqual(['intent', 'result']);
  });

  it('refuses a token that is already initialized, unless an interrupted attempt initialized it', async () => {
    const used = token({ initialized: true, label: 'T0', serial: '777' });
    const run = await start({}, used);
    await run.perform('participants', PARTICIPANTS);
    await run.perform('airgap', {});
    await expect(run.perform('token', { moduleId: 'fake', slotId: '1' })).rejects.toThrow("token 'T0' (serial 777) in slot 1 is already initialized; init-token needs a blank token");
    expect((await log()).records.slice(-2).map((r) => r.kind)).toEqual(['intent', 'failure']);
    await run.dispose();
    await rm(join(dir, 'ceremonies'), { recursive: true });
    // An attempt of an earlier version that enrolled nobody: nothing rebuilds the SO PIN, said before any share is handed out.
    const old: PriorAttempt = { ceremonyId: 'init-token-old', kind: 'init-token', status: 'interrupted', token: { serial: '777', label: 'T0' }, sharesIssued: ['alice'] };
    const lost = await start({}, used, false, [old]);
    await lost.perform('participants', PARTICIPANTS);
    await lost.perform('airgap', {});
    await expect(lost.perform('token', { moduleId: 'fake', slotId: '1' })).rejects.toMatchObject({ code: 'token-reset-needed', message: "token 'T0' was initialized by the stopped attempt init-token-old, which recorded no enrolment (an earlier version of this app), so nothing can rebuild its SO PIN" });
    await lost.dispose();
    await rm(join(dir, 'ceremonies'), { recursive: true });
    // An aborted attempt whose init intent was recorded (no result: killed or failed inside C_InitToken), enrolled, 2 of 3 shares out.
    const secret = generateCeremonySecret();
    const enrolment = enrolCustodians('init-token-old', 2, await splitSecret(secret, ['alice', 'bob', 'carol'], 2));
    const aborted: PriorAttempt = { ceremonyId: 'init-token-old', kind: 'init-token', status: 'aborted', initAttempted: 'T0', sharesIssued: ['alice', 'bob'], enrolment: { enrolment, secretCheck: secretCheck(secret, 'init-token-old') } };
    const again = await start({}, used, false, [aborted]);
    await again.perform('participants', PARTICIPANTS);
    await again.perform('airgap', {});
    await again.perform('token', { moduleId: 'fake', slotId: '1' });
    expect((await log()).records.at(-1)?.data.reinitialize).toEqual({ reason: 'interrupted-attempt', interruptedCeremonyId: 'init-token-old', voidShares: ['alice', 'bob'] });
  });
});

describe('abort', () => {
  it('records the reason, wipes the secret, closes the session, and refuses every later step', async () => {
    const run = await start();
    await run.perform('participants', PARTICIPANTS);
    await run.perform('airgap', {});
    await run.perform('token', { moduleId: 'fake', slotId: '1' });
    await run.perform('secret', {});
    const secret = run.secrets.secret as Uint8Array;
    const shares = (run.secrets.shares ?? []).map((s) => s.share);
    expect(isWiped(secret)).toBe(false);
    run.token.session = 's1';
    run.token.loggedIn = 'user';
    await run.abort('the room lost a witness');
    expect(run.status).toBe('aborted');
    expect(isWiped(secret)).toBe(true);
    expect(shares.every(isWiped)).toBe(true);
    expect(calls).toEqual(['logout s1', 'close s1']);
    expect((await log()).records.at(-1)).toMatchObject({ kind: 'abort', step: 'shares', data: { reason: 'the room lost a witness', step: 'shares' } });
    await expectRefused(run, 'init', { confirm: 'INITIALIZE' }, 'ceremony-not-running', 'ceremony init-token-unit is aborted; no step can run');
    await expect(run.abort('again')).rejects.toThrow('ceremony init-token-unit is aborted; it cannot be aborted');
    expect(run.view()).toMatchObject({ status: 'aborted', currentStepId: null });
  });
});

describe('recovery', () => {
  it('records a ceremony that crashed before genesis as interrupted, in its pre-genesis log, once', async () => {
    const run = await start();
    await run.perform('participants', PARTICIPANTS);
    // While the run holds its ceremony's folder, a second service sees it running, not interrupted.
    const meanwhile = new CeremonyService({ layer: fakeLayer(token(), calls), dataDir: dir, scriptsDir: resolve('ceremonies'), airGap: offline, appVersion: 'test' });
    expect(await meanwhile.interrupted()).toEqual([]);
    expect((await meanwhile.priorAttempts())[0]).toMatchObject({ ceremonyId: 'init-token-unit', status: 'running' });
    // A second app instance over the same data directory: the first one "crashed" (its process, and with it
    // its hold on the folder, is gone; dispose() lets go without recording anything).
    await run.dispose();
    const service = new CeremonyService({ layer: fakeLayer(token(), calls), dataDir: dir, scriptsDir: resolve('ceremonies'), airGap: offline, appVersion: 'test' });
    expect(await service.interrupted()).toEqual([{ ceremonyId: 'init-token-unit', kind: 'init-token', recordedIn: 'pre-genesis-log', sharesVoid: [], newlyRecorded: true }]);
    expect((await log()).records.at(-1)).toMatchObject({ kind: 'interrupted', step: 'recovery', actor: 'keyceremony' });
    expect(await service.interrupted()).toEqual([{ ceremonyId: 'init-token-unit', kind: 'init-token', recordedIn: 'pre-genesis-log', sharesVoid: [], newlyRecorded: false }]);
    expect((await service.priorAttempts())[0]).toMatchObject({ ceremonyId: 'init-token-unit', status: 'interrupted' });
    await service.close();
  });
});

describe('pre-genesis log', () => {
  it('ignores (and reports) a torn last line', async () => {
    const run = await start();
    await run.perform('participants', PARTICIPANTS);
    await appendFile(join(dir, 'ceremonies', 'init-token-unit', 'pre-genesis.jsonl'), '{"n":2,"time":"20');
    const read = await log();
    expect(read.records).toHaveLength(2);
    expect(read.torn).toBe('line 3 is incomplete or damaged (a crash while writing it); it was ignored');
  });
});

describe('verifyApprovals', () => {
  it('skips entries without quorum steps', () => {
    expect(verifyApprovals([])).toEqual({ status: 'skipped', detail: 'no quorum steps and no custodian approvals in these entries', steps: [] });
  });
});
