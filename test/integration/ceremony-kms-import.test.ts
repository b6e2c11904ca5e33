// kms-import through the engine API on a fresh SoftHSM token that init-token enrolled (3 custodians,
// threshold 2): SYMMETRIC_DEFAULT wrapped with RSAES_OAEP_SHA_1 and RSA_AES_KEY_WRAP_SHA_1 from an
// `aws kms get-parameters-for-import --output json`-shaped file; the exported EncryptedKeyMaterial.bin is
// unwrapped independently (openssl, python cryptography) and matched with the check value in the transcript
// and the manifest; the transcript bundles verify with their approvals; one share alone opens nothing; a
// laptop whose transcript lacks the chain, is behind the token, or holds an unexplained entry is refused
// before any key is generated; SoftHSM asked for RSAES_OAEP_SHA_256 is refused with what it can do.
import { createCipheriv } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenError } from '../../hsm/errors.js';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import type { TokenLayer } from '../../hsm/token.js';
import { CeremonyService } from '../../src-main/ceremony/engine/service.js';
import type { CeremonyView } from '../../src-main/ceremony/engine/types.js';
import type { KmsKeySpec, KmsWrappingAlgorithm } from '../../src-main/kms/index.js';
import type { Entry } from '../../src-main/transcript/entry.js';
import { importBundles } from '../../src-main/transcript/import.js';
import { TranscriptStore } from '../../src-main/transcript/store.js';
import { verifyBundles } from '../../src-main/transcript/verify.js';
import { verifyApprovals } from '../../src-main/ceremony/verify-approvals.js';
import { ARN, checkRecovered, independentUnwrap, kmsLikeKey, type KmsLikeKey } from '../fixtures/kms/harness.js';
import { createSoftHsmEnv, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';
import { runInitToken } from '../helpers/init-token-engine.js';

const SCRYPT = { N: 2 ** 10, r: 8, p: 1 };
const PASS = { alice: 'alice passphrase 1', bob: 'bob passphrase 22', carol: 'carol passphrase 333' } as const;
const offline = () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() });
const LABEL = 'kms-token-A';

let env: SoftHsmEnv;
let layer: Pkcs11TokenLayer;
let work: string;
let dataDir: string;
let sharesDir: string;
let initBundle: string;
let enrolmentId: string;
let slotId: string;
let kms: KmsLikeKey;

const step = async (service: CeremonyService, id: string, s: string, input: Record<string, unknown>) => (await service.perform(id, s, input)).view;
const share = (c: keyof typeof PASS) => ({ shareFile: join(sharesDir, `${c}.share`), passphrase: PASS[c] });
const newService = (dir: string, tokens: TokenLayer = layer) => new CeremonyService({ layer: tokens, dataDir: dir, scriptsDir: resolve('ceremonies'), airGap: offline, appVersion: '0.1.0-test', scrypt: SCRYPT });

async function paramsFile(name: string, algorithm: KmsWrappingAlgorithm): Promise<string> {
  const path = join(work, 'stick', `${name}.json`);
  await writeFile(
    path,
    JSON.stringify(
      {
        KeyId: ARN,
        ImportToken: Buffer.from(`import-token-${name}-${algorithm}`).toString('base64'),
        PublicKey: Buffer.from(kms.spki).toString('base64'),
        ParametersValidTo: new Date(Date.now() + 20 * 3600_000).toISOString(),
      },
      null,
      2,
    ),
  );
  return path;
}

async function secretKeyCount(): Promise<number> {
  const { session } = await layer.openSession({ moduleId: SOFTHSM_MODULE, slotId }, { readWrite: false });
  try {
    return (await layer.findAll(session, { class: 'SECRET_KEY' })).length;
  } finally {
    await layer.closeSession(session);
  }
}

interface KmsRun {
  service: CeremonyService;
  id: string;
  view: CeremonyView;
}

/** Run kms-import up to (not including) step `until`, or to the end. */
async function runKmsImport(dir: string, o: { tokens?: TokenLayer; keySpec: KmsKeySpec; algorithm: KmsWrappingAlgorithm; label: string; params: string; until?: string; shares?: (keyof typeof PASS)[] }): Promise<KmsRun> {
  const service = newService(dir, o.tokens);
  let view = await service.start({ script: 'kms-import', parameters: { keySpec: o.keySpec, keyLabel: o.label, wrappingAlgorithm: o.algorithm } });
  const id = view.ceremonyId;
  const inputs: Record<string, () => Record<string, unknown>[]> = {
    participants: () => [{ administrator: 'admin', witnesses: ['wendy'] }],
    airgap: () => [{}],
    token: () => [{ moduleId: SOFTHSM_MODULE, slotId }],
    parameters: () => [{ path: o.params, wrappingAlgorithm: o.algorithm }],
    login: () => (o.shares ?? ['alice', 'bob']).map(share),
    generate: () => [{ confirm: 'GENERATE' }],
    wrap: () => [{}],
    'export-key': () => [{ destinationDir: join(work, 'stick') }],
    'sign-off': () => [{ witnesses: [{ name: 'wendy' }] }],
    head: () => [{}],
    export: () => [{ destinationDir: join(work, 'out') }],
    logout: () => [{}],
  };
  while (view.status === 'running' && view.currentStepId && view.currentStepId !== o.until) {
    const s = view.currentStepId;
    for (const input of (inputs[s] as () => Record<string, unknown>[])()) view = await step(service, id, s, input);
    if (view.currentStepId === s) break;
  }
  return { service, id, view };
}

function chainEntries(dir: string): Promise<Entry[]> {
  return readFile(join(dir, 'chains', enrolmentId, 'journal.jsonl'), 'utf8').then((t) => t.trim().split('\n').map((l) => JSON.parse(l) as Entry));
}

beforeAll(async () => {
  env = createSoftHsmEnv();
  layer = new Pkcs11TokenLayer();
  await layer.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
  work = await mkdtemp(join(tmpdir(), 'kc-kms-ceremony-'));
  dataDir = join(work, 'data');
  sharesDir = join(work, 'usb');
  for (const d of ['usb', 'out', 'stick']) await mkdir(join(work, d));
  kms = kmsLikeKey(2048);
  // init-token: 3 custodians, threshold 2.
  const service = newService(dataDir);
  try {
    const blank = (await layer.listSlots(SOFTHSM_MODULE)).find((s) => s.token && !s.token.initialized);
    const view = await runInitToken(service, { tokenLabel: LABEL, custodians: { ...PASS }, threshold: 2, token: { moduleId: SOFTHSM_MODULE, slotId: blank!.slotId }, sharesDir, bundleDir: join(work, 'out') });
    enrolmentId = view.ceremonyId;
    expect(view.status).toBe('completed');
    initBundle = view.outputs.find((o) => o.kind === 'bundle')!.path;
  } finally {
    await service.close();
  }
  slotId = (await layer.listSlots(SOFTHSM_MODULE)).find((s) => s.token?.label.trim() === LABEL)!.slotId;
  // A laptop that saw only init-token (used below: its transcript falls behind the token).
  await cp(dataDir, join(work, 'data-after-init'), { recursive: true });
});

afterAll(async () => {
  await layer?.close();
  env?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

const bundles: string[] = [];

describe('kms-import through the engine', () => {
  for (const algorithm of ['RSAES_OAEP_SHA_1', 'RSA_AES_KEY_WRAP_SHA_1'] as const) {
    it(`SYMMETRIC_DEFAULT with ${algorithm}: the exported material unwraps independently to the recorded check value`, async () => {
      const label = `aes-${algorithm}`;
      const run = await runKmsImport(dataDir, { keySpec: 'SYMMETRIC_DEFAULT', algorithm, label, params: await paramsFile(label, algorithm) });
      try {
        expect(run.view.lastError).toBeUndefined();
        expect(run.view.status).toBe('completed');
        const out = run.view.outputs.find((o) => o.kind === 'kms-import')!;
        const manifest = JSON.parse(await readFile(join(out.path, 'import-manifest.json'), 'utf8')) as { checkValue: { value: string; method: string }; ceremonyId: string; kmsKey: { keyArn: string }; wrappingAlgorithm: string; transcriptHead: string };
        expect(manifest).toMatchObject({ ceremonyId: run.id, kmsKey: { keyArn: ARN }, wrappingAlgorithm: algorithm });
        // The transcript: one chain, the kms-import entries after init-token's.
        const entries = await chainEntries(dataDir);
        const mine = entries.filter((e) => e.ceremonyId === run.id);
        const generated = mine.find((e) => e.step === 'generate' && e.kind === 'result')!.data as { checkValue: { value: string; method: string }; key: { attributes: Record<string, unknown> } };
        expect(generated.checkValue).toEqual(manifest.checkValue);
        expect(generated.key.attributes).toMatchObject({ CKA_LOCAL: true, CKA_SENSITIVE: true, CKA_EXTRACTABLE: true });
        expect(mine.map((e) => `${e.step}:${e.kind}`)).toEqual(expect.arrayContaining(['token:pre-chain', 'token:result', 'login:quorum-open', 'login:approval', 'login:intent', 'login:result', 'generate:intent', 'generate:result', 'wrap:intent', 'wrap:result', 'export-key:result', 'head:result', 'end:completed']));
        // `completed` is the ceremony's last chained entry, so its bundle holds all of them; the export and
        // the logout after it are in the local note (after-completed.jsonl), never in the chain.
        expect(mine.at(-1)?.kind).toBe('completed');
        expect(mine.some((e) => e.step === 'export' || e.step === 'logout')).toBe(false);
        // The exactness probe ran at the parameters step, before the login, and is recorded there.
        const params = mine.find((e) => e.step === 'parameters' && e.kind === 'result')!.data as { tokenCan: { exactExport: unknown } };
        expect(params.tokenCan.exactExport).toMatchObject({ ran: true, samples: [{ unwrapped: 32, exact: true }], conclusion: 'a throw-away SYMMETRIC_DEFAULT key unwrapped to exactly 32 bytes' });
        expect(generated).not.toHaveProperty('exactExport');
        const login = mine.find((e) => e.step === 'login' && e.kind === 'result')!.data as { chainHead: { status: string } };
        expect(login.chainHead.status).toBe('store-ahead');
        // Independent unwrap (openssl pkeyutl, python cryptography) and check value (node:crypto).
        const encrypted = new Uint8Array(await readFile(join(out.path, 'EncryptedKeyMaterial.bin')));
        const material = independentUnwrap(kms, algorithm, encrypted);
        checkRecovered('SYMMETRIC_DEFAULT', material, generated.checkValue as never);
        // The plaintext is nowhere in what the app wrote.
        for (const root of [dataDir, join(work, 'out'), join(work, 'stick')]) {
          for (const file of await listFiles(root)) {
            const bytes = await readFile(file);
            expect(bytes.includes(material), file).toBe(false);
            expect(bytes.includes(Buffer.from(material.toString('hex'))), file).toBe(false);
            expect(bytes.includes(Buffer.from(material.toString('base64'))), file).toBe(false);
          }
        }
        // The bundle verifies, approvals included, together with the init-token bundle (the enrolment).
        const bundle = run.view.outputs.find((o) => o.kind === 'bundle')!.path;
        bundles.push(bundle);
        const report = await verifyBundles([initBundle, ...bundles]);
        expect(report.checks.filter((c) => c.status === 'fail')).toEqual([]);
        expect(report.checks.find((c) => c.id === 'approvals')?.status).toBe('pass');
      } finally {
        await run.service.close();
      }
    });
  }

  it('ECC_NIST_P256 with RSA_AES_KEY_WRAP_SHA_1 is refused at the parameters step, before the login: SoftHSM pads the PKCS#8', async () => {
    const run = await runKmsImport(dataDir, { keySpec: 'ECC_NIST_P256', algorithm: 'RSA_AES_KEY_WRAP_SHA_1', label: 'p256', params: await paramsFile('p256', 'RSA_AES_KEY_WRAP_SHA_1'), until: 'parameters' });
    try {
      const error = await run.service.perform(run.id, 'parameters', { path: join(work, 'stick', 'p256.json'), wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_1' }).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(error?.message).toMatch(
        new RegExp(`^The token "${LABEL}" \\(slot ${slotId}, SoftHSM project SoftHSM v2\\) pads the PKCS#8 of a private key with zero bytes to a multiple of 8 before its RFC 5649 wrap \\(a throw-away key of this spec came back as 67 bytes of DER \\+ 5 zero bytes = 72\\)\\.`),
      );
      const view = run.service.view(run.id);
      expect(view.currentStepId).toBe('parameters');
      expect(view.lastError?.remedy).toMatch(/^Use a token that wraps private keys exactly \(for example NSS softoken, or a YubiHSM 2\)/);
      // Refused before the quorum login: no custodian was asked for a share, no key generation was attempted.
      expect(view.steps.find((st) => st.id === 'login')?.status).toBe('pending');
      expect(view.steps.find((st) => st.id === 'generate')?.status).toBe('pending');
      await run.service.abort(run.id, 'SoftHSM cannot export P-256 exactly');
    } finally {
      await run.service.close();
    }
  });

  it('ECC_SECG_P256K1 through the whole ceremony (its probes run before the login): exact, loaded by Python, matching the recorded check value', async () => {
    const run = await runKmsImport(dataDir, { keySpec: 'ECC_SECG_P256K1', algorithm: 'RSA_AES_KEY_WRAP_SHA_1', label: 'k1', params: await paramsFile('k1', 'RSA_AES_KEY_WRAP_SHA_1') });
    try {
      expect(run.view.lastError).toBeUndefined();
      expect(run.view.status).toBe('completed');
      const mine = (await chainEntries(dataDir)).filter((e) => e.ceremonyId === run.id);
      const params = mine.find((e) => e.step === 'parameters' && e.kind === 'result')!.data as { tokenCan: { generate: string; exactExport: unknown } };
      expect(params.tokenCan).toMatchObject({ generate: 'ECC_SECG_P256K1', exactExport: { ran: true, samples: [{ unwrapped: 64, derLength: 64, exact: true }] } });
      const generated = mine.find((e) => e.step === 'generate' && e.kind === 'result')!.data as { checkValue: { value: string; method: string }; key: { publicKeySpki: string } };
      const out = run.view.outputs.find((o) => o.kind === 'kms-import')!;
      const material = independentUnwrap(kms, 'RSA_AES_KEY_WRAP_SHA_1', new Uint8Array(await readFile(join(out.path, 'EncryptedKeyMaterial.bin'))));
      // checkRecovered judges it strictly (exact DER length, Python load_der_private_key) before comparing.
      checkRecovered('ECC_SECG_P256K1', material, generated.checkValue as never, Buffer.from(generated.key.publicKeySpki, 'base64'));
    } finally {
      await run.service.close();
    }
  });

  it('one share alone opens nothing (the same custodian twice counts once)', async () => {
    const before = await secretKeyCount();
    const run = await runKmsImport(dataDir, { keySpec: 'SYMMETRIC_DEFAULT', algorithm: 'RSAES_OAEP_SHA_1', label: 'one-share', params: await paramsFile('one-share', 'RSAES_OAEP_SHA_1'), shares: ['alice', 'alice'] });
    try {
      expect(run.view.currentStepId).toBe('login');
      expect(run.view.quorum).toMatchObject({ approved: ['alice'], remaining: 1 });
      await expect(run.service.perform(run.id, 'generate', { confirm: 'GENERATE' })).rejects.toThrow("step 'generate' cannot run yet: the current step is 'login'");
      expect(await secretKeyCount()).toBe(before);
      await run.service.abort(run.id, 'only one custodian came');
    } finally {
      await run.service.close();
    }
  });

  it('refuses RSAES_OAEP_SHA_256 on SoftHSM at the parameters step, listing what it can do', async () => {
    const run = await runKmsImport(dataDir, { keySpec: 'SYMMETRIC_DEFAULT', algorithm: 'RSAES_OAEP_SHA_256', label: 'sha256', params: await paramsFile('sha256', 'RSAES_OAEP_SHA_256'), until: 'parameters' });
    try {
      const error = await run.service.perform(run.id, 'parameters', { path: join(work, 'stick', 'sha256.json'), wrappingAlgorithm: 'RSAES_OAEP_SHA_256' }).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(error?.message).toMatch(/cannot wrap with RSAES_OAEP_SHA_256/);
      expect(error?.message).toMatch(/It can do: .*RSAES_OAEP_SHA_1/);
      expect(run.service.view(run.id).currentStepId).toBe('parameters');
      await run.service.abort(run.id, 'the token cannot do SHA-256');
    } finally {
      await run.service.close();
    }
  });

  it('refuses a laptop without the token chain at select-token', async () => {
    const empty = join(work, 'data-empty');
    await mkdir(empty);
    const service = newService(empty);
    try {
      const view = await service.start({ script: 'kms-import', parameters: { keySpec: 'SYMMETRIC_DEFAULT', keyLabel: 'nochain', wrappingAlgorithm: 'RSAES_OAEP_SHA_1' } });
      await step(service, view.ceremonyId, 'participants', { administrator: 'admin', witnesses: ['wendy'] });
      await step(service, view.ceremonyId, 'airgap', {});
      await expect(service.perform(view.ceremonyId, 'token', { moduleId: SOFTHSM_MODULE, slotId })).rejects.toThrow(`token '${LABEL}' (audit key SHA-256 `);
      expect(service.view(view.ceremonyId).lastError?.remedy).toMatch(/Import this token's transcript bundles/);
    } finally {
      await service.close();
    }
  });

  it('refuses a laptop whose transcript is behind the token, before generating', async () => {
    const behind = join(work, 'data-after-init');
    const before = await secretKeyCount();
    const run = await runKmsImport(behind, { keySpec: 'SYMMETRIC_DEFAULT', algorithm: 'RSAES_OAEP_SHA_1', label: 'behind', params: await paramsFile('behind', 'RSAES_OAEP_SHA_1'), until: 'login' });
    try {
      await step(run.service, run.id, 'login', share('alice'));
      const error = await run.service.perform(run.id, 'login', share('carol')).then(
        () => undefined,
        (e: Error & { remedy?: string }) => e,
      );
      expect(error?.message).toMatch(/do not agree \(store-behind\): The token's chain head is seq \d+ .* are missing here/);
      expect(error?.remedy).toMatch(/^Import the transcript bundles holding entries \d+-\d+/);
      expect(await secretKeyCount()).toBe(before);
      await run.service.abort(run.id, 'the transcript is behind the token');
    } finally {
      await run.service.close();
    }
    const entries = await chainEntries(behind);
    expect(entries.some((e) => e.step === 'login' && e.kind === 'failure' && JSON.stringify(e.data).includes('store-behind'))).toBe(true);
    expect(entries.some((e) => e.step === 'generate')).toBe(false);
  });

  it('a quorum login whose token operation failed is retried with a fresh quorum at the new head', async () => {
    // The real SoftHSM token, with C_Login failing once (a transient device error; the session survives).
    let failLogin = true;
    const flaky = new Proxy(layer, {
      get(target, name) {
        if (name === 'login' && failLogin) {
          return async () => {
            failLogin = false;
            throw new TokenError('CKR_FUNCTION_FAILED', 'The token could not complete the login.', 'Retry.');
          };
        }
        const value = Reflect.get(target, name) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const label = 'retried-login';
    const run = await runKmsImport(dataDir, { tokens: flaky, keySpec: 'SYMMETRIC_DEFAULT', algorithm: 'RSAES_OAEP_SHA_1', label, params: await paramsFile(label, 'RSAES_OAEP_SHA_1'), until: 'login' });
    try {
      await step(run.service, run.id, 'login', share('alice'));
      await expect(run.service.perform(run.id, 'login', share('bob'))).rejects.toThrow('The token could not complete the login.');
      // The approvals of the failed attempt are spent: the quorum starts again from nobody.
      expect(run.service.view(run.id).quorum).toMatchObject({ approved: [], remaining: 2 });
      await step(run.service, run.id, 'login', share('bob'));
      const view = await step(run.service, run.id, 'login', share('carol'));
      expect(view.lastError).toBeUndefined();
      expect(view.currentStepId).toBe('generate');
      await run.service.abort(run.id, 'test: stop after the retried login');
    } finally {
      await run.service.close();
    }
    const mine = (await chainEntries(dataDir)).filter((e) => e.ceremonyId === run.id && e.step === 'login');
    expect(mine.map((e) => e.kind)).toEqual(['quorum-open', 'approval', 'approval', 'intent', 'failure', 'quorum-open', 'approval', 'approval', 'intent', 'result']);
    // The second opening signs the head after the failure, and the verifier accepts the retried quorum.
    const [, second] = mine.filter((e) => e.kind === 'quorum-open');
    expect((second!.data as { headHash: string }).headHash).toBe(second!.prev);
    const report = verifyApprovals(await chainEntries(dataDir));
    expect(report.status, report.detail).toBe('pass');
    expect(report.steps.filter((s) => s.ceremonyId === run.id).map((s) => [s.approvers, s.acted])).toEqual([
      [['alice', 'bob'], true],
      [['bob', 'carol'], true],
    ]);
  });

  it('on a token without CKM_AES_CMAC, the check value is AES-ECB of a zero block, recorded as such, and matches the unwrapped material', async () => {
    // The real SoftHSM token, its mechanism list without CKM_AES_CMAC, as a token that lacks it would answer.
    const noCmac = new Proxy(layer, {
      get(target, name) {
        if (name === 'listMechanisms') return async (slot: Parameters<TokenLayer['listMechanisms']>[0]) => (await target.listMechanisms(slot)).filter((m) => m.name !== 'CKM_AES_CMAC');
        const value = Reflect.get(target, name) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const label = 'ecb-check-value';
    const run = await runKmsImport(dataDir, { tokens: noCmac, keySpec: 'SYMMETRIC_DEFAULT', algorithm: 'RSA_AES_KEY_WRAP_SHA_1', label, params: await paramsFile(label, 'RSA_AES_KEY_WRAP_SHA_1') });
    try {
      expect(run.view.lastError).toBeUndefined();
      expect(run.view.status).toBe('completed');
      const out = run.view.outputs.find((o) => o.kind === 'kms-import')!;
      const manifest = JSON.parse(await readFile(join(out.path, 'import-manifest.json'), 'utf8')) as { checkValue: { value: string; method: string } };
      const generated = (await chainEntries(dataDir)).find((e) => e.ceremonyId === run.id && e.step === 'generate' && e.kind === 'result')!.data as { checkValue: { value: string; method: string } };
      expect(generated.checkValue.method).toBe('AES-ECB-ZERO-BLOCK');
      expect(manifest.checkValue).toEqual(generated.checkValue);
      const material = independentUnwrap(kms, 'RSA_AES_KEY_WRAP_SHA_1', new Uint8Array(await readFile(join(out.path, 'EncryptedKeyMaterial.bin'))));
      expect(material).toHaveLength(32);
      const ecb = createCipheriv('aes-256-ecb', material, null).setAutoPadding(false).update(Buffer.alloc(16));
      expect(generated.checkValue.value).toBe(ecb.subarray(0, 3).toString('hex').toUpperCase());
    } finally {
      await run.service.close();
    }
  });

  it('refuses a local transcript holding an entry of a ceremony that never ended', async () => {
    const { store } = await TranscriptStore.open(join(dataDir, 'chains', enrolmentId));
    await store.append({ ceremonyId: 'forged-1', step: 'x', kind: 'note', actor: 'mallory', data: { note: 'not from any ceremony' } });
    await store.close();
    const before = await secretKeyCount();
    const run = await runKmsImport(dataDir, { keySpec: 'SYMMETRIC_DEFAULT', algorithm: 'RSAES_OAEP_SHA_1', label: 'forged', params: await paramsFile('forged', 'RSAES_OAEP_SHA_1'), until: 'login' });
    try {
      await step(run.service, run.id, 'login', share('bob'));
      await expect(run.service.perform(run.id, 'login', share('carol'))).rejects.toThrow(/store-ahead.*forged-1, which never ended/);
      expect(run.service.view(run.id).currentStepId).toBe('login');
      expect(await secretKeyCount()).toBe(before);
    } finally {
      await run.service.close();
    }
  });
});

async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of await readdir(root)) {
    const p = join(root, name);
    if ((await stat(p)).isDirectory()) out.push(...(await listFiles(p)));
    else out.push(p);
  }
  return out;
}

void importBundles;
