// rotate-custodians under token faults: every token call of its PIN step fails in turn (CKR_DEVICE_ERROR,
// before the call reaches the token, or after it acted with the answer lost). After each fault the token
// opens as its user with the old shares or with the new ones (never neither), and its SO PIN is the old
// secret's or the new one's; a Retry of the step then completes it, after which the chain's enrolment in
// force is the new one, the new shares open the token and the old ones are refused. Each cell rotates from
// the custodians the previous cell left. Through the engine (CeremonyService) over SoftHSM, as the app does.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { verifyBundles } from '../../src-main/transcript/verify.js';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import type { SlotRef } from '../../hsm/types.js';
import { enrolmentOfChain } from '../../src-main/ceremony/actions/quorum-login.js';
import { CeremonyService } from '../../src-main/ceremony/engine/service.js';
import type { CeremonyView } from '../../src-main/ceremony/engine/index.js';
import { combineShares, derivePins, openShareFile, wipe } from '../../src-main/ceremony/quorum/index.js';
import { initTokenCommand } from '../../src-main/cli/init-token-command.js';
import { rotateCustodiansCommand } from '../../src-main/cli/rotate-custodians-command.js';
import { TranscriptStore } from '../../src-main/transcript/store.js';
import { faultyLayer, type FaultCode, type FaultyLayer } from '../helpers/faulty-token-layer.js';
import { createSoftHsmEnv, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';

const SCRYPT = { N: 2 ** 10, r: 8, p: 1 };
const offline = () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() });
const LABEL = 'rotate-faults';
const passOf = (c: string) => `${c} passphrase for rotation`;
let env: SoftHsmEnv;
let real: Pkcs11TokenLayer;
let faulty: FaultyLayer;
let work: string;
let slot: SlotRef;
/** The custodians now in force: their names, the folder of their share files, the enrolment's ceremony id. */
let current: { names: string[]; folder: string; id: string };
let generation = 0;

beforeAll(async () => {
  env = createSoftHsmEnv();
  work = await mkdtemp(join(tmpdir(), 'kc-rotate-faults-'));
  for (const d of ['usb0', 'out', 'secrets', 'data']) await mkdir(join(work, d));
  const names = ['a0', 'b0', 'c0'];
  for (const c of names) await writeFile(join(work, 'secrets', c), passOf(c));
  let stdout = '';
  const out = { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: () => undefined } };
  const code = await initTokenCommand(
    ['--module', SOFTHSM_MODULE, '--slot', '0', '--token-label', LABEL, '--custodians', names.join(','), '--threshold', '2', '--shares-out', join(work, 'usb0'), '--out', join(work, 'out'), '--witness', 'wendy', '--data-dir', join(work, 'data'), '--json', ...names.flatMap((c) => ['--passphrase-file', `${c}=${join(work, 'secrets', c)}`])],
    out,
    { scrypt: SCRYPT, airGap: offline },
  );
  expect(code).toBe(0);
  current = { names, folder: join(work, 'usb0'), id: (JSON.parse(stdout) as { ceremonyId: string }).ceremonyId };
  real = new Pkcs11TokenLayer();
  await real.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
  const s = (await real.listSlots(SOFTHSM_MODULE)).find((x) => x.token?.label.trim() === LABEL);
  slot = { moduleId: SOFTHSM_MODULE, slotId: s!.slotId };
  faulty = faultyLayer(real);
}, 60_000);

afterAll(async () => {
  await real?.close();
  env?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

async function pinsOf(c: { names: string[]; folder: string; id: string }) {
  const opened = await Promise.all(c.names.slice(0, 2).map(async (n) => openShareFile(await readFile(join(c.folder, `${n}.share`)), passOf(n), { ceremonyId: c.id })));
  const secret = await combineShares(opened.map((o) => o.share), 2);
  try {
    return derivePins(secret, c.id, { minPinLength: 4, maxPinLength: 255 });
  } finally {
    wipe(secret);
  }
}

async function opens(who: 'user' | 'so', pin: string): Promise<boolean> {
  const { session } = await real.openSession(slot, { readWrite: true });
  try {
    // A login is the process's, and the ceremony may be logged in after a fault: the PINs are what is asked
    // about here, so it is logged out first (the step's Retry logs out and in again anyway).
    await real.logout(session).catch(() => undefined);
    await real.login(session, who, pin);
    await real.logout(session);
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === 'CKR_PIN_INCORRECT') return false;
    throw error;
  } finally {
    await real.closeSession(session);
  }
}

/** Which shares open the token as `who` now: the old ones, the new ones, or neither. */
async function openedBy(who: 'user' | 'so', old: Awaited<ReturnType<typeof pinsOf>>, next: Awaited<ReturnType<typeof pinsOf>> | undefined): Promise<'old' | 'new' | 'NEITHER'> {
  const pin = (p: typeof old) => (who === 'user' ? p.userPin : p.soPin);
  if (await opens(who, pin(old))) return 'old';
  if (next && (await opens(who, pin(next)))) return 'new';
  return 'NEITHER';
}

async function ownEntries(ceremonyId: string) {
  const { store } = await TranscriptStore.open(join(work, 'data', 'chains', (await import('node:fs')).readdirSync(join(work, 'data', 'chains'))[0]!));
  try {
    const head = store.head()!;
    return store.entries(0, head.seq).filter((e) => e.ceremonyId === ceremonyId);
  } finally {
    await store.close();
  }
}

async function enrolmentInForceId(): Promise<string | undefined> {
  const { store } = await TranscriptStore.open(join(work, 'data', 'chains', (await import('node:fs')).readdirSync(join(work, 'data', 'chains'))[0]!));
  try {
    return enrolmentOfChain(store)?.enrolment.ceremonyId;
  } finally {
    await store.close();
  }
}

/**
 * One rotation from `current` to new custodians, with `fault` armed for the PIN step only; Retry after a
 * failure until it completes. Returns the calls the PIN step made (first attempt) and what the token said.
 */
async function rotate(fault?: { at: number; when: 'before' | 'after'; call?: string; code?: FaultCode }, abortAfterFault: boolean | { probeFault: { at: number; call: string } } = false, stopAfterPins = false): Promise<{ pinCalls: string[]; failed: boolean; afterFault?: { user: string; so: string }; stopped?: { names: string[]; folder: string; id: string } }> {
  generation += 1;
  const names = [`a${generation}`, `b${generation}`, `c${generation}`];
  const folder = join(work, `usb${generation}`);
  await mkdir(folder);
  const old = await pinsOf(current);
  const service = new CeremonyService({ layer: faulty.layer, dataDir: join(work, 'data'), scriptsDir: resolve('ceremonies'), airGap: offline, appVersion: '0.1.0-test', scrypt: SCRYPT });
  let pinCalls: string[] = [];
  let failed = false;
  let afterFault: { user: string; so: string } | undefined;
  try {
    let view: CeremonyView = await service.start({ script: 'rotate-custodians', parameters: { custodians: names, threshold: 2 } });
    const id = view.ceremonyId;
    const act = async (step: string, input: Record<string, unknown>) => (view = (await service.perform(id, step, input)).view);
    while (view.status === 'running' && view.currentStepId) {
      const step = view.steps.find((s) => s.id === view.currentStepId)!;
      if (step.id === 'participants') await act(step.id, { administrator: 'erin', witnesses: ['wendy'] });
      else if (step.id === 'token') await act(step.id, { ...slot });
      else if (step.id === 'login') for (const n of current.names.slice(0, 2)) await act(step.id, { shareFile: join(current.folder, `${n}.share`), passphrase: passOf(n) });
      else if (step.id === 'shares') for (const n of names) await act(step.id, { custodian: n, passphrase: passOf(n), destinationDir: folder });
      else if (step.id === 'pins') {
        const start = faulty.calls.length;
        faulty.arm(fault ? { code: 'CKR_DEVICE_ERROR', ...fault } : undefined);
        try {
          await act(step.id, { confirm: 'ROTATE' });
        } catch (error) {
          failed = faulty.fired();
          if (!failed) throw new Error('the PIN step failed without the injected fault');
          if ((error as { code?: string }).code === 'ceremony-token-lost') {
            // The service let go of the run, as when the process dies: interrupted, resumable.
            faulty.arm(undefined);
            return { pinCalls: [], failed, stopped: { names, folder, id } };
          }
          afterFault = { user: await openedBy('user', old, await pinsOf({ names, folder, id })), so: await openedBy('so', old, await pinsOf({ names, folder, id })) };
          faulty.arm(undefined);
          if (abortAfterFault) {
            if (typeof abortAfterFault === 'object') {
              // The token fails again while the abort asks it which PIN it accepts: the abort is refused in words.
              faulty.arm({ ...abortAfterFault.probeFault, code: 'CKR_DEVICE_ERROR', when: 'before' });
              await expect(service.abort(id, 'the room stops after the token failed in the PIN step')).rejects.toThrow(/may have replaced the token's user PIN .* the token cannot be asked which PIN it accepts/);
              expect(faulty.fired()).toBe(true);
              faulty.arm(undefined);
              expect(service.view(id).status).toBe('running');
            }
            await service.abort(id, 'the room stops after the token failed in the PIN step');
            return { pinCalls: [], failed, afterFault, stopped: { names, folder, id } };
          }
          await act(step.id, { confirm: 'ROTATE' });
        }
        pinCalls = faulty.calls.slice(start);
        faulty.arm(undefined);
        if (stopAfterPins) return { pinCalls, failed, stopped: { names, folder, id } };
      } else if (step.id === 'sign-off') await act(step.id, { witnesses: [{ name: 'wendy' }] });
      else if (step.id === 'head') for (const n of names.slice(0, 2)) await act(step.id, { shareFile: join(folder, `${n}.share`), passphrase: passOf(n) });
      else if (step.id === 'export') await act(step.id, { destinationDir: join(work, 'out') });
      else await act(step.id, {});
    }
    expect(view.status).toBe('completed');
    current = { names, folder, id };
  } finally {
    await service.close();
  }
  return { pinCalls, failed, ...(afterFault ? { afterFault } : {}) };
}

describe('rotate-custodians under faults in its PIN step', () => {
  it('never leaves a token that neither the old nor the new shares open, and a Retry completes the rotation', async () => {
    const reference = await rotate();
    expect(reference.pinCalls).toContain('setPin');
    const cells: string[] = [];
    for (let at = 1; at <= reference.pinCalls.length; at += 1) {
      for (const when of ['before', 'after'] as const) {
        const old = await pinsOf(current);
        const r = await rotate({ at, when });
        cells.push(`${reference.pinCalls[at - 1]}#${at} ${when}: ${r.failed ? `user ${r.afterFault?.user}, so ${r.afterFault?.so}` : 'the step went on (the fault was absorbed, or did not fire)'}`);
        if (r.afterFault) {
          expect(r.afterFault.user, cells.at(-1)).not.toBe('NEITHER');
          expect(r.afterFault.so, cells.at(-1)).not.toBe('NEITHER');
        }
        // After the Retry: the new enrolment is in force, its shares open the token, the old ones do not.
        expect(await enrolmentInForceId()).toBe(current.id);
        const now = await pinsOf(current);
        expect(await opens('user', now.userPin)).toBe(true);
        expect(await opens('so', now.soPin)).toBe(true);
        expect(await opens('user', old.userPin)).toBe(false);
        expect(await opens('so', old.soPin)).toBe(false);
      }
    }
    console.log(`rotate-custodians PIN step, ${cells.length} faults:\n${cells.join('\n')}`);
    expect(cells.filter((c) => !c.includes('the step went on')).length).toBeGreaterThan(0);
  }, 600_000);

  it('a rotation interrupted after its PIN step is resumed from the command line with the new shares', async () => {
    const r = await rotate(undefined, false, true);
    const stopped = r.stopped!;
    // The service closed without an abort: interrupted, resumable; its enrolment is in force already.
    expect(await enrolmentInForceId()).toBe(stopped.id);
    await real.close();
    for (const n of stopped.names) await writeFile(join(work, 'secrets', n), passOf(n));
    let stdout = '';
    let stderr = '';
    const out = { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) } };
    const code = await rotateCustodiansCommand(
      [
        '--module', SOFTHSM_MODULE, '--token', `pkcs11:token=${LABEL}`, '--resume', stopped.id, '--custodians', stopped.names.join(','), '--threshold', '2', '--shares-out', stopped.folder,
        '--out', join(work, 'out'), '--witness', 'wendy', '--data-dir', join(work, 'data'),
        ...stopped.names.slice(1).flatMap((n) => ['--share', `${join(stopped.folder, `${n}.share`)}:${join(work, 'secrets', n)}`]),
        ...stopped.names.flatMap((n) => ['--passphrase-file', `${n}=${join(work, 'secrets', n)}`]),
      ],
      out,
      { airGap: offline, scrypt: SCRYPT },
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain(`Ceremony ${stopped.id}: Replace the custodians of a token (2 of ${stopped.names.join(', ')}), resumed at step`);
    real = new Pkcs11TokenLayer();
    await real.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
    faulty = faultyLayer(real);
    expect(await opens('user', (await pinsOf(stopped)).userPin)).toBe(true);
    current = stopped;
  });

  it('a rotation that stopped between its C_SetPIN and the record is finished by resuming it with the new shares', async () => {
    const old = await pinsOf(current);
    const r = await rotate({ at: 1, call: 'setPin', when: 'after', code: 'CKR_SESSION_HANDLE_INVALID' });
    const stopped = r.stopped!;
    const fresh = await pinsOf(stopped);
    // The token has the new user PIN; the chain still names the old custodians.
    expect(await opens('user', fresh.userPin)).toBe(true);
    expect(await enrolmentInForceId()).toBe(current.id);
    await real.close();
    for (const n of stopped.names) await writeFile(join(work, 'secrets', n), passOf(n));
    let stdout = '';
    let stderr = '';
    const out = { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) } };
    const code = await rotateCustodiansCommand(
      [
        '--module', SOFTHSM_MODULE, '--token', `pkcs11:token=${LABEL}`, '--resume', stopped.id, '--custodians', stopped.names.join(','), '--threshold', '2', '--shares-out', stopped.folder,
        '--out', join(work, 'out'), '--witness', 'wendy', '--data-dir', join(work, 'data'), '--json',
        ...stopped.names.slice(0, 2).flatMap((n) => ['--share', `${join(stopped.folder, `${n}.share`)}:${join(work, 'secrets', n)}`]),
        ...stopped.names.flatMap((n) => ['--passphrase-file', `${n}=${join(work, 'secrets', n)}`]),
      ],
      out,
      { airGap: offline, scrypt: SCRYPT },
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect((JSON.parse(stdout) as { rotation: { changed: string[] } }).rotation.changed).toContain('user');
    real = new Pkcs11TokenLayer();
    await real.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
    faulty = faultyLayer(real);
    expect(await enrolmentInForceId()).toBe(stopped.id);
    expect(await opens('user', fresh.userPin)).toBe(true);
    expect(await opens('user', old.userPin)).toBe(false);
    current = stopped;
    // Every bundle of this token verifies: the resumed login's approvals against the rotation's own enrolment.
    const bundles = (await readdir(join(work, 'out'))).map((b) => join(work, 'out', b));
    const report = await verifyBundles(bundles);
    expect(report.checks.filter((c) => c.status === 'fail')).toEqual([]);
  });

  it('an abandoned rotation that stopped between its C_SetPIN and the record is refused: resume it with the new shares', async () => {
    const r = await rotate({ at: 1, call: 'setPin', when: 'after', code: 'CKR_SESSION_HANDLE_INVALID' });
    const stopped = r.stopped!;
    const service = new CeremonyService({ layer: faulty.layer, dataDir: join(work, 'data'), scriptsDir: resolve('ceremonies'), airGap: offline, appVersion: '0.1.0-test', scrypt: SCRYPT });
    try {
      await expect(service.abandon(stopped.id, 'the room gives up')).rejects.toThrow(new RegExp(`ceremony ${stopped.id} stopped inside its PIN step with no PIN change recorded`));
      // Still resumable: nothing was recorded by the refusal.
      expect((await service.history()).find((h) => h.ceremonyId === stopped.id)?.status).toBe('interrupted');
    } finally {
      await service.close();
    }
    // Resumed with the new shares (as in the test above), it finishes.
    await real.close();
    for (const n of stopped.names) await writeFile(join(work, 'secrets', n), passOf(n));
    let stderr = '';
    const out = { stdout: { write: () => undefined }, stderr: { write: (t: string) => (stderr += t) } };
    const code = await rotateCustodiansCommand(
      [
        '--module', SOFTHSM_MODULE, '--token', `pkcs11:token=${LABEL}`, '--resume', stopped.id, '--custodians', stopped.names.join(','), '--threshold', '2', '--shares-out', stopped.folder,
        '--out', join(work, 'out'), '--witness', 'wendy', '--data-dir', join(work, 'data'), '--json',
        ...stopped.names.slice(0, 2).flatMap((n) => ['--share', `${join(stopped.folder, `${n}.share`)}:${join(work, 'secrets', n)}`]),
        ...stopped.names.flatMap((n) => ['--passphrase-file', `${n}=${join(work, 'secrets', n)}`]),
      ],
      out,
      { airGap: offline, scrypt: SCRYPT },
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    real = new Pkcs11TokenLayer();
    await real.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
    faulty = faultyLayer(real);
    expect(await enrolmentInForceId()).toBe(stopped.id);
    current = stopped;
  });

  it('a rotation aborted before its C_SetPIN acted records that the token refuses the new PIN: the old shares stay in force', async () => {
    const old = await pinsOf(current);
    const r = await rotate({ at: 1, call: 'setPin', when: 'before' }, true);
    expect(r.afterFault?.user).toBe('old');
    expect(await enrolmentInForceId()).toBe(current.id);
    expect(await opens('user', old.userPin)).toBe(true);
    const probed = await ownEntries(r.stopped!.id);
    expect(probed.map((e) => e.kind)).toContain('pins-probed');
    expect(probed.some((e) => e.kind === 'pin-changed')).toBe(false);
  });

  it('a rotation aborted after its C_SetPIN acted, answer lost: the abort asks the token and puts the new custodians in force', async () => {
    const old = await pinsOf(current);
    // The token fails again when the abort first asks it: refused in words, still running; the second abort asks it.
    const r = await rotate({ at: 1, call: 'setPin', when: 'after' }, { probeFault: { at: 1, call: 'openSession' } });
    const stopped = r.stopped!;
    expect(r.afterFault?.user).toBe('new');
    // Never-brick: the transcript names the custodians whose shares open the token.
    expect(await enrolmentInForceId()).toBe(stopped.id);
    const fresh = await pinsOf(stopped);
    expect(await opens('user', fresh.userPin)).toBe(true);
    expect(await opens('user', old.userPin)).toBe(false);
    const own = await ownEntries(stopped.id);
    expect(own.filter((e) => e.kind === 'pin-changed').map((e) => (e.data as { pin: string }).pin)).toEqual(['user']);
    expect(own.at(-1)?.kind === 'abort' || own.some((e) => e.kind === 'abort')).toBe(true);
    current = stopped;
    // A later ceremony opens the token with the new shares (audit-token's login).
    const service = new CeremonyService({ layer: faulty.layer, dataDir: join(work, 'data'), scriptsDir: resolve('ceremonies'), airGap: offline, appVersion: '0.1.0-test', scrypt: SCRYPT });
    try {
      const view = await service.start({ script: 'audit-token', parameters: {} });
      const id = view.ceremonyId;
      await service.perform(id, 'participants', { administrator: 'erin', witnesses: ['wendy'] });
      await service.perform(id, 'airgap', {});
      await service.perform(id, 'token', { ...slot });
      for (const n of stopped.names.slice(0, 2)) await service.perform(id, 'login', { shareFile: join(stopped.folder, `${n}.share`), passphrase: passOf(n) });
      let now = service.view(id);
      expect(now.currentStepId).not.toBe('login');
      // The audit runs to its end, and its bundle (the whole chain, the abort's pin-changed entry and the new
      // custodians' approvals in it) verifies with every other bundle of this token.
      while (now.status === 'running' && now.currentStepId) {
        const step = now.currentStepId;
        now = (await service.perform(id, step, step === 'sign-off' ? { witnesses: [{ name: 'wendy' }] } : step === 'export' ? { destinationDir: join(work, 'out') } : {})).view;
      }
      expect(now.status).toBe('completed');
    } finally {
      await service.close();
    }
    const report = await verifyBundles((await readdir(join(work, 'out'))).map((b) => join(work, 'out', b)));
    expect(report.checks.filter((c) => c.status === 'fail')).toEqual([]);
  });

  it('after a rotation stopped between its C_SetPIN and the record, a later ceremony on the token is refused in words naming it', async () => {
    // The user PIN's C_SetPIN acts and its answer is lost, and the process stops there (interrupted: an abort
    // can no longer leave this state, see above). The token waits for that rotation to be resumed.
    const r = await rotate({ at: 1, call: 'setPin', when: 'after', code: 'CKR_SESSION_HANDLE_INVALID' });
    expect(await enrolmentInForceId()).toBe(current.id);
    const service = new CeremonyService({ layer: faulty.layer, dataDir: join(work, 'data'), scriptsDir: resolve('ceremonies'), airGap: offline, appVersion: '0.1.0-test', scrypt: SCRYPT });
    try {
      const view = await service.start({ script: 'audit-token', parameters: {} });
      const id = view.ceremonyId;
      await service.perform(id, 'participants', { administrator: 'erin', witnesses: ['wendy'] });
      await service.perform(id, 'airgap', {});
      await expect(service.perform(id, 'token', { ...slot })).rejects.toThrow(new RegExp(`ceremony ${r.stopped?.id} on token '${LABEL}' was interrupted and is neither resumed nor abandoned`));
      await service.abort(id, 'the token waits for the stopped rotation');
    } finally {
      await service.close();
    }
  });
});
