// restore-key after a crash, on real SoftHSM tokens: a child process runs restore-key through the engine and
// sends itself SIGKILL at one point; a fresh process resumes the same ceremony and finishes it.
// - killed after the unwrap step's token work (C_UnwrapKey acted, the proof passed, no result recorded): the
//   resume's check step lets the object pass because the chain's unwrap intent names it, and the unwrap step
//   proves it again (wrapped back out under the backup key it gives the backup's bytes) and keeps it,
//   recorded as found; the token holds exactly one such key, and kms-rewrap exports the same check value;
// - killed after the unwrap intent (nothing acted): the resume unwraps afresh;
// - killed after the token work, and the object then replaced with other material of the same label and
//   CKA_ID: the resume cannot prove it, destroys it (recorded), and unwraps afresh.
// And a fault injected after C_UnwrapKey acted (the answer lost, as when a device resets after acting): the
// step fails saying the object it made was destroyed, the token holds none, and a retry restores it.
// Every bundle of the target token verifies from its genesis.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import { enrolmentFromEntries, quorumLogin } from '../../src-main/ceremony/actions/quorum-login.js';
import type { CeremonyView } from '../../src-main/ceremony/engine/types.js';
import type { Entry } from '../../src-main/transcript/entry.js';
import { verifyBundles } from '../../src-main/transcript/verify.js';
import { CeremonyService } from '../../src-main/ceremony/engine/service.js';
import { faultyLayer } from '../helpers/faulty-token-layer.js';
import { kmsLikeKey, type KmsLikeKey } from '../fixtures/kms/harness.js';
import { createSoftHsmEnv, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';
import { PASS, Room, type Custodian } from '../helpers/key-backup.js';

const outDir = resolve('node_modules/.cache/keyceremony-restore-key-crash-child');
const A = ['--token', 'pkcs11:token=rk-a'];
const B = ['--token', 'pkcs11:token=rk-b'];
let env: SoftHsmEnv;
let room: Room;
let kms: KmsLikeKey;
let child: string;
const backups: Record<string, string> = {};
const checkValues: Record<string, { value: string; method: string }> = {};
const bundlesB: string[] = [];

const share = (c: Custodian) => ({ shareFile: room.shareFile(c), passphrase: PASS[c] });

function runChild(args: Record<string, unknown>): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((done, reject) => {
    const p = spawn(process.execPath, [child, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    p.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    p.on('error', reject);
    p.on('exit', (code, signal) => done({ code, signal, stdout, stderr }));
  });
}

/** Every entry of token rk-b's chain, oldest first. */
async function journalB(): Promise<Entry[]> {
  const chains = room.dir('data/chains');
  for (const name of await readdir(chains)) {
    const entries = (await readFile(join(chains, name, 'journal.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Entry);
    if ((entries[0]?.data as { token?: { label?: string } })?.token?.label === 'rk-b') return entries;
  }
  throw new Error('no chain for rk-b');
}

/** With a fresh module load and a quorum login on rk-b: run `fn` on the logged-in session. */
async function onB<T>(fn: (layer: Pkcs11TokenLayer, session: string) => Promise<T>): Promise<T> {
  const layer = new Pkcs11TokenLayer();
  await layer.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
  try {
    const { session } = await layer.openSession({ uri: 'pkcs11:token=rk-b' }, { readWrite: true });
    try {
      await quorumLogin(layer, session, enrolmentFromEntries(await journalB())!, [share('bob'), share('carol')]);
      return await fn(layer, session);
    } finally {
      await layer.closeSession(session);
    }
  } finally {
    await layer.close();
  }
}

const keysLabelled = (label: string) => onB(async (layer, session) => (await layer.findAll(session, { label })).length);

const base = (backupDir: string) => ({ module: SOFTHSM_MODULE, dataDir: room.dir('data'), token: { uri: 'pkcs11:token=rk-b' }, backupDir, shares: [share('alice'), share('bob')], out: room.dir('out') });

/** Crash at `crashAt`, then resume in a fresh process; the resumed final view and the ceremony's entries. */
async function crashAndResume(label: string, crashAt: string, between?: () => Promise<void>): Promise<{ view: CeremonyView; entries: Entry[] }> {
  const crashed = await runChild({ ...base(backups[label] as string), mode: 'crash', crashAt });
  expect(crashed.signal, crashed.stderr).toBe('SIGKILL');
  const ceremonyId = /^ceremony (\S+) at /m.exec(crashed.stdout)?.[1] as string;
  expect(ceremonyId).toBeTruthy();
  await between?.();
  const resumed = await runChild({ ...base(backups[label] as string), mode: 'resume', ceremonyId });
  expect(resumed.stderr).toBe('');
  expect(resumed.code).toBe(0);
  const view = JSON.parse(resumed.stdout.trim().split('\n').at(-1) as string) as CeremonyView;
  expect(view.status).toBe('completed');
  bundlesB.push(view.outputs.find((o) => o.kind === 'bundle')?.path as string);
  return { view, entries: (await journalB()).filter((e) => e.ceremonyId === ceremonyId) };
}

const unwrapResult = (entries: Entry[]) => entries.filter((e) => e.step === 'unwrap' && e.kind === 'result').map((e) => e.data as { recovered?: string; checkValue: { value: string; method: string } });

beforeAll(async () => {
  await build({
    configFile: false,
    logLevel: 'silent',
    ssr: { noExternal: ['zod'] },
    build: { ssr: resolve('test/integration/restore-key-crash-child.ts'), outDir, emptyOutDir: true, target: 'node20', rollupOptions: { output: { entryFileNames: 'child.mjs', format: 'es' } } },
  });
  child = join(outDir, 'child.mjs');
  env = createSoftHsmEnv();
  room = new Room(await mkdtemp(join(tmpdir(), 'kc-restore-crash-')));
  await room.setUp();
  kms = kmsLikeKey(2048);
  await room.initToken('rk-a');
  await room.joinToken('rk-b', ['alice', 'carol']);
  bundlesB.push(...(room.bundles['rk-b'] ?? []));
  for (const [spec, label] of [['SYMMETRIC_DEFAULT', 'aes-1'], ['HMAC_256', 'hmac-2'], ['SYMMETRIC_DEFAULT', 'aes-3'], ['SYMMETRIC_DEFAULT', 'aes-4']] as const) {
    const r = await room.kms('kms-import', A, kms, spec, label);
    expect(r.code).toBe(0);
    checkValues[label] = r.result?.checkValue as { value: string; method: string };
    const bk = await room.backup(A, label);
    expect(bk.o.stderr).toBe('');
    backups[label] = bk.result?.backup.path as string;
  }
}, 300_000);

afterAll(async () => {
  env?.cleanup();
  if (room) await rm(room.work, { recursive: true, force: true });
});

describe('restore-key resumed after a kill', () => {
  it('killed after C_UnwrapKey acted: the resume finds the object, proves it and keeps it, recorded as found', async () => {
    const { entries } = await crashAndResume('aes-1', 'unwrap:performed');
    const results = unwrapResult(entries);
    expect(results.length).toBe(1);
    expect(results[0]?.recovered).toContain('left by the interrupted attempt of this step');
    expect(results[0]?.checkValue).toMatchObject(checkValues['aes-1'] as object);
    const check = entries.filter((e) => e.step === 'check' && e.kind === 'result').at(-1)?.data as { interruptedRestore?: { objectsLeft: number } };
    expect(check.interruptedRestore?.objectsLeft).toBe(1);
    expect(entries.some((e) => e.kind === 'restored-object-destroyed')).toBe(false);
    expect(await keysLabelled('aes-1')).toBe(1);
    const rewrap = await room.kms('kms-rewrap', B, kms, 'SYMMETRIC_DEFAULT', 'aes-1', ['carol', 'bob']);
    expect(rewrap.o.stderr).toBe('');
    expect(rewrap.result?.checkValue).toMatchObject(checkValues['aes-1'] as object);
    bundlesB.push(rewrap.result?.bundle.path as string);
  }, 240_000);

  it('killed after the unwrap intent, before the token acted: the resume unwraps afresh', async () => {
    const { entries } = await crashAndResume('hmac-2', 'unwrap:intent');
    const results = unwrapResult(entries);
    expect(results.length).toBe(1);
    expect(results[0]?.recovered).toBeUndefined();
    expect(results[0]?.checkValue).toMatchObject(checkValues['hmac-2'] as object);
    expect(await keysLabelled('hmac-2')).toBe(1);
  }, 240_000);

  it('an object left with the label and CKA_ID that does not prove is destroyed (recorded) and the key restored afresh', async () => {
    const { entries } = await crashAndResume('aes-3', 'unwrap:performed', () =>
      onB(async (layer, session) => {
        // Other material in the left object's place: same label, same CKA_ID, as a wrong or damaged object would be.
        const [left] = await layer.findAll(session, { label: 'aes-3', class: 'SECRET_KEY' });
        const { CKA_ID } = await layer.getAttributes(session, left as string, ['CKA_ID']);
        await layer.destroyObject(session, left as string);
        await layer.createSecretKey(session, { type: 'AES', bits: 256 }, randomBytes(32), { label: 'aes-3', id: CKA_ID as Uint8Array, token: true, private: true, sensitive: true, extractable: true, encrypt: false, decrypt: false, sign: true, verify: false, wrap: false, unwrap: false, derive: false });
      }),
    );
    const destroyed = entries.filter((e) => e.kind === 'restored-object-destroyed').map((e) => e.data as { leftByInterruptedAttempt?: boolean; why: string });
    expect(destroyed.length).toBe(1);
    expect(destroyed[0]?.leftByInterruptedAttempt).toBe(true);
    expect(destroyed[0]?.why).toContain('not proved');
    const results = unwrapResult(entries);
    expect(results[0]?.recovered).toBeUndefined();
    expect(results[0]?.checkValue).toMatchObject(checkValues['aes-3'] as object);
    expect(await keysLabelled('aes-3')).toBe(1);
  }, 240_000);

  it('a fault after C_UnwrapKey acted: the object is destroyed at once, and the retried step restores the key', async () => {
    const real = new Pkcs11TokenLayer();
    await real.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
    const faulty = faultyLayer(real);
    const service = new CeremonyService({ layer: faulty.layer, dataDir: room.dir('data'), scriptsDir: resolve('ceremonies'), airGap: () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() }), appVersion: '0.1.0-test', scrypt: { N: 2 ** 10, r: 8, p: 1 } });
    try {
      let view = await service.start({ script: 'restore-key', parameters: {} });
      const run = async (step: string, inputs: Record<string, unknown>[]) => {
        for (const input of inputs) view = (await service.perform(view.ceremonyId, step, input)).view;
      };
      const shares = [share('alice'), share('bob')];
      await run('participants', [{ administrator: 'admin', witnesses: ['wendy'] }]);
      await run('airgap', [{}]);
      await run('token', [{ uri: 'pkcs11:token=rk-b' }]);
      await run('login', shares);
      await run('check', [{ backupDir: backups['aes-4'] }]);
      faulty.arm({ at: 1, call: 'unwrapKey', code: 'CKR_DEVICE_ERROR', when: 'after' });
      const failed = await run('unwrap', shares).then(
        () => undefined,
        (e: unknown) => e as { code?: string; message?: string },
      );
      expect(faulty.fired()).toBe(true);
      expect(failed?.code).toBe('restore-unwrap-failed');
      expect(failed?.message).toContain('the unwrap failed (CKR_DEVICE_ERROR); the object the token had made was destroyed');
      view = service.view(view.ceremonyId);
      expect(view.currentStepId).toBe('unwrap');
      // Counted on a session of its own in this process, which shares the ceremony's user login (PKCS#11 login state is per application).
      const counted = async () => {
        const { session } = await real.openSession({ uri: 'pkcs11:token=rk-b' }, { readWrite: false });
        try {
          return (await real.findAll(session, { label: 'aes-4' })).length;
        } finally {
          await real.closeSession(session);
        }
      };
      expect(await counted()).toBe(0);
      faulty.arm(undefined);
      await run('unwrap', shares);
      expect(await counted()).toBe(1);
      expect(view.currentStepId).toBe('sign-off');
      await run('sign-off', [{ witnesses: [{ name: 'wendy' }] }]);
      await run('head', [{}]);
      await run('export', [{ destinationDir: room.dir('out') }]);
      await run('logout', [{}]);
      expect(view.status).toBe('completed');
      bundlesB.push(view.outputs.find((o) => o.kind === 'bundle')?.path as string);
      const entries = (await journalB()).filter((e) => e.ceremonyId === view.ceremonyId);
      expect(entries.filter((e) => e.kind === 'restored-object-destroyed').length).toBe(1);
      expect(unwrapResult(entries)[0]?.checkValue).toMatchObject(checkValues['aes-4'] as object);
    } finally {
      await service.close();
      await real.close();
    }
    expect(await keysLabelled('aes-4')).toBe(1);
  }, 240_000);

  it("rk-b's bundles verify from its genesis", async () => {
    const report = await verifyBundles(bundlesB);
    expect(report.checks.filter((c) => c.status === 'fail')).toEqual([]);
  });
});
