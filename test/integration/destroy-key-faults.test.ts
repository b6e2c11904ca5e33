// destroy-key when the token fails in the middle of the destruction (SoftHSM behind a fault-injecting layer,
// through the engine as the app drives it): the private half of a P-384 pair is destroyed and the answer
// lost. A Retry of the step finishes it: what is left is found by the recorded label and CKA_ID (the check
// value cannot be recomputed once half is gone) and destroyed, and the result says which destruction it
// continues. A ceremony aborted half-way is continued the same way by the next destroy-key ceremony.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import type { SlotRef } from '../../hsm/types.js';
import { CeremonyService } from '../../src-main/ceremony/engine/service.js';
import type { CeremonyView } from '../../src-main/ceremony/engine/index.js';
import { combineShares, derivePins, openShareFile, wipe } from '../../src-main/ceremony/quorum/index.js';
import { initTokenCommand } from '../../src-main/cli/init-token-command.js';
import { kmsImportCommand } from '../../src-main/cli/kms-import-command.js';
import { destroyKeyCommand } from '../../src-main/cli/destroy-key-command.js';
import { readFile } from 'node:fs/promises';
import { faultyLayer, type FaultyLayer } from '../helpers/faulty-token-layer.js';
import { ARN, kmsLikeKey } from '../fixtures/kms/harness.js';
import { createSoftHsmEnv, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';

const SCRYPT = { N: 2 ** 10, r: 8, p: 1 };
const offline = () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() });
const LABEL = 'destroy-faults';
const pass: Record<string, string> = { alice: 'alice passphrase 1', bob: 'bob passphrase 22', carol: 'carol passphrase 333' };
let env: SoftHsmEnv;
let work: string;
let real: Pkcs11TokenLayer;
let faulty: FaultyLayer;
let slot: SlotRef;
let initId: string;

const silentErr = () => {
  const o = { stdout: '', stderr: '' };
  return { o, out: { stdout: { write: (t: string) => (o.stdout += t) }, stderr: { write: (t: string) => (o.stderr += t) } } };
};

const silent = () => {
  const o = { stdout: '' };
  return { o, out: { stdout: { write: (t: string) => (o.stdout += t) }, stderr: { write: () => undefined } } };
};

beforeAll(async () => {
  env = createSoftHsmEnv();
  work = await mkdtemp(join(tmpdir(), 'kc-destroy-faults-'));
  for (const d of ['usb', 'out', 'secrets', 'data', 'kms-out']) await mkdir(join(work, d));
  for (const [c, p] of Object.entries(pass)) await writeFile(join(work, 'secrets', c), p);
  const init = silent();
  expect(
    await initTokenCommand(
      ['--module', SOFTHSM_MODULE, '--slot', '0', '--token-label', LABEL, '--custodians', 'alice,bob,carol', '--threshold', '2', '--shares-out', join(work, 'usb'), '--out', join(work, 'out'), '--witness', 'wendy', '--data-dir', join(work, 'data'), '--json', ...Object.keys(pass).flatMap((c) => ['--passphrase-file', `${c}=${join(work, 'secrets', c)}`])],
      init.out,
      { scrypt: SCRYPT, airGap: offline },
    ),
  ).toBe(0);
  initId = (JSON.parse(init.o.stdout) as { ceremonyId: string }).ceremonyId;
  for (const label of ['k-lost', 'k-retry', 'k-abort', 'k-resume']) {
    const params = join(work, `${label}.json`);
    await writeFile(params, JSON.stringify({ KeyId: ARN, ImportToken: Buffer.from('t').toString('base64'), PublicKey: Buffer.from(kmsLikeKey(2048).spki).toString('base64'), ParametersValidTo: Date.now() / 1000 + 20 * 3600 }));
    const imp = silent();
    const shares = ['alice', 'bob'].flatMap((c) => ['--share', `${join(work, 'usb', `${c}.share`)}:${join(work, 'secrets', c)}`]);
    expect(await kmsImportCommand(['--module', SOFTHSM_MODULE, '--token', `pkcs11:token=${LABEL}`, '--params', params, '--wrapping-algorithm', 'RSA_AES_KEY_WRAP_SHA_1', '--key-spec', 'ECC_NIST_P384', '--key-label', label, '--out', join(work, 'kms-out'), '--bundle-out', join(work, 'out'), '--witness', 'wendy', '--data-dir', join(work, 'data'), ...shares], imp.out, { airGap: offline })).toBe(0);
  }
  real = new Pkcs11TokenLayer();
  await real.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
  slot = { moduleId: SOFTHSM_MODULE, slotId: (await real.listSlots(SOFTHSM_MODULE)).find((s) => s.token?.label.trim() === LABEL)!.slotId };
  faulty = faultyLayer(real);
}, 120_000);

afterAll(async () => {
  await real?.close();
  env?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Objects labelled `label`, asked through the real layer with the PIN two shares rebuild. */
async function labelled(label: string): Promise<string[]> {
  const opened = await Promise.all(['alice', 'bob'].map(async (c) => openShareFile(await readFile(join(work, 'usb', `${c}.share`)), pass[c], { ceremonyId: initId })));
  const secret = await combineShares(opened.map((o) => o.share), 2);
  const pin = derivePins(secret, initId, { minPinLength: 4, maxPinLength: 255 }).userPin;
  wipe(secret);
  const { session } = await real.openSession(slot, { readWrite: false });
  try {
    // A login is the process's: while the ceremony is logged in, this session already is, and stays so.
    const already = await real.login(session, 'user', pin).then(
      () => false,
      (error: { code?: string }) => {
        if (error.code === 'CKR_USER_ALREADY_LOGGED_IN') return true;
        throw error;
      },
    );
    const out: string[] = [];
    for (const h of await real.findAll(session, { label })) out.push(String((await real.getAttributes(session, h, ['CKA_CLASS'])).CKA_CLASS));
    if (!already) await real.logout(session);
    return out;
  } finally {
    await real.closeSession(session);
  }
}

/** Run destroy-key for `label` up to its destroy step; `atDestroy` decides what happens there. */
async function destroyKey(service: CeremonyService, label: string, atDestroy: (act: (input: Record<string, unknown>) => Promise<CeremonyView>) => Promise<void>): Promise<{ id: string; view: CeremonyView }> {
  let view = await service.start({ script: 'destroy-key', parameters: { keyLabel: label } });
  const id = view.ceremonyId;
  const act = async (step: string, input: Record<string, unknown>) => (view = (await service.perform(id, step, input)).view);
  try {
    await drive();
  } catch (error) {
    // A refused ceremony is aborted, as the CLI does (a run the service let go of stays interrupted).
    await service.abort(id, 'the step was refused').catch(() => undefined);
    throw error;
  }
  return { id, view };
  async function drive(): Promise<void> {
  while (view.status === 'running' && view.currentStepId) {
    const step = view.currentStepId;
    if (step === 'participants') await act(step, { administrator: 'erin', witnesses: ['wendy'] });
    else if (step === 'token') await act(step, { ...slot });
    else if (step === 'login') for (const c of ['alice', 'bob']) await act(step, { shareFile: join(work, 'usb', `${c}.share`), passphrase: pass[c] });
    else if (step === 'destroy') {
      await atDestroy((input) => act(step, input));
      if (view.status !== 'running' || view.currentStepId === 'destroy') break;
    } else if (step === 'sign-off') await act(step, { witnesses: [{ name: 'wendy' }] });
    else if (step === 'export') await act(step, { destinationDir: join(work, 'out') });
    else await act(step, {});
  }
  }
}

const destroyResult = async (id: string) => {
  const chains = join(work, 'data', 'chains', initId, 'journal.jsonl');
  const entries = (await readFile(chains, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { ceremonyId: string; kind: string; data: Record<string, unknown> });
  return entries.find((e) => e.ceremonyId === id && e.kind === 'result' && e.data.action === 'destroy-key')?.data;
};

describe('destroy-key under a token fault in its destroy step', () => {
  it('a destruction whose answer was lost counts by the search that follows: nothing answers, the step completes', async () => {
    const service = new CeremonyService({ layer: faulty.layer, dataDir: join(work, 'data'), scriptsDir: resolve('ceremonies'), airGap: offline, appVersion: '0.1.0-test', scrypt: SCRYPT });
    try {
      const { id, view } = await destroyKey(service, 'k-lost', async (act) => {
        faulty.arm({ at: 1, call: 'destroyObject', code: 'CKR_DEVICE_ERROR', when: 'after' });
        await act({ confirm: 'DESTROY' });
        expect(faulty.fired()).toBe(true);
        faulty.arm(undefined);
      });
      expect(view.status).toBe('completed');
      expect(await labelled('k-lost')).toEqual([]);
      expect((await destroyResult(id))?.gone).toMatchObject({ foundByLabel: 0, foundById: 0 });
    } finally {
      await service.close();
    }
  });

  it('a Retry destroys what is left when the token failed half-way', async () => {
    const service = new CeremonyService({ layer: faulty.layer, dataDir: join(work, 'data'), scriptsDir: resolve('ceremonies'), airGap: offline, appVersion: '0.1.0-test', scrypt: SCRYPT });
    try {
      const { id, view } = await destroyKey(service, 'k-retry', async (act) => {
        faulty.arm({ at: 2, call: 'destroyObject', code: 'CKR_DEVICE_ERROR', when: 'before' });
        await expect(act({ confirm: 'DESTROY' })).rejects.toThrow(/the token still answers 1 object\(s\) by the label 'k-retry'.*injected CKR_DEVICE_ERROR before destroyObject/);
        faulty.arm(undefined);
        expect(await labelled('k-retry')).toHaveLength(1);
        await act({ confirm: 'DESTROY' });
      });
      expect(view.status).toBe('completed');
      expect(await labelled('k-retry')).toEqual([]);
      const result = await destroyResult(id);
      expect(result?.continuesDestructionBy).toMatchObject({ ceremonyId: id });
      expect(result?.gone).toMatchObject({ foundByLabel: 0, foundById: 0 });
    } finally {
      await service.close();
    }
  });

  it('the next destroy-key continues a ceremony aborted half-way, and the key is then refused as destroyed', async () => {
    const service = new CeremonyService({ layer: faulty.layer, dataDir: join(work, 'data'), scriptsDir: resolve('ceremonies'), airGap: offline, appVersion: '0.1.0-test', scrypt: SCRYPT });
    try {
      const first = await destroyKey(service, 'k-abort', async (act) => {
        faulty.arm({ at: 2, call: 'destroyObject', code: 'CKR_DEVICE_ERROR', when: 'before' });
        await expect(act({ confirm: 'DESTROY' })).rejects.toThrow(/injected/);
        faulty.arm(undefined);
      });
      await service.abort(first.id, 'the token failed half-way through the destruction');
      expect(await labelled('k-abort')).toHaveLength(1);
      const second = await destroyKey(service, 'k-abort', async (act) => {
        await act({ confirm: 'DESTROY' });
      });
      expect(second.view.status).toBe('completed');
      expect(await labelled('k-abort')).toEqual([]);
      expect((await destroyResult(second.id))?.continuesDestructionBy).toMatchObject({ ceremonyId: first.id });
      await expect(destroyKey(service, 'k-abort', async () => undefined)).rejects.toThrow(/the key labelled 'k-abort' was destroyed on \d{4}-\d\d-\d\d/);
    } finally {
      await service.close();
    }
  });

  it('an interrupted destroy-key is resumed from the command line and finishes the destruction', async () => {
    const service = new CeremonyService({ layer: faulty.layer, dataDir: join(work, 'data'), scriptsDir: resolve('ceremonies'), airGap: offline, appVersion: '0.1.0-test', scrypt: SCRYPT });
    let id = '';
    try {
      const first = await destroyKey(service, 'k-resume', async (act) => {
        // The token fails before the public half goes; then the process ends (the service closes without
        // an abort): the ceremony is interrupted with its destroy intent and no result.
        faulty.arm({ at: 2, call: 'destroyObject', code: 'CKR_DEVICE_ERROR', when: 'before' });
        await expect(act({ confirm: 'DESTROY' })).rejects.toThrow(/still answers 1 object/);
        faulty.arm(undefined);
      });
      id = first.id;
    } finally {
      await service.close();
    }
    expect(await labelled('k-resume')).toHaveLength(1);
    await real.close();
    const flags = ['--module', SOFTHSM_MODULE, '--token', `pkcs11:token=${LABEL}`, '--bundle-out', join(work, 'out'), '--witness', 'wendy', '--data-dir', join(work, 'data'), ...['alice', 'bob'].flatMap((c) => ['--share', `${join(work, 'usb', `${c}.share`)}:${join(work, 'secrets', c)}`])];
    const wrong = silentErr();
    expect(await destroyKeyCommand([...flags, '--key-label', 'k-other', '--resume', id], wrong.out, { airGap: offline })).toBe(2);
    expect(wrong.o.stderr).toContain(`--key-label k-other: ceremony ${id} started with k-resume`);
    const resumed = silentErr();
    const code = await destroyKeyCommand([...flags, '--key-label', 'k-resume', '--resume', id], resumed.out, { airGap: offline });
    expect(resumed.o.stderr).toBe('');
    expect(code).toBe(0);
    expect(resumed.o.stdout).toContain(`Ceremony ${id}: Destroy key k-resume, resumed at step`);
    expect((await destroyResult(id))?.continuesDestructionBy).toMatchObject({ ceremonyId: id });
    real = new Pkcs11TokenLayer();
    await real.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
    expect(await labelled('k-resume')).toEqual([]);
  });
});
