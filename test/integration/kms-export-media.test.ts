// The kms-import export step against REAL media failures (issue 5: "A full disk, read-only media or a stick
// pulled out mid-write gives a clear error; the export is recorded only after the read-back check and can
// be retried"). kms-import runs through the engine on SoftHSM (init-token first, as in
// ceremony-kms-import.test.ts) up to export-key; the "stick" there is a tmpfs mounted for the test:
//
//   - full: a tmpfs already filled to the last page, and one of 8 KiB (two pages: the bundle's third file
//     does not fit) -> ENOSPC, "The stick is full"; nothing is left on the stick; space freed, same stick ok;
//   - read-only: a tmpfs remounted `-o remount,ro` -> EROFS; remounted rw (the write-protect switch), ok;
//   - pulled out mid-write: the tmpfs is lazily unmounted (`umount -l`) right after EncryptedKeyMaterial.bin
//     was written, fsynced and read back, before ImportToken.bin. The code has no seam for this, so the
//     test wraps writeNewFileVerified (vi.mock, the real function still does every write) with a hook that
//     runs the umount at exactly that point: deterministic, and the writes really go to the tmpfs. After
//     the umount, paths under the mount point resolve to the empty directory beneath, so the next file
//     fails with ENOENT; what the detached stick holds is read through a directory fd opened beforehand
//     (/proc/self/fd/N), and copied into a fresh tmpfs at the same path as the stick "re-inserted";
//   - the folder gone before the step (stick unmounted and its mount point removed) -> ENOENT.
// Not covered: EIO. A yanked USB stick gives EIO from the block layer; this kernel has no device-mapper
// (no `error` target to switch to) and a loop device on a full backing store reports ENOSPC, not EIO.
// After every failure: no export-key `result` in the transcript (a `failure` entry with the message), no
// kms-import output; then a retry of the same step succeeds, the exported EncryptedKeyMaterial.bin unwraps
// independently (openssl) to the recorded check value, there is exactly one export-key `result`, and the
// transcript bundles verify. If this process may not mount (not root), every test is skipped with a warning.
import { execFileSync } from 'node:child_process';
import { constants, closeSync, openSync, readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import { CeremonyService } from '../../src-main/ceremony/engine/service.js';
import type { CeremonyView } from '../../src-main/ceremony/engine/types.js';
import type { KmsWrappingAlgorithm } from '../../src-main/kms/index.js';
import { sha256Hex } from '../../src-main/transcript/canonical.js';
import type { Entry } from '../../src-main/transcript/entry.js';
import { verifyBundles } from '../../src-main/transcript/verify.js';
import { ARN, checkRecovered, independentUnwrap, kmsLikeKey, type KmsLikeKey } from '../fixtures/kms/harness.js';
import { createSoftHsmEnv, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';
import { runInitToken } from '../helpers/init-token-engine.js';
import { probeTmpfsMount } from '../helpers/tmpfs-probe.js';

// The seam for "pulled out between two files": called after each verified file write, the real one.
const seam = vi.hoisted(() => ({ afterFile: undefined as ((path: string) => void) | undefined }));
vi.mock('../../src-main/transcript/fs-durable.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src-main/transcript/fs-durable.js')>();
  return {
    ...real,
    writeNewFileVerified: async (path: string, data: Uint8Array, mode?: number) => {
      const digest = await real.writeNewFileVerified(path, data, mode);
      seam.afterFile?.(path);
      return digest;
    },
  };
});

/** Can this process mount? Probed once with a real tmpfs; the reason is printed when not. */
const media = probeTmpfsMount();
if (!media.ok) console.warn(`kms-export-media: SKIPPED, this process cannot mount a tmpfs (${media.reason}); these tests need root (or CAP_SYS_ADMIN).`);

const SCRYPT = { N: 2 ** 10, r: 8, p: 1 };
const PASS = { alice: 'alice passphrase 1', bob: 'bob passphrase 22', carol: 'carol passphrase 333' } as const;
const offline = () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() });
const LABEL = 'kms-media-token';
const REMEDY = {
  ENOSPC: 'The stick is full: free space or use another stick, then export again.',
  EROFS: 'The stick is read-only: unlock it (write-protect switch) or use another stick, then export again.',
  ENOENT: 'The folder disappeared (stick removed?): re-insert it, then export again.',
};

let env: SoftHsmEnv | undefined;
let layer: Pkcs11TokenLayer | undefined;
let work: string;
let dataDir: string;
let sharesDir: string;
let enrolmentId: string;
let slotId: string;
let kms: KmsLikeKey;
const bundles: string[] = [];
/** Every tmpfs this file mounted, unmounted in afterAll whatever happened. */
const mounted = new Set<string>();

function isMounted(dir: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[4] === dir);
}

async function mountStick(dir: string, options = 'size=1m'): Promise<string> {
  await mkdir(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `${options},mode=0755`, 'tmpfs', dir], { stdio: 'pipe' });
  mounted.add(dir);
  return dir;
}

function unmount(dir: string, lazy = false): void {
  execFileSync('umount', lazy ? ['-l', dir] : [dir], { stdio: 'pipe' });
  mounted.delete(dir);
}

function usedBytes(dir: string): number {
  return Number(execFileSync('df', ['-B1', '--output=used', dir], { encoding: 'utf8' }).trim().split('\n')[1]);
}

const share = (c: keyof typeof PASS) => ({ shareFile: join(sharesDir, `${c}.share`), passphrase: PASS[c] });
const newService = (dir: string) => new CeremonyService({ layer: layer!, dataDir: dir, scriptsDir: resolve('ceremonies'), airGap: offline, appVersion: '0.1.0-test', scrypt: SCRYPT });

async function paramsFile(name: string): Promise<string> {
  const path = join(work, 'in', `${name}.json`);
  const body = { KeyId: ARN, ImportToken: Buffer.from(`import-token-${name}`).toString('base64'), PublicKey: Buffer.from(kms.spki).toString('base64'), ParametersValidTo: new Date(Date.now() + 20 * 3600_000).toISOString() };
  await writeFile(path, JSON.stringify(body, null, 2));
  return path;
}

interface Run {
  service: CeremonyService;
  id: string;
  view: CeremonyView;
  algorithm: KmsWrappingAlgorithm;
}

const inputsFor = (params: string, algorithm: KmsWrappingAlgorithm): Record<string, Record<string, unknown>[]> => ({
  participants: [{ administrator: 'admin', witnesses: ['wendy'] }],
  airgap: [{}],
  token: [{ moduleId: SOFTHSM_MODULE, slotId }],
  parameters: [{ path: params, wrappingAlgorithm: algorithm }],
  login: [share('alice'), share('bob')],
  generate: [{ confirm: 'GENERATE' }],
  wrap: [{}],
  'sign-off': [{ witnesses: [{ name: 'wendy' }] }],
  head: [{}],
  export: [{ destinationDir: join(work, 'out') }],
  logout: [{}],
});

/** Drive the ceremony from its current step until `until` (or the end); export-key is never driven here. */
async function drive(run: Run, params: string, until?: string): Promise<void> {
  const inputs = inputsFor(params, run.algorithm);
  while (run.view.status === 'running' && run.view.currentStepId && run.view.currentStepId !== until) {
    const s = run.view.currentStepId;
    const list = inputs[s];
    if (!list) throw new Error(`no input for step ${s}`);
    for (const input of list) run.view = (await run.service.perform(run.id, s, input)).view;
    if (run.view.currentStepId === s) throw new Error(`step ${s} did not advance: ${JSON.stringify(run.view.lastError)}`);
  }
}

async function startToExport(label: string, algorithm: KmsWrappingAlgorithm): Promise<Run & { params: string }> {
  const service = newService(dataDir);
  const view = await service.start({ script: 'kms-import', parameters: { keySpec: 'SYMMETRIC_DEFAULT', keyLabel: label, wrappingAlgorithm: algorithm } });
  const run = { service, id: view.ceremonyId, view, algorithm, params: await paramsFile(label) };
  await drive(run, run.params, 'export-key');
  expect(run.view.currentStepId).toBe('export-key');
  return run;
}

/** export-key expected to fail: the error as the caller sees it. */
async function exportFails(run: Run, destinationDir: string): Promise<{ message: string; remedy?: string; code?: string }> {
  const error = await run.service.perform(run.id, 'export-key', { destinationDir }).then(
    () => undefined,
    (e: Error & { remedy?: string; code?: string }) => e,
  );
  expect(error, 'export-key should have failed').toBeDefined();
  run.view = run.service.view(run.id);
  expect(run.view.currentStepId).toBe('export-key');
  expect(run.view.lastError?.message).toBe(error!.message);
  expect(run.view.outputs.filter((o) => o.kind === 'kms-import')).toEqual([]);
  return error!;
}

async function chainEntries(): Promise<Entry[]> {
  const text = await readFile(join(dataDir, 'chains', enrolmentId, 'journal.jsonl'), 'utf8');
  return text.trim().split('\n').map((l) => JSON.parse(l) as Entry);
}

async function exportKeyEntries(run: Run): Promise<Entry[]> {
  return (await chainEntries()).filter((e) => e.ceremonyId === run.id && e.step === 'export-key');
}

/** After a failure: a failure entry with the message, and no result. */
async function expectRecordedFailure(run: Run, message: string, failures: number): Promise<void> {
  const entries = await exportKeyEntries(run);
  expect(entries.map((e) => e.kind)).toEqual(Array(failures).fill('failure'));
  expect((entries.at(-1)!.data as { error: { message: string } }).error.message).toBe(message);
}

/** The retry that works, then the rest of the ceremony: unwrap, one result, bundles verify. */
async function exportSucceedsAndVerifies(run: Run & { params: string }, destinationDir: string, failures: number): Promise<string> {
  run.view = (await run.service.perform(run.id, 'export-key', { destinationDir })).view;
  expect(run.view.lastError).toBeUndefined();
  expect(run.view.currentStepId).not.toBe('export-key');
  const out = run.view.outputs.find((o) => o.kind === 'kms-import')!;
  expect(out.path.startsWith(`${destinationDir}/`)).toBe(true);
  expect(out.path.endsWith('.partial')).toBe(false);
  expect((await readdir(out.path)).sort()).toEqual(['EncryptedKeyMaterial.bin', 'IMPORT.md', 'ImportToken.bin', 'WrappingPublicKey.bin', 'import-manifest.json']);
  const entries = await exportKeyEntries(run);
  expect(entries.map((e) => e.kind)).toEqual([...Array(failures).fill('failure'), 'result']);
  // What was recorded is what is on the stick, read back.
  const result = entries.at(-1)!.data as { path: string; files: { name: string; sha256: string }[]; checkValue: { value: string; method: string } };
  expect(result.path).toBe(out.path);
  for (const f of result.files) expect(sha256Hex(new Uint8Array(await readFile(join(out.path, f.name)))), f.name).toBe(f.sha256);
  // Independent unwrap (openssl, python cryptography) to the check value the token computed at generate.
  const generated = (await chainEntries()).find((e) => e.ceremonyId === run.id && e.step === 'generate' && e.kind === 'result')!.data as { checkValue: { value: string; method: string } };
  expect(result.checkValue).toEqual(generated.checkValue);
  const material = independentUnwrap(kms, run.algorithm, new Uint8Array(await readFile(join(out.path, 'EncryptedKeyMaterial.bin'))));
  checkRecovered('SYMMETRIC_DEFAULT', material, generated.checkValue as never);
  await drive(run, run.params);
  expect(run.view.status).toBe('completed');
  const all = (await chainEntries()).filter((e) => e.ceremonyId === run.id);
  expect(all.filter((e) => e.step === 'export-key' && e.kind === 'result')).toHaveLength(1);
  bundles.push(run.view.outputs.find((o) => o.kind === 'bundle')!.path);
  const report = await verifyBundles(bundles);
  expect(report.checks.filter((c) => c.status === 'fail')).toEqual([]);
  expect(report.checks.find((c) => c.id === 'approvals')?.status).toBe('pass');
  return out.path;
}

async function closeRun(run: Run | undefined): Promise<void> {
  if (!run) return;
  if (run.service.view(run.id).status === 'running') await run.service.abort(run.id, 'test failed before the end').catch(() => undefined);
  await run.service.close();
}

const bundleName = (run: Run, label: string) => `kms-import-${label}-${run.id}`.replace(/[^A-Za-z0-9._-]/g, '_');

beforeAll(async () => {
  if (!media.ok) return;
  env = createSoftHsmEnv();
  layer = new Pkcs11TokenLayer();
  await layer.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
  work = await mkdtemp(join(tmpdir(), 'kc-kms-media-'));
  dataDir = join(work, 'data');
  sharesDir = join(work, 'usb');
  for (const d of ['usb', 'out', 'in', 'good']) await mkdir(join(work, d));
  kms = kmsLikeKey(2048);
  const service = newService(dataDir);
  try {
    const blank = (await layer.listSlots(SOFTHSM_MODULE)).find((s) => s.token && !s.token.initialized);
    const view = await runInitToken(service, { tokenLabel: LABEL, custodians: { ...PASS }, threshold: 2, token: { moduleId: SOFTHSM_MODULE, slotId: blank!.slotId }, sharesDir, bundleDir: join(work, 'out') });
    enrolmentId = view.ceremonyId;
    expect(view.status).toBe('completed');
    bundles.push(view.outputs.find((o) => o.kind === 'bundle')!.path);
  } finally {
    await service.close();
  }
  slotId = (await layer.listSlots(SOFTHSM_MODULE)).find((s) => s.token?.label.trim() === LABEL)!.slotId;
});

afterAll(async () => {
  seam.afterFile = undefined;
  for (const dir of [...mounted].reverse()) {
    try {
      if (isMounted(dir)) unmount(dir, true);
    } catch (e) {
      console.warn(`kms-export-media: could not unmount ${dir}: ${(e as Error).message}`);
    }
  }
  await layer?.close();
  env?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('kms-import export-key on real media', () => {
  it.skipIf(!media.ok)('a full stick: "The stick is full", nothing left on it, no result recorded; freed, the same step succeeds', async () => {
    let run: (Run & { params: string }) | undefined;
    try {
      const label = 'full-stick';
      run = await startToExport(label, 'RSA_AES_KEY_WRAP_SHA_1');
      const name = bundleName(run, label);
      // Stick 1: full to the last byte before the step.
      const full = await mountStick(join(work, 'full'), 'size=64k');
      await writeFile(join(full, 'holiday-photos.bin'), Buffer.alloc(64 * 1024)).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOSPC') throw e;
      });
      const usedFull = usedBytes(full);
      const e1 = await exportFails(run, full);
      expect([e1.code, e1.message, e1.remedy]).toEqual(['KMS_EXPORT', `Writing ${join(full, `${name}.partial`, 'EncryptedKeyMaterial.bin')} failed (ENOSPC).`, REMEDY.ENOSPC]);
      expect(await readdir(full)).toEqual(['holiday-photos.bin']);
      expect(usedBytes(full)).toBe(usedFull);
      await expectRecordedFailure(run, e1.message, 1);
      // Stick 2: 8 KiB, two pages: EncryptedKeyMaterial.bin and ImportToken.bin fit, the third file does not.
      const small = await mountStick(join(work, 'small'), 'size=8k');
      const e2 = await exportFails(run, small);
      expect([e2.code, e2.message, e2.remedy]).toEqual(['KMS_EXPORT', `Writing ${join(small, `${name}.partial`, 'WrappingPublicKey.bin')} failed (ENOSPC).`, REMEDY.ENOSPC]);
      // The two files that were written, and their folder, are gone: nothing half-written looks complete.
      expect(await readdir(small)).toEqual([]);
      expect(usedBytes(small)).toBe(0);
      await expectRecordedFailure(run, e2.message, 2);
      // The remedy: free space on stick 1, export again to it.
      await rm(join(full, 'holiday-photos.bin'));
      const dir = await exportSucceedsAndVerifies(run, full, 2);
      expect(dir).toBe(join(full, name));
    } finally {
      await closeRun(run);
    }
  });

  it.skipIf(!media.ok)('a read-only stick: "The stick is read-only", nothing recorded; made writable, the same step succeeds', async () => {
    let run: (Run & { params: string }) | undefined;
    try {
      const label = 'ro-stick';
      run = await startToExport(label, 'RSAES_OAEP_SHA_1');
      const stick = await mountStick(join(work, 'ro'));
      await writeFile(join(stick, 'params-were-here.json'), '{}');
      execFileSync('mount', ['-o', 'remount,ro', stick], { stdio: 'pipe' });
      const e = await exportFails(run, stick);
      expect([e.code, e.message, e.remedy]).toEqual(['KMS_EXPORT', `Writing ${join(stick, `${bundleName(run, label)}.partial`)} failed (EROFS).`, REMEDY.EROFS]);
      expect(await readdir(stick)).toEqual(['params-were-here.json']);
      await expectRecordedFailure(run, e.message, 1);
      // The write-protect switch flipped back.
      execFileSync('mount', ['-o', 'remount,rw', stick], { stdio: 'pipe' });
      await exportSucceedsAndVerifies(run, stick, 1);
    } finally {
      await closeRun(run);
    }
  });

  it.skipIf(!media.ok)('a stick pulled out between two files: "The folder disappeared", only a .partial folder on it; re-inserted, the leftover is refused until deleted, then the step succeeds', async () => {
    let run: (Run & { params: string }) | undefined;
    let fd: number | undefined;
    try {
      const label = 'pulled-stick';
      run = await startToExport(label, 'RSAES_OAEP_SHA_1');
      const name = bundleName(run, label);
      const stick = await mountStick(join(work, 'pulled'));
      // A handle on the stick itself, to look at what it holds once it is no longer mounted here.
      fd = openSync(stick, constants.O_RDONLY | constants.O_DIRECTORY);
      const onStick = `/proc/self/fd/${fd}`;
      let pulledAfter: string | undefined;
      seam.afterFile = (path) => {
        if (path.startsWith(`${stick}/`) && basename(path) === 'EncryptedKeyMaterial.bin') {
          seam.afterFile = undefined;
          unmount(stick, true);
          pulledAfter = path;
        }
      };
      const e = await exportFails(run, stick);
      seam.afterFile = undefined;
      expect(pulledAfter).toBe(join(stick, `${name}.partial`, 'EncryptedKeyMaterial.bin'));
      expect(isMounted(stick)).toBe(false);
      expect([e.code, e.message, e.remedy]).toEqual(['KMS_EXPORT', `Writing ${join(stick, `${name}.partial`, 'ImportToken.bin')} failed (ENOENT).`, `The folder disappeared (stick removed?): re-insert it, delete ${name}.partial from it if it is there (it is incomplete), then export again.`]);
      await expectRecordedFailure(run, e.message, 1);
      // What the pulled stick holds: the bundle's first file, in a folder that says it is partial.
      expect(await readdir(onStick)).toEqual([`${name}.partial`]);
      expect(await readdir(join(onStick, `${name}.partial`))).toEqual(['EncryptedKeyMaterial.bin']);
      // Re-inserted (the same contents in a new tmpfs at the same place): the leftover is reported, not reused.
      await mountStick(stick);
      await cp(`${onStick}/`, stick, { recursive: true });
      closeSync(fd);
      fd = undefined;
      const again = await exportFails(run, stick);
      expect([again.message, again.remedy]).toEqual([`${join(stick, `${name}.partial`)} exists: an earlier export was interrupted.`, `Delete ${join(stick, `${name}.partial`)} (it is incomplete) and export again.`]);
      await expectRecordedFailure(run, again.message, 2);
      expect(await readdir(join(stick, `${name}.partial`))).toEqual(['EncryptedKeyMaterial.bin']);
      // The remedy, then the same step on the same stick.
      await rm(join(stick, `${name}.partial`), { recursive: true });
      await exportSucceedsAndVerifies(run, stick, 2);
      expect(await readdir(stick)).toEqual([name]);
    } finally {
      seam.afterFile = undefined;
      if (fd !== undefined) closeSync(fd);
      await closeRun(run);
    }
  });

  it.skipIf(!media.ok)('a stick gone before the step (unmounted, its folder removed): "The folder disappeared"; another stick works', async () => {
    let run: (Run & { params: string }) | undefined;
    try {
      const label = 'gone-stick';
      run = await startToExport(label, 'RSAES_OAEP_SHA_1');
      const stick = await mountStick(join(work, 'gone'));
      unmount(stick);
      await rm(stick, { recursive: true });
      const e = await exportFails(run, stick);
      expect([e.code, e.message, e.remedy]).toEqual(['KMS_EXPORT', `Writing ${join(stick, `${bundleName(run, label)}.partial`)} failed (ENOENT).`, REMEDY.ENOENT]);
      await expectRecordedFailure(run, e.message, 1);
      await exportSucceedsAndVerifies(run, join(work, 'good'), 1);
    } finally {
      await closeRun(run);
    }
  });
});
