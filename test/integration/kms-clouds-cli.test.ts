// One token-generated key to every cloud, from the command line on a fresh SoftHSM token: kms-import to
// Google Cloud KMS (an import job's JSON), then kms-rewrap of the same key to Azure Key Vault (a .byok
// file), HashiCorp Vault transit (ciphertext.b64) and AWS KMS. Each cloud's download is made here in that
// cloud's shape from RSA keys this test holds; every file is unwrapped by Python `cryptography` (RSA-OAEP
// with the cloud's hash, then RFC 5649), judged strictly (exact PKCS#8 via load_der_private_key, exact
// lengths) and compared with the check value the transcript recorded; IMPORT.md's command line is checked
// for the right flags and file names; the transcripts verify. Hostile parameters stop the ceremony at the
// parameters step, before anything is generated. SoftHSM does RSA-OAEP with SHA-1 only, so the SHA-256
// formats run on NSS softoken in kms-clouds-nss.test.ts.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createHash, createHmac, createPrivateKey, createPublicKey } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initTokenCommand } from '../../src-main/cli/init-token-command.js';
import { kmsImportCommand } from '../../src-main/cli/kms-import-command.js';
import { kmsRewrapCommand } from '../../src-main/cli/kms-rewrap-command.js';
import { verifyBundles } from '../../src-main/transcript/verify.js';
import { aesCmac } from '../helpers/aes-cmac.js';
import { AZURE_HSM_KID, AZURE_KID, GCP_JOB, azureKeyJson, gcpJobJson, rsaPair, vaultWrappingKeyJson, type RsaPair } from '../helpers/cloud-fixtures.js';
import { pythonUnwrap } from '../helpers/cloud-unwrap.js';
import { expectStrictPkcs8 } from '../helpers/strict-pkcs8.js';
import { createSoftHsmEnv, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';

const pass = { alice: 'alice passphrase 1', bob: 'bob passphrase 22', carol: 'carol passphrase 333' } as const;
const offline = () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() });
const ARN = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
let env: SoftHsmEnv;
let work: string;
let initBundle: string;
let n = 0;

function io() {
  const o = { stdout: '', stderr: '' };
  return { o, out: { stdout: { write: (t: string) => (o.stdout += t) }, stderr: { write: (t: string) => (o.stderr += t) } } };
}

async function stick(name: string, text: string): Promise<string> {
  const path = join(work, 'stick', `${(n += 1)}-${name}`);
  await writeFile(path, text);
  return path;
}

const common = (label: string, spec: string) => [
  '--module', SOFTHSM_MODULE, '--token', 'pkcs11:token=clouds-cli', '--key-spec', spec, '--key-label', label,
  '--out', join(work, 'kms-out'), '--bundle-out', join(work, 'out'), '--witness', 'wendy', '--data-dir', join(work, 'data'), '--json',
  ...(['alice', 'bob'] as const).flatMap((c) => ['--share', `${join(work, 'usb', `${c}.share`)}:${join(work, 'secrets', c)}`]),
];

interface Outcome {
  status: string;
  cloud: string;
  target: string;
  checkValue: { value: string; method: string };
  importBundle: { path: string; files: Record<string, { bytes: number; sha256: string }> };
  bundle: { path: string };
}

async function run(command: typeof kmsImportCommand, argv: string[]): Promise<Outcome> {
  const { o, out } = io();
  const code = await command(argv, out, { airGap: offline });
  // Warnings the room must hear (e.g. Vault's wrapping key belongs to one cluster) go to stderr; nothing else.
  expect(o.stderr.split('\n').filter((l) => l !== '' && !/^keyceremony kms-(import|rewrap): warning: /.test(l))).toEqual([]);
  expect(code).toBe(0);
  return JSON.parse(o.stdout) as Outcome;
}

async function manifestOf(r: Outcome): Promise<Record<string, unknown> & { checkValue: { value: string; method: string }; importCommand: string; files: Record<string, { sha256: string }> }> {
  const m = JSON.parse(await readFile(join(r.importBundle.path, 'import-manifest.json'), 'utf8'));
  // Every file's digest in the manifest is the file's.
  for (const [name, f] of Object.entries(m.files as Record<string, { sha256: string }>)) {
    expect(createHash('sha256').update(await readFile(join(r.importBundle.path, name))).digest('hex')).toBe(f.sha256);
  }
  return m;
}

/** The recovered P-384 private key (SoftHSM pads P-256's PKCS#8, so the exactness probe refuses it there) is exact PKCS#8 and its public key hashes to the recorded fingerprint. */
function expectSameKeyPair(material: Buffer, fingerprint: string): void {
  expectStrictPkcs8('ECC_NIST_P384', material);
  const spki = createPublicKey(createPrivateKey({ key: material, format: 'der', type: 'pkcs8' })).export({ format: 'der', type: 'spki' });
  expect(createHash('sha256').update(spki).digest('hex').toUpperCase()).toBe(fingerprint);
}

beforeAll(async () => {
  env = createSoftHsmEnv();
  work = await mkdtemp(join(tmpdir(), 'kc-clouds-cli-'));
  for (const d of ['usb', 'out', 'secrets', 'data', 'stick', 'kms-out']) await mkdir(join(work, d));
  for (const [name, p] of Object.entries(pass)) await writeFile(join(work, 'secrets', name), `${p}\n`);
  const { o, out } = io();
  const code = await initTokenCommand(
    [
      '--module', SOFTHSM_MODULE, '--slot', '0', '--token-label', 'clouds-cli', '--custodians', 'alice,bob,carol', '--threshold', '2',
      '--shares-out', join(work, 'usb'), '--out', join(work, 'out'), '--witness', 'wendy', '--data-dir', join(work, 'data'), '--json',
      ...Object.keys(pass).flatMap((c) => ['--passphrase-file', `${c}=${join(work, 'secrets', c)}`]),
    ],
    out,
    { scrypt: { N: 2 ** 10, r: 8, p: 1 }, airGap: offline },
  );
  expect(o.stderr).toBe('');
  expect(code).toBe(0);
  initBundle = (JSON.parse(o.stdout) as { bundle: { path: string } }).bundle.path;
});

afterAll(async () => {
  env?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('one key to every cloud', () => {
  const gcpKey = rsaPair(3072);
  const azureKek = rsaPair(2048);
  const vaultKey = rsaPair(4096);
  const awsKey = rsaPair(3072);
  const transcripts: string[] = [];
  let first: Outcome;

  it('kms-import --cloud gcp: wrapped-key.bin unwraps to exact PKCS#8 of the key whose fingerprint was recorded; IMPORT.md has the gcloud line', async () => {
    const params = await stick('import-job.json', gcpJobJson(gcpKey));
    first = await run(kmsImportCommand, ['--cloud', 'gcp', '--params', params, '--target', 'signing', ...common('multi-cloud', 'EC_SIGN_P384_SHA384')]);
    transcripts.push(first.bundle.path);
    expect(first.cloud).toBe('gcp');
    expect(first.target).toBe('projects/acme-keys-prod/locations/europe-west1/keyRings/ceremony/cryptoKeys/signing');
    expect((await readdir(first.importBundle.path)).sort()).toEqual(['IMPORT.md', 'import-manifest.json', 'wrapped-key.bin']);
    const m = await manifestOf(first);
    expect(m).toMatchObject({ cloud: 'gcp', method: 'RSA_OAEP_3072_SHA1_AES_256', keySpec: 'ECC_NIST_P384', cloudKeyAlgorithm: 'EC_SIGN_P384_SHA384', checkValue: { method: 'SHA256-SPKI' } });
    const wrapped = await readFile(join(first.importBundle.path, 'wrapped-key.bin'));
    expectSameKeyPair(pythonUnwrap(gcpKey.privateKey, 'SHA1', wrapped), first.checkValue.value);
    const md = await readFile(join(first.importBundle.path, 'IMPORT.md'), 'utf8');
    const line = 'gcloud kms keys versions import --import-job job-2026-12 --location europe-west1 --keyring ceremony --key signing --algorithm ec-sign-p384-sha384 --wrapped-key-file wrapped-key.bin --project acme-keys-prod';
    expect(md).toContain(`\n${line}\n`);
    expect(m.importCommand).toBe(line);
    expect(md).toContain(`echo '${m.files['wrapped-key.bin']?.sha256}  wrapped-key.bin' | sha256sum -c`);
    expect(md).toContain(`# must print ${first.checkValue.value.toLowerCase()}`);
  });

  it('kms-rewrap --cloud azure: the .byok is the JSON Azure takes, its ciphertext the same key under SHA-1 CKM_RSA_AES_KEY_WRAP', async () => {
    const params = await stick('kek.json', azureKeyJson(azureKek));
    const r = await run(kmsRewrapCommand, ['--cloud', 'azure', '--params', params, '--target', 'signing-key', ...common('multi-cloud', 'EC-P-384')]);
    transcripts.push(r.bundle.path);
    expect(r.checkValue).toEqual(first.checkValue);
    expect((await readdir(r.importBundle.path)).sort()).toEqual(['IMPORT.md', 'import-manifest.json', 'multi-cloud.byok']);
    const text = await readFile(join(r.importBundle.path, 'multi-cloud.byok'), 'utf8');
    const byok = JSON.parse(text) as { schema_version: string; header: Record<string, string>; ciphertext: string; generator: string };
    expect(Object.keys(byok)).toEqual(['schema_version', 'header', 'ciphertext', 'generator']);
    expect(byok.schema_version).toBe('1.0.0');
    expect(byok.header).toEqual({ kid: AZURE_KID, alg: 'dir', enc: 'CKM_RSA_AES_KEY_WRAP' });
    expect(byok.ciphertext).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(byok.generator).toMatch(/^keyceremony \S+; SoftHSM.*serial/);
    expectSameKeyPair(pythonUnwrap(azureKek.privateKey, 'SHA1', Buffer.from(byok.ciphertext, 'base64url')), first.checkValue.value);
    const md = await readFile(join(r.importBundle.path, 'IMPORT.md'), 'utf8');
    expect(md).toContain('\naz keyvault key import --vault-name acme-byok --name signing-key --byok-file multi-cloud.byok --kty EC --curve P-384\n');
    expect((await manifestOf(r)).target).toBe('https://acme-byok.vault.azure.net/keys/signing-key');
  });

  it('kms-rewrap --cloud vault --hash-function SHA1: ciphertext.b64 is plain base64 of the same key', async () => {
    const params = await stick('wrapping_key.json', vaultWrappingKeyJson(vaultKey));
    const r = await run(kmsRewrapCommand, ['--cloud', 'vault', '--params', params, '--target', 'signing', '--hash-function', 'SHA1', ...common('multi-cloud', 'ECC_NIST_P384')]);
    transcripts.push(r.bundle.path);
    const b64 = await readFile(join(r.importBundle.path, 'ciphertext.b64'), 'utf8');
    expect(b64).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
    expectSameKeyPair(pythonUnwrap(vaultKey.privateKey, 'SHA1', Buffer.from(b64, 'base64')), first.checkValue.value);
    const md = await readFile(join(r.importBundle.path, 'IMPORT.md'), 'utf8');
    expect(md).toContain('\nvault write transit/keys/signing/import ciphertext=@ciphertext.b64 hash_function=SHA1 type=ecdsa-p384\n');
  });

  it('kms-rewrap --cloud aws: the same key for AWS KMS, and every transcript verifies', async () => {
    const params = await stick('params.json', JSON.stringify({ KeyId: ARN, ImportToken: Buffer.from('token').toString('base64'), PublicKey: awsKey.spki.toString('base64'), ParametersValidTo: Date.now() / 1000 + 20 * 3600 }));
    const r = await run(kmsRewrapCommand, ['--params', params, '--wrapping-algorithm', 'RSA_AES_KEY_WRAP_SHA_1', ...common('multi-cloud', 'ECC_NIST_P384')]);
    transcripts.push(r.bundle.path);
    expect(r.cloud).toBe('aws');
    expectSameKeyPair(pythonUnwrap(awsKey.privateKey, 'SHA1', await readFile(join(r.importBundle.path, 'EncryptedKeyMaterial.bin'))), first.checkValue.value);
    const report = await verifyBundles([initBundle, ...transcripts]);
    expect(report.checks.filter((c) => c.status === 'fail')).toEqual([]);
    // The transcript says where each export went: the parameters step's result names the cloud and the target.
    const lines = (await readFile(join(transcripts[1] as string, 'transcript.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { kind: string; data: Record<string, unknown> });
    const loaded = lines.filter((e) => e.kind === 'result' && e.data.action === 'load-import-parameters').at(-1);
    expect(loaded?.data).toMatchObject({ cloud: 'azure', target: 'https://acme-byok.vault.azure.net/keys/signing-key', targetDetails: { kekKid: AZURE_KID, algorithm: 'EC-P-384' } });
  });
});

describe('symmetric and HMAC keys', () => {
  it('AWS --import-type NEW_KEY_MATERIAL with a description: the import line carries them; IMPORT.md gives the rotation commands', async () => {
    const key = rsaPair(2048);
    const params = await stick('params.json', JSON.stringify({ KeyId: ARN, ImportToken: Buffer.from('token').toString('base64'), PublicKey: key.spki.toString('base64'), ParametersValidTo: Date.now() / 1000 + 20 * 3600 }));
    const r = await run(kmsImportCommand, ['--params', params, '--wrapping-algorithm', 'RSA_AES_KEY_WRAP_SHA_1', '--import-type', 'NEW_KEY_MATERIAL', '--key-material-description', 'rotation 2026-12', ...common('rotating', 'SYMMETRIC_DEFAULT')]);
    const material = pythonUnwrap(key.privateKey, 'SHA1', await readFile(join(r.importBundle.path, 'EncryptedKeyMaterial.bin')));
    expect(material.length).toBe(32);
    expect(aesCmac(material, Buffer.alloc(16)).subarray(0, 3).toString('hex').toUpperCase()).toBe(r.checkValue.value);
    const md = await readFile(join(r.importBundle.path, 'IMPORT.md'), 'utf8');
    expect(md).toContain(`--expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE --import-type NEW_KEY_MATERIAL --key-material-description 'rotation 2026-12'\n`);
    expect(md).toContain(`\naws kms rotate-key-on-demand --key-id ${ARN}\n`);
    expect(md).toContain(`\naws kms list-key-rotations --key-id ${ARN} --include-key-material ALL_KEY_MATERIAL\n`);
    expect(await manifestOf(r)).toMatchObject({ importType: 'NEW_KEY_MATERIAL', keyMaterialDescription: 'rotation 2026-12' });

    // The replica flow: the same material again with EXISTING_KEY_MATERIAL.
    const replica = 'arn:aws:kms:us-east-1:111122223333:key/mrk-0123456789abcdef0123456789abcdef';
    const p2 = await stick('replica.json', JSON.stringify({ KeyId: replica, ImportToken: Buffer.from('t2').toString('base64'), PublicKey: key.spki.toString('base64'), ParametersValidTo: Date.now() / 1000 + 20 * 3600 }));
    const again = await run(kmsRewrapCommand, ['--params', p2, '--wrapping-algorithm', 'RSA_AES_KEY_WRAP_SHA_1', '--import-type', 'EXISTING_KEY_MATERIAL', ...common('rotating', 'SYMMETRIC_DEFAULT')]);
    expect(pythonUnwrap(key.privateKey, 'SHA1', await readFile(join(again.importBundle.path, 'EncryptedKeyMaterial.bin'))).equals(material)).toBe(true);
    expect(await readFile(join(again.importBundle.path, 'IMPORT.md'), 'utf8')).toContain(`--import-type EXISTING_KEY_MATERIAL\n`);
  });

  it('an oct key into a Managed HSM (.byok, --kty oct --hsm-name) and HMAC into Vault, each exact bytes', async () => {
    const kek = rsaPair(3072);
    const r = await run(kmsImportCommand, ['--cloud', 'azure', '--params', await stick('kek.json', azureKeyJson(kek, {}, AZURE_HSM_KID)), '--target', 'data-key', ...common('oct-key', 'SYMMETRIC_DEFAULT')]);
    const byok = JSON.parse(await readFile(join(r.importBundle.path, 'oct-key.byok'), 'utf8')) as { ciphertext: string };
    const aes = pythonUnwrap(kek.privateKey, 'SHA1', Buffer.from(byok.ciphertext, 'base64url'));
    expect(aes.length).toBe(32);
    expect(aesCmac(aes, Buffer.alloc(16)).subarray(0, 3).toString('hex').toUpperCase()).toBe(r.checkValue.value);
    expect(await readFile(join(r.importBundle.path, 'IMPORT.md'), 'utf8')).toContain('\naz keyvault key import --hsm-name acme-mhsm --name data-key --byok-file oct-key.byok --kty oct\n');

    const v = rsaPair(4096);
    const h = await run(kmsImportCommand, ['--cloud', 'vault', '--params', await stick('wk.json', vaultWrappingKeyJson(v)), '--target', 'kms/keys/mac', '--hash-function', 'SHA1', ...common('mac-key', 'HMAC_384')]);
    const mac = pythonUnwrap(v.privateKey, 'SHA1', Buffer.from(await readFile(join(h.importBundle.path, 'ciphertext.b64'), 'utf8'), 'base64'));
    expect(mac.length).toBe(48);
    expect(createHmac('sha256', mac).update(Buffer.alloc(16)).digest().subarray(0, 3).toString('hex').toUpperCase()).toBe(h.checkValue.value);
    expect(await readFile(join(h.importBundle.path, 'IMPORT.md'), 'utf8')).toContain('\nvault write kms/keys/mac/import ciphertext=@ciphertext.b64 hash_function=SHA1 type=hmac\n');
  });
});

describe('hostile parameters stop at the parameters step', () => {
  async function refused(command: typeof kmsImportCommand, argv: string[]): Promise<string> {
    const before = await readdir(join(work, 'kms-out'));
    const { o, out } = io();
    const code = await command(argv, out, { airGap: offline });
    expect(o.stdout).toContain('"status": "aborted"');
    expect(code).toBe(1);
    // Nothing was written: the ceremony failed at the parameters step, before the login and any key.
    expect(await readdir(join(work, 'kms-out'))).toEqual(before);
    return o.stderr;
  }
  it.each([
    ['an expired Google import job', ['--cloud', 'gcp', '--target', 'k'], () => gcpJobJson(rsaPair(3072), { state: 'EXPIRED' }), 'import job projects/acme-keys-prod/locations/europe-west1/keyRings/ceremony/importJobs/job-2026-12 is EXPIRED'],
    ['a Google job whose key is not the method\'s size', ['--cloud', 'gcp', '--target', 'k'], () => gcpJobJson(rsaPair(3072), { importMethod: 'RSA_OAEP_4096_SHA1_AES_256' }), "is RSA-3072; Import method RSA_OAEP_4096_SHA1_AES_256's wrapping keys are RSA-4096"],
    ['a SHA-256 Google method SoftHSM cannot do', ['--cloud', 'gcp', '--target', 'k'], () => gcpJobJson(rsaPair(3072), { importMethod: 'RSA_OAEP_3072_SHA256_AES_256' }), 'RSA_OAEP_3072_SHA1_AES_256'],
    ['an Azure KEK that also wraps', ['--cloud', 'azure', '--target', 'k'], () => azureKeyJson(rsaPair(2048), { key: { keyOps: ['import', 'wrapKey'] } }), 'a BYOK KEK must allow import and nothing else'],
    ['an Azure kid without version', ['--cloud', 'azure', '--target', 'k'], () => azureKeyJson(rsaPair(2048), { key: { kid: 'https://acme-byok.vault.azure.net/keys/kek' } }), 'is not a Key Vault key id with a version'],
    ['a Vault key that is not RSA-4096', ['--cloud', 'vault', '--target', 'k', '--hash-function', 'SHA1'], () => vaultWrappingKeyJson(rsaPair(2048)), 'Vault transit wrapping keys are RSA-4096'],
    ['a P-256 key SoftHSM would pad (the exactness proof)', ['--cloud', 'azure', '--target', 'k'], () => azureKeyJson(rsaPair(2048)), 'Strict receivers (AWS KMS, Python cryptography, Go) reject such material, so nothing was generated'],
  ])('%s', async (_what, flags, text, message) => {
    const stderr = await refused(kmsImportCommand, ['--params', await stick('hostile', text()), ...flags, ...common(`hostile-${n}`, 'ECC_NIST_P256')]);
    expect(stderr).toContain('step parameters: ');
    expect(stderr).toContain(message);
  });
  it('refuses flags of another cloud and a spec the cloud does not take with exit 2', async () => {
    const params = await stick('job.json', gcpJobJson(rsaPair(3072)));
    for (const [argv, message] of [
      [['--cloud', 'gcp', '--params', params, '--target', 'k', '--kek-id', AZURE_KID, ...common('x', 'ECC_NIST_P256')], '--kek-id is for --cloud azure, not gcp.'],
      [['--cloud', 'gcp', '--params', params, '--target', 'k', ...common('x', 'ECC_NIST_P521')], '--key-spec "ECC_NIST_P521" is a key spec Google Cloud KMS cannot import.'],
      [['--cloud', 'gcp', '--params', params, ...common('x', 'ECC_NIST_P256')], '--target KEY is required for --cloud gcp'],
      [['--cloud', 'gcp', '--params', params, '--target', 'k', '--wrapping-algorithm', 'RSA_AES_KEY_WRAP_SHA_256', ...common('x', 'ECC_NIST_P256')], 'the gcp parameters ask for RSA_AES_KEY_WRAP_SHA_1'],
      [['--cloud', 'azure', '--params', params, '--target', 'k', ...common('x', 'HMAC_256')], 'is a key spec Azure Key Vault / Managed HSM cannot import'],
    ] as const) {
      const { o, out } = io();
      expect(await kmsImportCommand([...argv], out, { airGap: offline })).toBe(2);
      expect(o.stderr).toContain(message);
    }
  });
});
