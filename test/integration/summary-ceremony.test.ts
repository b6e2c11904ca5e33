// The sign-off summary on real entries: init-token then kms-import run through the ceremony service on a
// fresh SoftHSM token; the summary each view carries is compared with what the ceremony wrote (the import
// manifest, the share files and bundles on disk, hashed here) and with the material unwrapped by openssl.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import { CeremonyService } from '../../src-main/ceremony/engine/service.js';
import type { CeremonyView } from '../../src-main/ceremony/engine/types.js';
import { ceremonySummary } from '../../src-main/ceremony/summary.js';
import { ARN, independentUnwrap, kmsLikeKey } from '../fixtures/kms/harness.js';
import { aesCmac } from '../helpers/aes-cmac.js';
import { createSoftHsmEnv, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';
import { runInitToken } from '../helpers/init-token-engine.js';

const SCRYPT = { N: 2 ** 10, r: 8, p: 1 };
const PASS = { alice: 'alice passphrase 1', bob: 'bob passphrase 22', carol: 'carol passphrase 333' } as const;
const offline = () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() });
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

let env: SoftHsmEnv;
let layer: Pkcs11TokenLayer;
let work: string;
let service: CeremonyService;
let initView: CeremonyView;
let kmsView: CeremonyView;
let signOffView: CeremonyView;
let kms: ReturnType<typeof kmsLikeKey>;

const step = async (id: string, s: string, input: Record<string, unknown>) => (await service.perform(id, s, input)).view;
const share = (c: keyof typeof PASS) => ({ shareFile: join(work, 'usb', `${c}.share`), passphrase: PASS[c] });

beforeAll(async () => {
  env = createSoftHsmEnv();
  layer = new Pkcs11TokenLayer();
  await layer.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
  work = await mkdtemp(join(tmpdir(), 'kc-summary-'));
  for (const d of ['usb', 'out', 'stick']) await mkdir(join(work, d));
  service = new CeremonyService({ layer, dataDir: join(work, 'data'), scriptsDir: resolve('ceremonies'), airGap: offline, appVersion: '0.1.0-test', scrypt: SCRYPT });

  const blank = (await layer.listSlots(SOFTHSM_MODULE)).find((s) => s.token && !s.token.initialized);
  initView = await runInitToken(service, {
    tokenLabel: 'summary-token', custodians: { ...PASS }, threshold: 2, token: { moduleId: SOFTHSM_MODULE, slotId: blank!.slotId }, sharesDir: join(work, 'usb'), bundleDir: join(work, 'out'),
    administrator: 'erin', witnesses: [{ name: 'wendy' }, { name: 'walt', statement: 'No cable.' }], sealers: ['alice', 'carol'],
  });

  kms = kmsLikeKey(2048);
  const params = join(work, 'stick', 'params.json');
  await writeFile(params, JSON.stringify({ KeyId: ARN, ImportToken: Buffer.from('summary-token').toString('base64'), PublicKey: Buffer.from(kms.spki).toString('base64'), ParametersValidTo: new Date(Date.now() + 20 * 3600_000).toISOString() }));
  const view = await service.start({ script: 'kms-import', parameters: { keySpec: 'SYMMETRIC_DEFAULT', keyLabel: 'summary-aes', wrappingAlgorithm: 'RSAES_OAEP_SHA_1' } });
  const k = view.ceremonyId;
  const slotId = (await layer.listSlots(SOFTHSM_MODULE)).find((s) => s.token?.label.trim() === 'summary-token')!.slotId;
  await step(k, 'participants', { administrator: 'erin', witnesses: ['wendy'] });
  await step(k, 'airgap', {});
  await step(k, 'token', { moduleId: SOFTHSM_MODULE, slotId });
  await step(k, 'parameters', { path: params, wrappingAlgorithm: 'RSAES_OAEP_SHA_1' });
  await step(k, 'login', share('bob'));
  await step(k, 'login', share('carol'));
  await step(k, 'generate', { confirm: 'GENERATE' });
  await step(k, 'wrap', {});
  signOffView = await step(k, 'export-key', { destinationDir: join(work, 'stick') });
  await step(k, 'sign-off', { witnesses: [{ name: 'wendy' }] });
  await step(k, 'head', {});
  await step(k, 'export', { destinationDir: join(work, 'out') });
  kmsView = await step(k, 'logout', {});
}, 120_000);

afterAll(async () => {
  await service?.close();
  await layer?.close();
  env?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('ceremony summary from the transcript', () => {
  it('init-token: shares and bundle with the SHA-256 of the files on disk, approvers of the seal, witnesses, head', async () => {
    expect(initView.status).toBe('completed');
    const s = initView.summary!;
    expect(s).toMatchObject({ ceremonyId: initView.ceremonyId, rehearsal: false, administrator: 'erin', witnesses: ['wendy', 'walt'] });
    expect(s.token?.label).toBe('summary-token');
    expect(s.key).toBeUndefined();
    for (const c of ['alice', 'bob', 'carol']) {
      const f = s.files.find((x) => x.name === `${c}.share`)!;
      expect(f.sha256).toBe(sha256(await readFile(join(work, 'usb', `${c}.share`))));
    }
    const bundle = s.files.find((f) => f.kind === 'bundle')!;
    expect(bundle.name).toBe('manifest.json');
    expect(await readdir(join(work, 'out'))).toContain(basename(bundle.folder!));
    expect(bundle.sha256).toBe(sha256(await readFile(join(bundle.folder!, 'manifest.json'))));
    expect(s.approvals).toEqual([{ step: 'head', threshold: 2, custodians: ['alice', 'carol'] }]);
    expect(s.signedOff).toEqual([
      { witness: 'wendy', statement: 'I saw every step of this ceremony as recorded.' },
      { witness: 'walt', statement: 'No cable.' },
    ]);
    // The head is the ceremony's last entry ('completed'), and the seal names an earlier one.
    expect(s.head?.hash).toBe(initView.tail.at(-1)?.hash);
    expect(s.sealed!.seq).toBeLessThan(s.head!.seq!);
  });

  it('kms-import: key ARN, spec, algorithm and the check value that the unwrapped material gives', async () => {
    expect(kmsView.status).toBe('completed');
    const s = kmsView.summary!;
    const out = kmsView.outputs.find((o) => o.kind === 'kms-import')!;
    const manifest = JSON.parse(await readFile(join(out.path, 'import-manifest.json'), 'utf8')) as { checkValue: { value: string; method: string } };
    expect(s.key).toMatchObject({ arn: ARN, keySpec: 'SYMMETRIC_DEFAULT', label: 'summary-aes', wrappingAlgorithm: 'RSAES_OAEP_SHA_1', wrappingKeySpec: 'RSA_2048' });
    expect(s.key?.checkValue).toMatchObject(manifest.checkValue);
    const material = independentUnwrap(kms, 'RSAES_OAEP_SHA_1', new Uint8Array(await readFile(join(out.path, 'EncryptedKeyMaterial.bin'))));
    expect(material).toHaveLength(32);
    expect(s.key?.checkValue?.value).toBe(aesCmac(material, Buffer.alloc(16)).subarray(0, 3).toString('hex').toUpperCase());
    for (const name of ['EncryptedKeyMaterial.bin', 'ImportToken.bin', 'WrappingPublicKey.bin', 'IMPORT.md', 'import-manifest.json']) {
      const f = s.files.find((x) => x.kind === 'kms-import' && x.name === name)!;
      expect(f.folder).toBe(out.path);
      expect(f.sha256, name).toBe(sha256(await readFile(join(out.path, name))));
    }
    expect(s.approvals).toEqual([{ step: 'login', threshold: 2, custodians: ['bob', 'carol'] }]);
    expect(s.signedOff.map((w) => w.witness)).toEqual(['wendy']);
    expect(s.token?.label).toBe('summary-token');
  });

  it('at the sign-off step the summary already shows the key and the files the witnesses sign for', () => {
    expect(signOffView.currentStepId).toBe('sign-off');
    const s = signOffView.summary!;
    expect(s.key?.checkValue?.value).toMatch(/^[0-9A-F]{6}$/);
    expect(s.files.filter((f) => f.kind === 'kms-import')).toHaveLength(5);
    expect(s.head?.hash).toBe(signOffView.tail.at(-1)?.hash);
  });

  it('reads the same summary again from the data directory alone', async () => {
    expect(await ceremonySummary(join(work, 'data'), kmsView.ceremonyId)).toEqual(kmsView.summary);
  });
});
