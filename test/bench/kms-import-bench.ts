// kms-import benchmark (issue 5): the kms-import ceremony end to end through the engine (real script, real
// share files, SoftHSM, SYMMETRIC_DEFAULT, RSA_AES_KEY_WRAP_SHA_1) against the bare token work a minimal
// pkcs11js script does for the same result: login, generate AES-256, CMAC, create the RSA public key, an
// ephemeral AES key, AES-KWP wrap, RSA-OAEP wrap, write the files with fsync. Target: at most 1.5x.
// Both are measured in this run, interleaved, and the medians compared; init-token happens once, untimed.
import { constants, createPrivateKey, createPublicKey, privateDecrypt, randomBytes, scryptSync } from 'node:crypto';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pkcs11js from 'pkcs11js';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import { CeremonyService } from '../../src-main/ceremony/engine/service.js';
import { DEFAULT_SCRYPT } from '../../src-main/ceremony/quorum/share-file.js';
import { initTokenCommand } from '../../src-main/cli/init-token-command.js';
import { ARN, kmsLikeKey, type KmsLikeKey } from '../fixtures/kms/harness.js';
import { createSoftHsmEnv, initSoftHsmToken, SOFTHSM_MODULE } from '../helpers/softhsm.js';

const RUNS = 7;
const TARGET = 1.5;
/** Share files in the bench use the tests' scrypt cost; the production cost is a deliberate KDF delay, reported apart. */
const SCRYPT = { N: 2 ** 10, r: 8, p: 1 };
const PASS = { alice: 'alice passphrase 1', bob: 'bob passphrase 22', carol: 'carol passphrase 333' } as const;
const offline = () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() });
const BASE_PIN = 'bench-user-1234';

const CKM_AES_KEY_WRAP_PAD = 0x210a; // RFC 5649 on SoftHSM 2.6.1 (see FACTS.md)
const CKM_AES_CMAC = 0x108a;
const CKZ_DATA_SPECIFIED = 1;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

async function writeSynced(path: string, data: Uint8Array): Promise<void> {
  const f = await open(path, 'wx');
  try {
    await f.writeFile(data);
    await f.sync();
  } finally {
    await f.close();
  }
}

/** The bare token work, straight through pkcs11js: nothing the ceremony adds (transcript, checks, probes). */
function baselineOnce(lib: pkcs11js.PKCS11, slot: Buffer, kms: KmsLikeKey, n: number): { rsaPart: Buffer; files: [string, Uint8Array][] } {
  const session = lib.C_OpenSession(slot, pkcs11js.CKF_RW_SESSION | pkcs11js.CKF_SERIAL_SESSION);
  try {
    lib.C_Login(session, pkcs11js.CKU_USER, BASE_PIN);
    const key = lib.C_GenerateKey(session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
      { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_PRIVATE, value: true },
      { type: pkcs11js.CKA_SENSITIVE, value: true },
      { type: pkcs11js.CKA_EXTRACTABLE, value: true },
      { type: pkcs11js.CKA_SIGN, value: true },
      { type: pkcs11js.CKA_LABEL, value: `base-${n}` },
      { type: pkcs11js.CKA_ID, value: randomBytes(16) },
    ]);
    lib.C_SignInit(session, { mechanism: CKM_AES_CMAC }, key);
    const kcv = lib.C_Sign(session, Buffer.alloc(16), Buffer.alloc(16)).subarray(0, 3);
    const jwk = createPublicKey({ key: Buffer.from(kms.spki), format: 'der', type: 'spki' }).export({ format: 'jwk' });
    const rsa = lib.C_CreateObject(session, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_RSA },
      { type: pkcs11js.CKA_TOKEN, value: false },
      { type: pkcs11js.CKA_WRAP, value: true },
      { type: pkcs11js.CKA_MODULUS, value: Buffer.from(jwk.n as string, 'base64url') },
      { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: Buffer.from(jwk.e as string, 'base64url') },
    ]);
    const ephemeral = lib.C_GenerateKey(session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
      { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
      { type: pkcs11js.CKA_TOKEN, value: false },
      { type: pkcs11js.CKA_SENSITIVE, value: true },
      { type: pkcs11js.CKA_EXTRACTABLE, value: true },
      { type: pkcs11js.CKA_WRAP, value: true },
    ]);
    const aesPart = lib.C_WrapKey(session, { mechanism: CKM_AES_KEY_WRAP_PAD }, ephemeral, key, Buffer.alloc(64));
    const oaep = { mechanism: pkcs11js.CKM_RSA_PKCS_OAEP, parameter: { type: pkcs11js.CK_PARAMS_RSA_OAEP, hashAlg: pkcs11js.CKM_SHA_1, mgf: pkcs11js.CKG_MGF1_SHA1, source: CKZ_DATA_SPECIFIED } };
    const rsaPart = lib.C_WrapKey(session, oaep as pkcs11js.Mechanism, rsa, ephemeral, Buffer.alloc(kms.bits / 8));
    lib.C_DestroyObject(session, ephemeral);
    lib.C_DestroyObject(session, rsa);
    lib.C_Logout(session);
    const files: [string, Uint8Array][] = [
      ['EncryptedKeyMaterial.bin', Buffer.concat([rsaPart, aesPart])],
      ['ImportToken.bin', Buffer.from(`import-token-${n}`)],
      ['WrappingPublicKey.bin', kms.spki],
      ['import-manifest.json', Buffer.from(JSON.stringify({ keyArn: ARN, checkValue: kcv.toString('hex') }))],
    ];
    return { rsaPart, files };
  } finally {
    lib.C_CloseSession(session);
  }
}

async function baseline(lib: pkcs11js.PKCS11, slot: Buffer, kms: KmsLikeKey, outDir: string, n: number): Promise<Buffer> {
  const { rsaPart, files } = baselineOnce(lib, slot, kms, n);
  const dir = join(outDir, `base-${n}`);
  await mkdir(dir);
  for (const [name, data] of files) await writeSynced(join(dir, name), data);
  const d = await open(dir, 'r');
  await d.sync();
  await d.close();
  return rsaPart;
}

/** Where the ceremony's time goes, per step (start included), over the timed runs. */
const perStep = new Map<string, number[]>();

async function ceremony(layer: Pkcs11TokenLayer, o: { dataDir: string; work: string; slotId: string; params: string; n: number }): Promise<void> {
  const lap = (() => {
    let t = performance.now();
    return (step: string) => {
      const now = performance.now();
      if (o.n > 0) perStep.set(step, [...(perStep.get(step) ?? []), now - t]);
      t = now;
    };
  })();
  const service = new CeremonyService({ layer, dataDir: o.dataDir, scriptsDir: resolve('ceremonies'), airGap: offline, appVersion: 'bench', scrypt: SCRYPT });
  try {
    let view = await service.start({ script: 'kms-import', parameters: { keySpec: 'SYMMETRIC_DEFAULT', keyLabel: `bench-${o.n}`, wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_1' } });
    const id = view.ceremonyId;
    lap('(start)');
    const share = (c: keyof typeof PASS) => ({ shareFile: join(o.work, 'usb', `${c}.share`), passphrase: PASS[c] });
    const inputs: Record<string, Record<string, unknown>[]> = {
      participants: [{ administrator: 'admin', witnesses: ['wendy'] }],
      token: [{ moduleId: SOFTHSM_MODULE, slotId: o.slotId }],
      parameters: [{ path: o.params, wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_1' }],
      login: [share('alice'), share('bob')],
      generate: [{ confirm: 'GENERATE' }],
      'export-key': [{ destinationDir: join(o.work, 'stick') }],
      'sign-off': [{ witnesses: [{ name: 'wendy' }] }],
      export: [{ destinationDir: join(o.work, 'out') }],
    };
    while (view.status === 'running' && view.currentStepId) {
      const s = view.currentStepId;
      for (const input of inputs[s] ?? [{}]) view = (await service.perform(id, s, input)).view;
      lap(s);
    }
    if (view.status !== 'completed') throw new Error(`the ceremony ended ${view.status}`);
  } finally {
    await service.close();
  }
}

export async function main(): Promise<void> {
  const env = createSoftHsmEnv();
  const work = await mkdtemp(join(tmpdir(), 'kc-bench-kms-'));
  let layer: Pkcs11TokenLayer | undefined;
  let lib: pkcs11js.PKCS11 | undefined;
  try {
    for (const d of ['usb', 'out', 'secrets', 'data', 'stick', 'base']) await mkdir(join(work, d));
    for (const [name, p] of Object.entries(PASS)) await writeFile(join(work, 'secrets', name), p);
    const sink = { write: (_: string) => true };
    const dataDir = join(work, 'data');
    // Untimed: init-token once (it finalizes its module), then the baseline's own token, before this process loads the module.
    const code = await initTokenCommand(
      [
        '--module', SOFTHSM_MODULE, '--slot', '0', '--token-label', 'bench-ceremony', '--custodians', 'alice,bob,carol', '--threshold', '2',
        '--shares-out', join(work, 'usb'), '--out', join(work, 'out'), '--witness', 'wendy', '--data-dir', dataDir,
        ...Object.keys(PASS).flatMap((c) => ['--passphrase-file', `${c}=${join(work, 'secrets', c)}`]),
      ],
      { stdout: sink, stderr: { write: (t: string) => (process.stderr.write(t), true) } },
      { scrypt: SCRYPT, airGap: offline },
    );
    if (code !== 0) throw new Error(`init-token exited ${code}`);
    initSoftHsmToken('bench-baseline', 'bench-so-1234', BASE_PIN);

    layer = new Pkcs11TokenLayer();
    await layer.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
    const slotId = (await layer.listSlots(SOFTHSM_MODULE)).find((s) => s.token?.label.trim() === 'bench-ceremony')?.slotId;
    if (!slotId) throw new Error('the ceremony token is missing');
    // The same module, a second pkcs11js handle: C_Initialize answers "already initialized", which is fine;
    // only the layer finalizes, at the very end.
    lib = new pkcs11js.PKCS11();
    lib.load(SOFTHSM_MODULE);
    try {
      lib.C_Initialize();
    } catch (e) {
      if (!String((e as Error).message).includes('CKR_CRYPTOKI_ALREADY_INITIALIZED')) throw e;
    }
    const baseSlot = lib.C_GetSlotList(true).find((s) => lib!.C_GetTokenInfo(s).label.trim() === 'bench-baseline');
    if (!baseSlot) throw new Error('the baseline token is missing');

    const kms = kmsLikeKey(2048);
    const params = join(work, 'stick', 'params.json');
    await writeFile(params, JSON.stringify({ KeyId: ARN, ImportToken: Buffer.from('import-token-bench').toString('base64'), PublicKey: Buffer.from(kms.spki).toString('base64'), ParametersValidTo: new Date(Date.now() + 20 * 3600_000).toISOString() }));

    // Warm-up (module caches, JIT), and a check that the baseline really wrapped a fresh AES-256 key.
    const rsaPart = await baseline(lib, baseSlot, kms, join(work, 'base'), 0);
    const aesKey = privateDecrypt({ key: createPrivateKey(kms.privatePem), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, rsaPart);
    if (aesKey.length !== 32) throw new Error(`the baseline's RSA part holds ${aesKey.length} bytes, not an AES-256 key`);
    await ceremony(layer, { dataDir, work, slotId, params, n: 0 });

    const base: number[] = [];
    const full: number[] = [];
    for (let n = 1; n <= RUNS; n += 1) {
      let t = performance.now();
      await baseline(lib, baseSlot, kms, join(work, 'base'), n);
      base.push(performance.now() - t);
      t = performance.now();
      await ceremony(layer, { dataDir, work, slotId, params, n });
      full.push(performance.now() - t);
    }
    const scryptMs = (() => {
      const t = performance.now();
      scryptSync('passphrase', randomBytes(16), 32, { ...DEFAULT_SCRYPT, maxmem: 256 * 1024 * 1024 });
      return performance.now() - t;
    })();
    const ratio = median(full) / median(base);
    console.log('kms-import ceremony (SoftHSM, AES-256, RSA_AES_KEY_WRAP_SHA_1), median of %d interleaved runs:', RUNS);
    console.log(`  bare token work (pkcs11js script):  ${fmt(median(base))}`);
    console.log(`  the ceremony through the engine:    ${fmt(median(full))}`);
    console.log(`  ratio: ${ratio.toFixed(2)}x (target <= ${TARGET}x): ${ratio <= TARGET ? 'MET' : 'NOT MET'}`);
    const steps = [...perStep.entries()].map(([step, xs]) => [step, median(xs)] as const).sort((a, b) => b[1] - a[1]);
    console.log(`  ceremony steps (median): ${steps.map(([step, ms]) => `${step} ${fmt(ms)}`).join(', ')}`);
    console.log(`  (share files at scrypt N=2^10; at the production cost N=2^17 each share opened adds about ${fmt(scryptMs)}, by design)`);
  } finally {
    await layer?.close();
    await rm(work, { recursive: true, force: true });
    env.cleanup();
  }
}
