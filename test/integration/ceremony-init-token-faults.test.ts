// Fault injection over the real SoftHSM driver: init-token is run once per token call it makes, with that
// call failing (before it reaches the token, and for calls that change the token also after it acted, the
// answer lost), for each of CKR_DEVICE_ERROR, CKR_DEVICE_REMOVED, CKR_SESSION_HANDLE_INVALID,
// CKR_GENERAL_ERROR and CKR_PIN_INCORRECT. After each fault: the token is still blank or opens with the
// share files the attempt wrote, any chain it started verifies, and the room gets out: the failed step is
// retried (the app's Retry) and the ceremony completes, or, when the run cannot go on, it is aborted (or
// was let go) and init-token is started again, re-initializing the token from the stopped attempt's shares.
// The steps x faults matrix is printed.
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import { CeremonyService } from '../../src-main/ceremony/engine/service.js';
import type { CeremonyView } from '../../src-main/ceremony/engine/types.js';
import { combineShares, derivePins, openShareFile, wipe } from '../../src-main/ceremony/quorum/index.js';
import { computeEntryHash, type Entry } from '../../src-main/transcript/entry.js';
import { GENESIS_PREV } from '../../src-main/transcript/canonical.js';
import { verifyBundles } from '../../src-main/transcript/verify.js';
import { createSoftHsmEnv, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';
import { runInitToken } from '../helpers/init-token-engine.js';
import { ARN, kmsLikeKey } from '../fixtures/kms/harness.js';
import { enrolmentFromEntries, quorumLogin } from '../../src-main/ceremony/actions/quorum-login.js';
import { FAULT_CODES, faultyLayer, MUTATING, type Fault, type FaultyLayer } from '../helpers/faulty-token-layer.js';

const SCRYPT = { N: 2 ** 10, r: 8, p: 1 };
const offline = () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() });
const PASS = { alice: 'alice passphrase 1', bob: 'bob passphrase 22', carol: 'carol passphrase 333' } as const;
type Custodian = keyof typeof PASS;
const CUSTODIANS = Object.keys(PASS) as Custodian[];

let env: SoftHsmEnv;
let real: Pkcs11TokenLayer;
let faulty: FaultyLayer;
let work: string;
let service: CeremonyService;

beforeAll(async () => {
  env = createSoftHsmEnv();
  real = new Pkcs11TokenLayer();
  await real.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
  faulty = faultyLayer(real);
  work = await mkdtemp(join(tmpdir(), 'kc-init-faults-'));
  service = new CeremonyService({ layer: faulty.layer, dataDir: join(work, 'data'), scriptsDir: resolve('ceremonies'), airGap: offline, appVersion: '0.1.0-test', scrypt: SCRYPT });
});
afterAll(async () => {
  await service?.close();
  await real?.close();
  env?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

async function blankSlot(): Promise<string> {
  const blank = (await real.listSlots(SOFTHSM_MODULE)).find((s) => s.token && !s.token.initialized);
  if (!blank) throw new Error('no blank SoftHSM slot');
  return blank.slotId;
}

interface Attempt {
  ceremonyId: string;
  label: string;
  usb: string;
  /** Steps that failed, with the code the room saw. */
  failures: { step: string; code: string }[];
  view?: CeremonyView;
  /** The run was let go by the service (its token session ended) or aborted after a second failure. */
  stopped: boolean;
}

/**
 * Run init-token step by step, as the room would: a step that fails is retried once (Retry); if the run was
 * let go, or the retry fails too, the attempt stops (aborted if still running). `previous` are share files
 * of an earlier stopped attempt for the init step (the re-init path).
 */
async function runAttempt(label: string, token: Record<string, unknown>, previous: { shareFile: string; passphrase: string }[] = []): Promise<Attempt> {
  const usb = await mkdtemp(join(work, `${label}-usb-`));
  let view = await service.start({ script: 'init-token', parameters: { tokenLabel: label, custodians: CUSTODIANS, threshold: 2 } });
  const a: Attempt = { ceremonyId: view.ceremonyId, label, usb, failures: [], stopped: false };
  const inputs = (step: string): Record<string, unknown>[] => {
    switch (step) {
      case 'participants': return [{ administrator: 'admin', witnesses: ['wendy'] }];
      case 'token': return [token];
      case 'shares': return (view.pendingCustodians ?? []).map((c) => ({ custodian: c, passphrase: PASS[c as Custodian], destinationDir: usb }));
      case 'init': return [{ confirm: 'INITIALIZE', ...(previous.length > 0 ? { previousShares: previous } : {}) }];
      case 'sign-off': return [{ witnesses: [{ name: 'wendy' }] }];
      case 'head': return (['alice', 'bob'] as const).filter((c) => !view.quorum?.approved.includes(c)).map((c) => ({ shareFile: join(usb, `${c}.share`), passphrase: PASS[c] }));
      case 'export': return [{ destinationDir: usb }];
      default: return [{}];
    }
  };
  while (view.status === 'running' && view.currentStepId !== null) {
    const step = view.currentStepId;
    const input = inputs(step)[0] as Record<string, unknown>;
    try {
      view = (await service.perform(a.ceremonyId, step, input)).view;
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'error';
      a.failures.push({ step, code });
      if (a.failures.length > 1 || code === 'ceremony-token-lost') {
        a.stopped = true;
        if (code !== 'ceremony-token-lost') view = await service.abort(a.ceremonyId, `fault test: step ${step} failed twice (${code})`);
        break;
      }
      // A quorum step reopens after a failure: the approvals are given again by the loop.
      try {
        view = service.view(a.ceremonyId);
      } catch {
        a.stopped = true;
        break;
      }
    }
  }
  a.view = view;
  return a;
}

type State = 'blank' | 'opens (SO PIN)' | 'opens (SO + user PIN)';

/** The token after an attempt: blank, or M of the share files the attempt wrote rebuild PINs that log in. */
async function stateOf(a: Attempt): Promise<State> {
  const slot = (await real.listSlots(SOFTHSM_MODULE)).find((s) => s.token?.initialized && s.token.label.trim() === a.label);
  if (!slot?.token) return 'blank';
  const files = (await readdir(a.usb)).filter((f) => f.endsWith('.share')).sort();
  expect(files.length, `${a.label}: initialized, but only ${files.length} share files`).toBeGreaterThanOrEqual(2);
  const opened = await Promise.all(files.slice(0, 2).map(async (f) => openShareFile(await readFile(join(a.usb, f)), PASS[f.replace('.share', '') as Custodian])));
  const secret = await combineShares(opened.map((o) => o.share), 2);
  const pins = derivePins(secret, opened[0]!.ceremonyId, { minPinLength: slot.token.minPinLength, maxPinLength: slot.token.maxPinLength });
  wipe(secret, ...opened.map((o) => o.share));
  const { session } = await real.openSession({ moduleId: SOFTHSM_MODULE, slotId: slot.slotId }, { readWrite: true });
  try {
    await real.login(session, 'so', pins.soPin);
    await real.logout(session);
    if (!slot.token.userPinInitialized) return 'opens (SO PIN)';
    await real.login(session, 'user', pins.userPin);
    await real.logout(session);
    return 'opens (SO + user PIN)';
  } finally {
    await real.closeSession(session);
  }
}

const journal = async (dir: string) => (await readFile(join(dir, 'journal.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Entry);

/** Its chain, if it wrote genesis: every entry hashes to itself and links to the one before. */
/** Whether the attempt's chain records it completed (a fault in the final export comes after `completed`). */
async function chainSaysCompleted(a: Attempt): Promise<boolean> {
  const journal = join(work, 'data', 'chains', a.ceremonyId, 'journal.jsonl');
  if (!existsSync(journal)) return false;
  return (await readFile(journal, 'utf8')).trim().split('\n').some((l) => (JSON.parse(l) as Entry).kind === 'completed');
}

async function chainVerifies(a: Attempt): Promise<boolean | 'no chain'> {
  const journal = join(work, 'data', 'chains', a.ceremonyId, 'journal.jsonl');
  if (!existsSync(journal)) return 'no chain';
  const entries = (await readFile(journal, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Entry);
  return entries.every((e, i) => e.seq === i && e.prev === (i === 0 ? GENESIS_PREV : entries[i - 1]!.hash) && computeEntryHash(e) === e.hash);
}

interface Cell {
  call: number;
  name: string;
  step: string;
  code: string;
  when: 'before' | 'after';
  /** The token right after the stop (a stopped run), or after the retried run completed. */
  state: State;
  stopped: boolean;
  /** The codes the room saw, first the fault's, then the retry's. */
  seen: string;
  wayOut: string;
}

describe('init-token with a token call failing, each in turn, on real SoftHSM', () => {
  const matrix: Cell[] = [];
  let reference: { call: string; step: string }[] = [];

  it('after every fault: blank or opens with the shares written, the chain verifies, and the room gets out', async () => {
    // A run without faults: every token call init-token makes, and the step it belongs to.
    const attribution: string[] = [];
    {
      faulty.arm(undefined);
      const start = faulty.calls.length;
      const label = 'ref2';
      const usb = await mkdtemp(join(work, `${label}-usb-`));
      let view = await service.start({ script: 'init-token', parameters: { tokenLabel: label, custodians: CUSTODIANS, threshold: 2 } });
      const id = view.ceremonyId;
      const slotId = await blankSlot();
      while (view.status === 'running' && view.currentStepId) {
        const step = view.currentStepId;
        const n = faulty.calls.length;
        const input: Record<string, unknown> =
          step === 'participants' ? { administrator: 'admin', witnesses: ['wendy'] }
          : step === 'token' ? { moduleId: SOFTHSM_MODULE, slotId }
          : step === 'shares' ? { custodian: view.pendingCustodians![0], passphrase: PASS[view.pendingCustodians![0] as Custodian], destinationDir: usb }
          : step === 'init' ? { confirm: 'INITIALIZE' }
          : step === 'sign-off' ? { witnesses: [{ name: 'wendy' }] }
          : step === 'head' ? { shareFile: join(usb, `${view.quorum!.approved.length === 0 ? 'alice' : 'bob'}.share`), passphrase: view.quorum!.approved.length === 0 ? PASS.alice : PASS.bob }
          : step === 'export' ? { destinationDir: usb }
          : {};
        view = (await service.perform(id, step, input)).view;
        for (let i = n; i < faulty.calls.length; i += 1) attribution.push(step);
      }
      expect(view.status).toBe('completed');
      reference = faulty.calls.slice(start).map((call, i) => ({ call, step: attribution[i] as string }));
      expect(reference.map((r) => r.call)).toContain('initToken');
    }

    const cases: Fault[] = [];
    reference.forEach((r, i) => {
      for (const code of FAULT_CODES) {
        cases.push({ at: i + 1, code, when: 'before' });
        if (MUTATING.includes(r.call)) cases.push({ at: i + 1, code, when: 'after' });
      }
    });
    let n = 0;
    for (const fault of cases) {
      const label = `f${(n += 1)}`;
      const slotId = await blankSlot();
      faulty.arm(fault);
      const a = await runAttempt(label, { moduleId: SOFTHSM_MODULE, slotId });
      const fired = faulty.fired();
      faulty.arm(undefined);
      expect(fired, `${label}: the fault at call ${fault.at} fired`).toBe(true);
      const state = await stateOf(a);
      expect(await chainVerifies(a), `${label}: chain`).not.toBe(false);
      let wayOut: string;
      // A run that goes on holds its login: the token is checked once it completed. A stopped run has logged out.
      if (!a.stopped) {
        expect(a.view?.status, `${label}: retried to the end`).toBe('completed');
        const bundle = a.view!.outputs.find((o) => o.kind === 'bundle')!.path;
        expect((await verifyBundles([bundle])).ok, `${label}: bundle verifies`).toBe(true);
        wayOut = a.failures.length === 0 ? 'no failure seen' : 'Retry, completed';
      } else if (await chainSaysCompleted(a)) {
        // The fault hit the final export, after `completed`: the token is enrolled and the shares open it.
        expect(state, `${label}: completed, opens with the shares`).toBe('opens (SO + user PIN)');
        wayOut = 'completed before the fault (final export): the shares open the token';
      } else if (state === 'blank') {
        const again = await runAttempt(label, { moduleId: SOFTHSM_MODULE, slotId: await blankSlot() });
        expect(again.view?.status, `${label}: started again`).toBe('completed');
        wayOut = 'stopped; started again on the blank token';
      } else {
        const previous = (['alice', 'bob'] as const).map((c) => ({ shareFile: join(a.usb, `${c}.share`), passphrase: PASS[c] }));
        const again = await runAttempt(label, { uri: `pkcs11:token=${label}` }, previous);
        expect(again.failures, `${label}: re-init`).toEqual([]);
        expect(again.view?.status).toBe('completed');
        expect(await stateOf(again)).toBe('opens (SO + user PIN)');
        wayOut = 're-initialized from its shares';
      }
      matrix.push({ call: fault.at, name: reference[fault.at - 1]!.call, step: reference[fault.at - 1]!.step, code: fault.code, when: fault.when, state, stopped: a.stopped, seen: a.failures.map((f) => f.code).join(' then '), wayOut });
    }
    const rows = [...new Set(matrix.map((c) => `${c.step} / ${c.name}${c.when === 'after' ? ' (after it acted)' : ''} #${c.call}`))];
    const opens = (st: State) => (st === 'blank' ? 'blank' : st === 'opens (SO PIN)' ? 'opens SO' : 'opens SO+user');
    const short = (c: Cell) => (!c.stopped ? (c.wayOut === 'Retry, completed' ? `retry ok, ${opens(c.state)}` : 'absorbed') : c.wayOut.startsWith('completed before') ? 'stopped after completed: opens SO+user' : c.state === 'blank' ? `stopped (${c.seen}), blank: restart ok` : `stopped (${c.seen}), ${opens(c.state)}: re-init ok`);
    console.log(
      `init-token fault matrix (${matrix.length} faults; cell: what the room saw and how it got out; 'opens' = M of the attempt's share files log in)\n| step / call | ${FAULT_CODES.join(' | ')} |\n|---|${FAULT_CODES.map(() => '---').join('|')}|\n` +
        rows.map((row) => `| ${row} | ${FAULT_CODES.map((code) => matrix.filter((c) => `${c.step} / ${c.name}${c.when === 'after' ? ' (after it acted)' : ''} #${c.call}` === row && c.code === code).map(short).join(', ')).join(' | ')} |`).join('\n'),
    );
    // The rule: an attempt stopped by a fault before the first token change leaves the token blank; one
    // stopped after it leaves a token its shares open (checked in stateOf), never a blank-looking lie.
    const firstChange = reference.findIndex((r) => r.call === 'initToken') + 1;
    const early = (c: Cell) => c.call < firstChange || (c.call === firstChange && c.when === 'before');
    matrix.filter((c) => c.stopped && early(c)).forEach((c) => expect(c.state, `${c.step} ${c.name} ${c.code}`).toBe('blank'));
    matrix.filter((c) => c.stopped && !early(c)).forEach((c) => expect(c.state, `${c.step} ${c.name} ${c.code}`).not.toBe('blank'));
  }, 300_000);

  it('a re-init stopped between C_InitToken and C_SetPIN: the shares of the attempt before it still open the token, and the refusal says whose', async () => {
    faulty.arm(undefined);
    /** participants .. prove: every share out and proved, the token not touched yet. */
    const upToInit = async (token: Record<string, unknown>) => {
      const usb = await mkdtemp(join(work, 'chain-usb-'));
      const id = (await service.start({ script: 'init-token', parameters: { tokenLabel: 'chain', custodians: CUSTODIANS, threshold: 2 } })).ceremonyId;
      await service.perform(id, 'participants', { administrator: 'admin', witnesses: ['wendy'] });
      await service.perform(id, 'airgap', {});
      await service.perform(id, 'token', token);
      await service.perform(id, 'secret', {});
      for (const c of CUSTODIANS) await service.perform(id, 'shares', { custodian: c, passphrase: PASS[c], destinationDir: usb });
      await service.perform(id, 'prove', {});
      return { id, previous: (['alice', 'bob'] as const).map((c) => ({ shareFile: join(usb, `${c}.share`), passphrase: PASS[c] })) };
    };
    // A initializes the token and is aborted.
    const a = await upToInit({ moduleId: SOFTHSM_MODULE, slotId: await blankSlot() });
    await service.perform(a.id, 'init', { confirm: 'INITIALIZE' });
    await service.abort(a.id, 'fault test: stopped after init');
    // B re-initializes it from A's shares; the device fails on C_SetPIN: erased, but still with A's SO PIN.
    const b = await upToInit({ uri: 'pkcs11:token=chain' });
    faulty.arm({ at: 1, call: 'setPin', code: 'CKR_DEVICE_ERROR', when: 'before' });
    await expect(service.perform(b.id, 'init', { confirm: 'INITIALIZE', previousShares: a.previous })).rejects.toMatchObject({ code: 'CKR_DEVICE_ERROR' });
    faulty.arm(undefined);
    await service.abort(b.id, 'fault test: C_SetPIN failed');
    // C: B's shares are refused by the token (nothing erased), and the refusal names A's shares; A's work.
    const c = await upToInit({ uri: 'pkcs11:token=chain' });
    const refused = await service.perform(c.id, 'init', { confirm: 'INITIALIZE', previousShares: b.previous }).then(
      () => undefined,
      (e: { code?: string; remedy?: string }) => e,
    );
    expect(refused?.code).toBe('token-so-pin-incorrect');
    expect(refused?.remedy).toContain(`present their share file of attempt ${a.id}`);
    const view = (await service.perform(c.id, 'init', { confirm: 'INITIALIZE', previousShares: a.previous })).view;
    expect(view.currentStepId).toBe('pins');
    await service.abort(c.id, 'fault test done');
  });
});

// The same faults over kms-import, on a token init-token enrolled here. Each token call kms-import makes
// fails once, with the five codes in turn across the calls (and, for calls that change the token, also after
// they acted). After each: the ceremony completes after Retry, or it is resumed from Home (its token session
// ended) and completes, or it is abandoned/aborted; in every case the token still opens with the quorum
// (alice and bob log in) and the chain verifies.
describe('kms-import with a token call failing, each in turn, on real SoftHSM', () => {
  it('after every fault: Retry, resume or abandon; the token opens with the quorum; the chain verifies', async () => {
    faulty.arm(undefined);
    const usb = await mkdtemp(join(work, 'kms-usb-'));
    const init = await runInitToken(service, { tokenLabel: 'kms-faults', custodians: { ...PASS }, threshold: 2, token: { moduleId: SOFTHSM_MODULE, slotId: await blankSlot() }, sharesDir: usb, bundleDir: usb });
    expect(init.status).toBe('completed');
    const chainDir = join(work, 'data', 'chains', init.ceremonyId);
    const kms = kmsLikeKey(2048);
    const params = join(usb, 'params.json');
    await writeFile(params, JSON.stringify({ KeyId: ARN, ImportToken: Buffer.from('import-token').toString('base64'), PublicKey: Buffer.from(kms.spki).toString('base64'), ParametersValidTo: new Date(Date.now() + 20 * 3600_000).toISOString() }));
    const share = (c: Custodian) => ({ shareFile: join(usb, `${c}.share`), passphrase: PASS[c] });
    /** What the room gives each kms-import step (the quorum login: alice, then bob). */
    const kmsInput = (st: string, view: CeremonyView, out: string): Record<string, unknown> =>
      st === 'participants' ? { administrator: 'admin', witnesses: ['wendy'] }
      : st === 'token' ? { uri: 'pkcs11:token=kms-faults' }
      : st === 'parameters' ? { path: params, wrappingAlgorithm: 'RSAES_OAEP_SHA_1' }
      : st === 'login' ? share(view.quorum?.approved.includes('alice') ? 'bob' : 'alice')
      : st === 'generate' ? { confirm: 'GENERATE' }
      : st === 'export-key' || st === 'export' ? { destinationDir: out }
      : st === 'sign-off' ? { witnesses: [{ name: 'wendy' }] }
      : {};

    /** Drive kms-import from its current step to the end; a failing step is retried once. */
    const drive = async (id: string, view: CeremonyView, seen: string[]): Promise<{ view: CeremonyView; stopped: boolean }> => {
      const out = await mkdtemp(join(work, 'kms-out-'));
      const inputs = (st: string) => kmsInput(st, view, out);
      let failures = 0;
      while (view.status === 'running' && view.currentStepId) {
        const st = view.currentStepId;
        try {
          view = (await service.perform(id, st, inputs(st))).view;
        } catch (error) {
          const code = (error as { code?: string }).code ?? 'error';
          seen.push(code);
          if (code === 'ceremony-token-lost') return { view, stopped: true };
          if ((failures += 1) > 1) {
            view = await service.abort(id, `fault test: step ${st} failed twice (${code})`);
            return { view, stopped: true };
          }
          view = service.view(id);
        }
      }
      return { view, stopped: false };
    };
    const start = async (n: number) => {
      const view = await service.start({ script: 'kms-import', parameters: { keySpec: 'SYMMETRIC_DEFAULT', keyLabel: `kms-fault-${n}`, wrappingAlgorithm: 'RSAES_OAEP_SHA_1' } });
      return { id: view.ceremonyId, view };
    };

    // The reference run: the token calls kms-import makes, and the step of each.
    const steps: string[] = [];
    const first = faulty.calls.length;
    {
      const { id } = await start(0);
      let view = service.view(id);
      const out = await mkdtemp(join(work, 'kms-out-'));
      while (view.status === 'running' && view.currentStepId) {
        const st = view.currentStepId;
        const n = faulty.calls.length;
        view = (await service.perform(id, st, kmsInput(st, view, out))).view;
        for (let i = n; i < faulty.calls.length; i += 1) steps.push(st);
      }
      expect(view.status).toBe('completed');
    }
    const calls = faulty.calls.slice(first);
    const cases: Fault[] = calls.flatMap((call, i) => [
      { at: i + 1, code: FAULT_CODES[i % FAULT_CODES.length]!, when: 'before' as const },
      ...(MUTATING.includes(call) ? [{ at: i + 1, code: FAULT_CODES[(i + 2) % FAULT_CODES.length]!, when: 'after' as const }] : []),
    ]);
    const rows: string[] = [];
    let n = 0;
    for (const fault of cases) {
      const { id, view } = await start((n += 1));
      faulty.arm(fault);
      const seen: string[] = [];
      let r = await drive(id, view, seen);
      faulty.arm(undefined);
      let how: string;
      if (!r.stopped) how = seen.length === 0 ? 'absorbed, completed' : 'Retry, completed';
      else if (r.view.status === 'aborted') how = 'aborted (failed twice)';
      else {
        const listed = (await service.history()).find((c) => c.ceremonyId === id);
        if (listed?.status === 'completed') {
          // The session died in the final export or the logout, after `completed` was chained: nothing to resume.
          how = 'stopped after completed (final export): completed';
        } else if (listed?.resumable) {
          r = await drive(id, await service.resume(id), seen);
          how = r.view.status === 'completed' ? 'resumed from Home, completed' : `resumed, then ${r.view.status}`;
          if (r.stopped && r.view.status === 'running') {
            await service.abandon(id, 'fault test: resumed run stopped again');
            how = 'resumed, stopped again, abandoned';
          }
        } else {
          // Stopped before it joined the token's chain: nothing to resume; the next start records it interrupted.
          await service.interrupted();
          expect((await service.history()).find((c) => c.ceremonyId === id)?.status).toBe('interrupted');
          how = 'stopped before joining the chain: recorded interrupted';
        }
      }
      // The token still opens with the quorum, and the chain verifies.
      const opened = await real.openSession({ uri: 'pkcs11:token=kms-faults' }, { readWrite: false });
      try {
        await quorumLogin(real, opened.session, enrolmentFromEntries(await journal(chainDir))!, [share('alice'), share('bob')]);
        await real.logout(opened.session);
      } finally {
        await real.closeSession(opened.session);
      }
      const entries = await journal(chainDir);
      expect(entries.every((e, i) => e.seq === i && e.prev === (i === 0 ? GENESIS_PREV : entries[i - 1]!.hash) && computeEntryHash(e) === e.hash), `fault ${n}: chain`).toBe(true);
      rows.push(`| ${steps[fault.at - 1]} / ${calls[fault.at - 1]}${fault.when === 'after' ? ' (after it acted)' : ''} #${fault.at} | ${fault.code} | ${seen.join(' then ') || '-'} | ${how} |`);
    }
    console.log(`kms-import fault matrix (${rows.length} faults; after each, alice+bob open the token and the chain verifies)\n| step / call | fault | the room saw | way out |\n|---|---|---|---|\n${rows.join('\n')}`);
  }, 400_000);
});
