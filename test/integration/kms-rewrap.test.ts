// kms-rewrap through the engine on a fresh SoftHSM token enrolled by init-token (3 custodians, threshold 2):
// kms-import generates an AES-256 key; kms-rewrap re-exports it under a fresh wrapping key pair the test made
// (same key ARN), and again for another key ARN with another algorithm. Each EncryptedKeyMaterial.bin is
// unwrapped independently (openssl, python cryptography) and must equal the material of the first export
// and its recorded check value. A label no ceremony generated, a second key under a generated label, and a
// key replaced under that label are each refused at the find step, before any wrap, with both values said.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import { enrolmentFromEntries, quorumLogin } from '../../src-main/ceremony/actions/index.js';
import { CeremonyService } from '../../src-main/ceremony/engine/service.js';
import type { CeremonyView } from '../../src-main/ceremony/engine/types.js';
import { initTokenCommand } from '../../src-main/cli/init-token-command.js';
import { generateKmsKey, type CheckValue, type KmsWrappingAlgorithm } from '../../src-main/kms/index.js';
import type { Entry } from '../../src-main/transcript/entry.js';
import { verifyBundles } from '../../src-main/transcript/verify.js';
import { ARN, checkRecovered, independentUnwrap, kmsLikeKey, type KmsLikeKey } from '../fixtures/kms/harness.js';
import { createSoftHsmEnv, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';

const SCRYPT = { N: 2 ** 10, r: 8, p: 1 };
const PASS = { alice: 'alice passphrase 1', bob: 'bob passphrase 22', carol: 'carol passphrase 333' } as const;
const offline = () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() });
const TOKEN = 'rewrap-token';
const OTHER_ARN = 'arn:aws:kms:us-west-2:111122223333:key/mrk-1234567890abcdef1234567890abcdef';

let env: SoftHsmEnv;
let layer: Pkcs11TokenLayer;
let work: string;
let dataDir: string;
let slotId: string;
let chainDir: string;
let initBundle: string;

const share = (c: keyof typeof PASS) => ({ shareFile: join(work, 'usb', `${c}.share`), passphrase: PASS[c] });

async function paramsFile(name: string, kms: KmsLikeKey, arn = ARN): Promise<string> {
  const path = join(work, 'stick', `${name}.json`);
  await writeFile(path, JSON.stringify({ KeyId: arn, ImportToken: Buffer.from(`import-token-${name}`).toString('base64'), PublicKey: Buffer.from(kms.spki).toString('base64'), ParametersValidTo: new Date(Date.now() + 20 * 3600_000).toISOString() }));
  return path;
}

async function chainEntries(): Promise<Entry[]> {
  return (await readFile(join(chainDir, 'journal.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Entry);
}

interface Run {
  service: CeremonyService;
  id: string;
  view: CeremonyView;
  error?: Error & { code?: string; remedy?: string };
}

/** Run kms-import or kms-rewrap until it completes or a step throws (the error is returned, the ceremony left open). */
async function run(script: 'kms-import' | 'kms-rewrap', o: { label: string; algorithm: KmsWrappingAlgorithm; params: string }): Promise<Run> {
  const service = new CeremonyService({ layer, dataDir, scriptsDir: resolve('ceremonies'), airGap: offline, appVersion: '0.1.0-test', scrypt: SCRYPT });
  let view = await service.start({ script, parameters: { keySpec: 'SYMMETRIC_DEFAULT', keyLabel: o.label, wrappingAlgorithm: o.algorithm } });
  const id = view.ceremonyId;
  const inputs: Record<string, Record<string, unknown>[]> = {
    participants: [{ administrator: 'admin', witnesses: ['wendy'] }],
    token: [{ moduleId: SOFTHSM_MODULE, slotId }],
    parameters: [{ path: o.params, wrappingAlgorithm: o.algorithm }],
    login: [share('alice'), share('carol')],
    generate: [{ confirm: 'GENERATE' }],
    wrap: [script === 'kms-rewrap' ? { confirm: 'WRAP' } : {}],
    'export-key': [{ destinationDir: join(work, 'stick') }],
    'sign-off': [{ witnesses: [{ name: 'wendy' }] }],
    export: [{ destinationDir: join(work, 'out') }],
  };
  try {
    while (view.status === 'running' && view.currentStepId) {
      const s = view.currentStepId;
      for (const input of inputs[s] ?? [{}]) view = (await service.perform(id, s, input)).view;
    }
  } catch (error) {
    return { service, id, view: service.view(id), error: error as Run['error'] };
  }
  return { service, id, view };
}

async function exported(r: Run): Promise<{ dir: string; encrypted: Uint8Array; manifest: { checkValue: CheckValue; kmsKey: { keyArn: string }; wrappingAlgorithm: string; tokenKey: { label: string; id: string } } }> {
  const dir = r.view.outputs.find((o) => o.kind === 'kms-import')!.path;
  return { dir, encrypted: new Uint8Array(await readFile(join(dir, 'EncryptedKeyMaterial.bin'))), manifest: JSON.parse(await readFile(join(dir, 'import-manifest.json'), 'utf8')) };
}

/** Act on the token outside any ceremony, logged in with two shares (what an insider with shares could do). */
async function outsideCeremony(act: (session: string) => Promise<void>): Promise<void> {
  const recorded = enrolmentFromEntries(await chainEntries())!;
  const { session } = await layer.openSession({ moduleId: SOFTHSM_MODULE, slotId }, { readWrite: true });
  try {
    await quorumLogin(layer, session, recorded, [share('alice'), share('bob')]);
    await act(session);
  } finally {
    await layer.logout(session).catch(() => undefined);
    await layer.closeSession(session);
  }
}

beforeAll(async () => {
  env = createSoftHsmEnv();
  work = await mkdtemp(join(tmpdir(), 'kc-kms-rewrap-'));
  dataDir = join(work, 'data');
  for (const d of ['usb', 'out', 'secrets', 'data', 'stick']) await mkdir(join(work, d));
  for (const [name, p] of Object.entries(PASS)) await writeFile(join(work, 'secrets', name), p);
  const o = { stdout: '', stderr: '' };
  const out = { stdout: { write: (t: string) => (o.stdout += t) }, stderr: { write: (t: string) => (o.stderr += t) } };
  const code = await initTokenCommand(
    [
      '--module', SOFTHSM_MODULE, '--slot', '0', '--token-label', TOKEN, '--custodians', 'alice,bob,carol', '--threshold', '2',
      '--shares-out', join(work, 'usb'), '--out', join(work, 'out'), '--witness', 'wendy', '--data-dir', dataDir, '--json',
      ...Object.keys(PASS).flatMap((c) => ['--passphrase-file', `${c}=${join(work, 'secrets', c)}`]),
    ],
    out,
    { scrypt: SCRYPT, airGap: offline },
  );
  expect(o.stderr).toBe('');
  expect(code).toBe(0);
  const init = JSON.parse(o.stdout) as { ceremonyId: string; bundle: { path: string } };
  initBundle = init.bundle.path;
  chainDir = join(dataDir, 'chains', init.ceremonyId);
  // The CLI finalized its module on exit; this process's own layer starts after it.
  layer = new Pkcs11TokenLayer();
  await layer.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
  slotId = (await layer.listSlots(SOFTHSM_MODULE)).find((s) => s.token?.label.trim() === TOKEN)!.slotId;
});

afterAll(async () => {
  await layer?.close();
  env?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('kms-rewrap through the engine', () => {
  it('re-exports the same material under new parameters and for another key ARN; every bundle verifies', async () => {
    const kmsA = kmsLikeKey(2048);
    const first = await run('kms-import', { label: 'payments', algorithm: 'RSA_AES_KEY_WRAP_SHA_1', params: await paramsFile('import-a', kmsA) });
    await first.service.close();
    expect(first.error).toBeUndefined();
    expect(first.view.status).toBe('completed');
    const a = await exported(first);
    const material = independentUnwrap(kmsA, 'RSA_AES_KEY_WRAP_SHA_1', a.encrypted);
    checkRecovered('SYMMETRIC_DEFAULT', material, a.manifest.checkValue);

    const bundles = [first.view.outputs.find((o) => o.kind === 'bundle')!.path];
    const cases = [
      { name: 'new wrapping key pair, same key', kms: kmsLikeKey(2048), algorithm: 'RSA_AES_KEY_WRAP_SHA_1' as const, arn: ARN },
      { name: 'another key ARN', kms: kmsLikeKey(3072), algorithm: 'RSAES_OAEP_SHA_1' as const, arn: OTHER_ARN },
    ];
    for (const c of cases) {
      const r = await run('kms-rewrap', { label: 'payments', algorithm: c.algorithm, params: await paramsFile(`rewrap-${c.arn === ARN ? 'same' : 'other'}`, c.kms, c.arn) });
      await r.service.close();
      expect(r.error, c.name).toBeUndefined();
      expect(r.view.status, c.name).toBe('completed');
      const b = await exported(r);
      expect(b.manifest).toMatchObject({ kmsKey: { keyArn: c.arn }, wrappingAlgorithm: c.algorithm, checkValue: a.manifest.checkValue, tokenKey: a.manifest.tokenKey });
      // The new export is not the old one, yet the test's own private key unwraps it to the same material.
      expect(Buffer.from(b.encrypted).equals(Buffer.from(a.encrypted)), c.name).toBe(false);
      const again = independentUnwrap(c.kms, c.algorithm, b.encrypted);
      expect(again.equals(material), c.name).toBe(true);
      checkRecovered('SYMMETRIC_DEFAULT', again, b.manifest.checkValue);
      // The transcript records the generation it relied on and both check values.
      const mine = (await chainEntries()).filter((e) => e.ceremonyId === r.id);
      expect(mine.map((e) => `${e.step}:${e.kind}`)).toEqual(expect.arrayContaining(['find:intent', 'find:result', 'wrap:intent', 'wrap:result', 'export-key:result', 'end:completed']));
      expect(mine.some((e) => e.step === 'generate')).toBe(false);
      const found = mine.find((e) => e.step === 'find' && e.kind === 'result')!.data as { generation: { ceremonyId: string; ceremonyEnded: string }; checkValue: { recorded: { value: string }; now: { value: string }; matches: boolean } };
      expect(found.generation).toMatchObject({ ceremonyId: first.id, ceremonyEnded: 'completed' });
      expect(found.checkValue).toMatchObject({ recorded: { value: a.manifest.checkValue.value }, now: { value: a.manifest.checkValue.value }, matches: true });
      bundles.push(r.view.outputs.find((o) => o.kind === 'bundle')!.path);
    }
    const report = await verifyBundles([initBundle, ...bundles]);
    expect(report.checks.filter((c) => c.status === 'fail')).toEqual([]);
    expect(report.checks.find((c) => c.id === 'approvals')?.status).toBe('pass');
  });

  /** kms-rewrap of `label` must stop at the find step with `message`, having wrapped and written nothing. */
  async function expectRefusedAtFind(label: string, message: RegExp): Promise<void> {
    const before = await readdir(join(work, 'stick'));
    const kms = kmsLikeKey(2048);
    const r = await run('kms-rewrap', { label, algorithm: 'RSAES_OAEP_SHA_1', params: await paramsFile(`refused-${label}`, kms) });
    try {
      expect(r.error?.message).toMatch(message);
      expect(r.view.currentStepId).toBe('find');
      const mine = (await chainEntries()).filter((e) => e.ceremonyId === r.id);
      const failure = mine.find((e) => e.step === 'find' && e.kind === 'failure');
      expect((failure?.data as { error?: { message?: string } } | undefined)?.error?.message).toMatch(message);
      expect(mine.some((e) => e.step === 'wrap' || e.step === 'export-key')).toBe(false);
      await r.service.abort(r.id, 'refused at find');
    } finally {
      await r.service.close();
    }
    expect((await readdir(join(work, 'stick'))).filter((n) => !n.endsWith('.json'))).toEqual(before.filter((n) => !n.endsWith('.json')));
  }

  it('refuses a key no ceremony generated (no generation record), before wrapping', async () => {
    await outsideCeremony(async (session) => {
      await generateKmsKey(layer, session, 'SYMMETRIC_DEFAULT', 'stray');
    });
    await expectRefusedAtFind('stray', /step 'find': parameters\.keyLabel: this token's transcript records no key generated with the label 'stray'/);
  });

  it('refuses a second key under a generated label, and a key replaced under it, before wrapping', async () => {
    const kms = kmsLikeKey(2048);
    const imported = await run('kms-import', { label: 'orders', algorithm: 'RSAES_OAEP_SHA_1', params: await paramsFile('import-orders', kms) });
    await imported.service.close();
    expect(imported.view.status).toBe('completed');
    const recorded = (await exported(imported)).manifest.checkValue.value;
    let impostorKcv = '';
    await outsideCeremony(async (session) => {
      const impostor = await generateKmsKey(layer, session, 'SYMMETRIC_DEFAULT', 'orders');
      impostorKcv = Buffer.from(await layer.sign(session, { name: 'AES_CMAC' }, impostor.handle, new Uint8Array(16))).subarray(0, 3).toString('hex').toUpperCase();
    });
    await expectRefusedAtFind('orders', /label "orders": .*2 objects match .*expected exactly one/);
    // Now the original goes and only the impostor holds the label.
    await outsideCeremony(async (session) => {
      const both = await layer.findAll(session, { class: 'SECRET_KEY', label: 'orders' });
      for (const h of both) {
        const mac = Buffer.from(await layer.sign(session, { name: 'AES_CMAC' }, h, new Uint8Array(16))).subarray(0, 3).toString('hex').toUpperCase();
        if (mac === recorded) await layer.destroyObject(session, h);
      }
    });
    expect(impostorKcv).not.toBe(recorded);
    await expectRefusedAtFind('orders', new RegExp(`has check value ${impostorKcv} \\(AES-CMAC-ZERO-BLOCK\\), but ${recorded} \\(AES-CMAC-ZERO-BLOCK\\) was recorded at generation`));
  });
});
