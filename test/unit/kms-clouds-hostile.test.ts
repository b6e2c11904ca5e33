// Issue #15's clouds as a careless and a hostile user would try them, and as each receiver reads what we
// print: the commands in IMPORT.md split by a real shell (bash) into exactly the words meant, whatever the
// names hold; gcloud's own --algorithm spellings; file names from any key label; Vault's route rule for key
// names; Azure's `az keyvault key show` as azure-cli prints it; files saved by Windows tools; outputs never
// overwritten; and the CLI refusing a KEK.pem without --kek-id before any ceremony starts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { AppError } from '../../src-main/errors.js';
import { azureByokName, azureImportCommand, byokDocument } from '../../src-main/kms/clouds/azure-bundle.js';
import { vaultFiles } from '../../src-main/kms/clouds/vault-bundle.js';
import { gcloudAlgorithm, gcloudPurpose, gcpCreateKeyCommand, gcpImportCommand } from '../../src-main/kms/clouds/gcp-bundle.js';
import { vaultImportCommand } from '../../src-main/kms/clouds/vault-bundle.js';
import { checkLines, safeFileStem } from '../../src-main/kms/clouds/bundle-common.js';
import { awsImportTypeOptions } from '../../src-main/kms/clouds/aws-commands.js';
import { parseAwsImportOptions } from '../../src-main/kms/clouds/aws-import-type.js';
import { CLOUD_KEY_NAMES } from '../../src-main/kms/clouds/keyspecs.js';
import type { CloudTarget } from '../../src-main/kms/clouds/types.js';
import { exportImportBundle, importCommand, type ImportBundleInput } from '../../src-main/kms/export.js';
import { readCloudImportParameters, type CloudParamsOptions } from '../../src-main/kms/params/cloud.js';
import { KEY_LABEL, kmsImportArgs, kmsImportCommand } from '../../src-main/cli/kms-import-command.js';
import { UsageError } from '../../src-main/cli/args.js';
import { readFileSync } from 'node:fs';
import { resolveCloudKeySpec } from '../../src-main/kms/clouds/keyspecs.js';
import { AZURE_KID, azureKeyJson, gcpJobJson, rsaPair, vaultWrappingKeyJson } from '../helpers/cloud-fixtures.js';

const NOW = new Date('2026-12-07T00:00:00Z');
let dir: string;
let n = 0;
function file(content: string | Buffer): string {
  const p = join(dir, `f${(n += 1)}`);
  writeFileSync(p, content);
  return p;
}
// RSA-4096 generation takes seconds on a loaded machine: made once here, with room, not inside a test's 5 s.
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kc-clouds-hostile-'));
  rsaPair(4096);
  rsaPair(3072);
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function read(o: Partial<CloudParamsOptions> & Pick<CloudParamsOptions, 'cloud' | 'path'>) {
  return readCloudImportParameters({ wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_1', keySpec: 'RSA_2048', target: 'payments', now: () => NOW, ...o });
}
async function refused(o: Partial<CloudParamsOptions> & Pick<CloudParamsOptions, 'cloud' | 'path'>): Promise<AppError> {
  try {
    await read(o);
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    return e as AppError;
  }
  throw new Error('expected a refusal');
}

/**
 * The words bash makes of `command` (its program name swapped for printf), run in an empty folder: a
 * command substitution or `;` that escaped the quoting would leave a file named PWNED there.
 */
function shellWords(command: string, program: string): string[] {
  expect(command.startsWith(`${program} `)).toBe(true);
  const cwd = mkdtempSync(join(dir, 'sh-'));
  const out = execFileSync('bash', ['-c', `printf '%s\\0' ${command.slice(program.length + 1)}`], { cwd, encoding: 'utf8' });
  expect(readdirSync(cwd)).toEqual([]);
  return out.split('\0').slice(0, -1);
}

const EVIL = `a b;touch PWNED $(touch PWNED) \`touch PWNED\` 'q' "d" ~ *`;

describe('IMPORT.md commands: one shell word per value, whatever the value', () => {
  it('Azure: az keyvault key import with hostile vault, key and label', () => {
    const a: Extract<CloudTarget, { cloud: 'azure' }> = { cloud: 'azure', kekKid: AZURE_KID, vaultName: EVIL, managedHsm: false, keyName: '-rf', kty: 'EC', curve: 'P-384', algorithm: 'EC-P-384' };
    const cmd = azureImportCommand({ keyLabel: EVIL }, a);
    expect(shellWords(cmd, 'az keyvault key import')).toEqual(['--vault-name', EVIL, '--name=-rf', '--byok-file', azureByokName(EVIL), '--kty', 'EC', '--curve', 'P-384']);
  });
  it('Google: the import and create-key commands, a key id starting with a dash, gcloud spellings', () => {
    const g: Extract<CloudTarget, { cloud: 'gcp' }> = { cloud: 'gcp', importJob: `projects/p/locations/l/keyRings/r/importJobs/${EVIL}`, importMethod: 'RSA_OAEP_3072_SHA1_AES_256', project: 'p-1', location: 'l', keyRing: EVIL, cryptoKey: '-k', algorithm: 'EC_SIGN_P384_SHA384', protectionLevel: 'HSM' };
    expect(shellWords(gcpImportCommand(g), 'gcloud kms keys versions import')).toEqual(['--import-job', EVIL, '--location', 'l', '--keyring', EVIL, '--key=-k', '--algorithm', 'ec-sign-p384-sha384', '--wrapped-key-file', 'wrapped-key.bin', '--project', 'p-1']);
    expect(shellWords(gcpCreateKeyCommand(g), 'gcloud kms keys create')).toEqual([`projects/p-1/locations/l/keyRings/${EVIL}/cryptoKeys/-k`, '--purpose', 'asymmetric-signing', '--default-algorithm', 'ec-sign-p384-sha384', '--protection-level', 'hsm', '--skip-initial-version-creation', '--import-only']);
  });
  it('Vault: the path and key=value words', () => {
    const v: Extract<CloudTarget, { cloud: 'vault' }> = { cloud: 'vault', keyName: EVIL, mount: 'transit', hashFunction: 'SHA256', algorithm: 'ecdsa-p256' };
    expect(shellWords(vaultImportCommand(v), 'vault write')).toEqual([`transit/keys/${EVIL}/import`, 'ciphertext=@ciphertext.b64', 'hash_function=SHA256', 'type=ecdsa-p256']);
  });
  it('AWS: the key and a material description starting with a dash', () => {
    const cmd = importCommand({ keyId: EVIL, cloud: { cloud: 'aws', algorithm: 'SYMMETRIC_DEFAULT', importType: 'NEW_KEY_MATERIAL', keyMaterialDescription: '-x y' } });
    expect(shellWords(cmd, 'aws kms import-key-material')).toEqual(['--key-id', EVIL, '--encrypted-key-material', 'fileb://EncryptedKeyMaterial.bin', '--import-token', 'fileb://ImportToken.bin', '--expiration-model', 'KEY_MATERIAL_DOES_NOT_EXPIRE', '--import-type', 'NEW_KEY_MATERIAL', '--key-material-description=-x y']);
    expect(awsImportTypeOptions({ cloud: 'aws', algorithm: 'SYMMETRIC_DEFAULT', importType: 'NEW_KEY_MATERIAL', keyMaterialDescription: 'rotation 2026-12' })).toBe(" --import-type NEW_KEY_MATERIAL --key-material-description 'rotation 2026-12'");
  });
  it('the sha256sum line checks the file it names, by a real sha256sum', () => {
    const cwd = mkdtempSync(join(dir, 'sum-'));
    const name = azureByokName(EVIL);
    writeFileSync(join(cwd, name), 'x');
    const [line] = checkLines([{ name, bytes: 1, sha256: '2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881' }], [name]);
    expect(execFileSync('bash', ['-c', line as string], { cwd, encoding: 'utf8' })).toBe(`${name}: OK\n`);
  });
});

describe('encodings as each receiver decodes them', () => {
  // 424 bytes (RSA-3072 part + a 32-byte key's RFC 5649 part): 424 mod 3 = 1, so padding would show.
  const wrap = new Uint8Array(424).map((_, i) => (i * 97 + 13) & 0xff);
  it('.byok ciphertext: base64url without padding (JWE compact style), decoded back by Python', () => {
    const doc = JSON.parse(byokDocument(AZURE_KID, wrap, 'g')) as { ciphertext: string };
    expect(doc.ciphertext).toMatch(/^[A-Za-z0-9_-]+$/);
    const py = execFileSync('python3', ['-c', 'import base64,sys; s=sys.stdin.read(); sys.stdout.write(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)).hex())'], { input: doc.ciphertext, encoding: 'utf8' });
    expect(py).toBe(Buffer.from(wrap).toString('hex'));
  });
  it("ciphertext.b64: standard base64 with its padding (Go's base64.StdEncoding, as Vault decodes), no newline", () => {
    const [f] = vaultFiles({ wrap: { encryptedKeyMaterial: wrap } } as ImportBundleInput);
    const text = Buffer.from(f?.data ?? []).toString('ascii');
    expect(text).toMatch(/^[A-Za-z0-9+/]+==$/);
    const py = execFileSync('python3', ['-c', 'import base64,sys; sys.stdout.write(base64.b64decode(sys.stdin.read(), validate=True).hex())'], { input: text, encoding: 'utf8' });
    expect(py).toBe(Buffer.from(wrap).toString('hex'));
  });
});

describe("gcloud's names", () => {
  // googlecloudsdk/command_lib/kms/maps.py VALID_ALGORITHMS_MAP (purpose: --algorithm choices), read for this test.
  const GCLOUD: Record<string, string[]> = {
    encryption: ['google-symmetric-encryption'],
    'raw-encryption': ['aes-128-gcm', 'aes-256-gcm', 'aes-128-cbc', 'aes-256-cbc', 'aes-128-ctr', 'aes-256-ctr'],
    'asymmetric-signing': ['ec-sign-p256-sha256', 'ec-sign-p384-sha384', 'ec-sign-secp256k1-sha256', 'rsa-sign-pss-2048-sha256', 'rsa-sign-pss-3072-sha256', 'rsa-sign-pss-4096-sha256', 'rsa-sign-pss-4096-sha512', 'rsa-sign-pkcs1-2048-sha256', 'rsa-sign-pkcs1-3072-sha256', 'rsa-sign-pkcs1-4096-sha256', 'rsa-sign-pkcs1-4096-sha512', 'rsa-sign-raw-pkcs1-2048', 'rsa-sign-raw-pkcs1-3072', 'rsa-sign-raw-pkcs1-4096'],
    'asymmetric-encryption': ['rsa-decrypt-oaep-2048-sha1', 'rsa-decrypt-oaep-2048-sha256', 'rsa-decrypt-oaep-3072-sha1', 'rsa-decrypt-oaep-3072-sha256', 'rsa-decrypt-oaep-4096-sha1', 'rsa-decrypt-oaep-4096-sha256', 'rsa-decrypt-oaep-4096-sha512'],
    mac: ['hmac-sha1', 'hmac-sha224', 'hmac-sha256', 'hmac-sha384', 'hmac-sha512'],
  };
  const names = [...new Set(Object.values(CLOUD_KEY_NAMES.gcp).flat())];
  it.each(names)('%s is a gcloud --algorithm choice, under the purpose we print', (name) => {
    const spelled = gcloudAlgorithm(name);
    expect(GCLOUD[gcloudPurpose(name)]).toContain(spelled);
  });
});

describe("a key spec copied from gcloud's help", () => {
  it('ec-sign-p384-sha384 is EC_SIGN_P384_SHA384 for Google, and nothing for another cloud', () => {
    expect(resolveCloudKeySpec('gcp', 'ec-sign-p384-sha384')).toEqual({ keySpec: 'ECC_NIST_P384', algorithm: 'EC_SIGN_P384_SHA384' });
    expect(resolveCloudKeySpec('gcp', 'google-symmetric-encryption')).toEqual({ keySpec: 'SYMMETRIC_DEFAULT', algorithm: 'GOOGLE_SYMMETRIC_ENCRYPTION' });
    expect(() => resolveCloudKeySpec('vault', 'ec-sign-p384-sha384')).toThrow(/is not a key spec this application can import/);
    expect(() => resolveCloudKeySpec('gcp', 'ec-sign-p521-sha512')).toThrow(/is not a key spec this application can import/);
  });
  it('the CLI takes it and records the API name', () => {
    const out = mkdtempSync(join(dir, 'args-'));
    const args = kmsImportArgs(['--module', '/m.so', '--slot', '0', '--cloud', 'gcp', '--params', file('{}'), '--target', 'k', '--key-spec', 'rsa-sign-pss-3072-sha256', '--key-label', 'k', '--share', 's', '--out', out, '--bundle-out', out, '--witness', 'w']);
    expect(args).toMatchObject({ keySpec: 'RSA_3072', targetAlgorithm: 'RSA_SIGN_PSS_3072_SHA256' });
  });
});

describe('Google project names as resource names carry them', () => {
  it.each([['a project number', '123456789012'], ['a domain-scoped id', 'example.com:acme-keys']])('takes a job under %s, and gcloud gets it as one word', async (_what, project) => {
    const name = `projects/${project}/locations/global/keyRings/r/importJobs/j`;
    const p = await read({ cloud: 'gcp', path: file(gcpJobJson(rsaPair(3072), { name }, NOW)), keySpec: 'ECC_NIST_P256', target: 'k' });
    expect(p.cloud).toMatchObject({ project, keyRing: 'r', cryptoKey: 'k' });
    expect(shellWords(gcpImportCommand(p.cloud as Extract<CloudTarget, { cloud: 'gcp' }>), 'gcloud kms keys versions import').slice(-2)).toEqual(['--project', project]);
  });
  it.each(['Acme', 'a', '1abc:', 'acme-keys-', '../x'])('refuses project %j', async (project) => {
    const e = await refused({ cloud: 'gcp', path: file(gcpJobJson(rsaPair(3072), { name: `projects/${project}/locations/global/keyRings/r/importJobs/j` }, NOW)), keySpec: 'ECC_NIST_P256', target: 'k' });
    expect(e.message).toContain('is not an import job name.');
  });
});

describe('names typed the way the cloud\'s own CLI spells them', () => {
  const r3072 = rsaPair(3072);
  it("--import-method in gcloud's spelling with a publicKey.pem; a describe JSON must carry the API's", async () => {
    const job = 'projects/acme-keys-prod/locations/europe-west1/keyRings/ceremony/importJobs/j';
    const p = await read({ cloud: 'gcp', path: file(r3072.pem), importJob: job, importMethod: 'rsa-oaep-3072-sha256-aes-256', wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_256', keySpec: 'ECC_NIST_P256', target: 'k' });
    expect(p.cloud).toMatchObject({ importMethod: 'RSA_OAEP_3072_SHA256_AES_256' });
    const q = await read({ cloud: 'gcp', path: file(gcpJobJson(r3072, {}, NOW)), importMethod: 'rsa-oaep-3072-sha1-aes-256', keySpec: 'ECC_NIST_P256', target: 'k' });
    expect(q.cloud).toMatchObject({ importMethod: 'RSA_OAEP_3072_SHA1_AES_256' });
    const e = await refused({ cloud: 'gcp', path: file(gcpJobJson(r3072, { importMethod: 'rsa-oaep-3072-sha1-aes-256' }, NOW)), keySpec: 'ECC_NIST_P256', target: 'k' });
    expect(e.message).toContain('"rsa-oaep-3072-sha1-aes-256" is not a Cloud KMS import method');
  });
  it('--hash-function in lower case, as Vault itself takes it; the command says SHA1', async () => {
    const p = await read({ cloud: 'vault', path: file(vaultWrappingKeyJson(rsaPair(4096))), hashFunction: 'sha1', target: 'k' });
    expect(p.cloud).toMatchObject({ hashFunction: 'SHA1' });
    expect(vaultImportCommand(p.cloud as Extract<CloudTarget, { cloud: 'vault' }>)).toContain(' hash_function=SHA1 ');
  });
});

describe('key labels on the command line', () => {
  const argv = (label: string) => {
    const out = mkdtempSync(join(dir, 'lbl-'));
    return ['--module', '/m.so', '--slot', '0', '--cloud', 'azure', '--params', file('{}'), '--target', 'k', '--key-spec', 'RSA_2048', `--key-label=${label}`, '--share', 's', '--out', out, '--bundle-out', out, '--witness', 'w'];
  };
  it.each(['a b;rm -rf ~', '../../etc/passwd', '.hidden', '-rf', 'ключ', 'nul\u0000', 'x'.repeat(65), ' lead'])('refuses %j in words, before anything opens', (label) => {
    expect(() => kmsImportArgs(argv(label))).toThrow(UsageError);
    expect(() => kmsImportArgs(argv(label))).toThrow(`--key-label ${JSON.stringify(label)}: a key label is 1 to 64 letters, digits, spaces, dots, dashes and underscores, starting with a letter or digit`);
  });
  it.each(['prod key 1', 'k', 'a.b-c_d', 'x'.repeat(64)])('takes %j', (label) => {
    expect(kmsImportArgs(argv(label))).toMatchObject({ keyLabel: label });
  });
  it.each(['kms-import', 'kms-rewrap'])("agrees with ceremonies/%s.yaml's keyLabel", (script) => {
    const yaml = readFileSync(join(__dirname, '..', '..', 'ceremonies', `${script}.yaml`), 'utf8');
    const block = /\n {2}keyLabel:\n((?: {4}.*\n)+)/.exec(yaml)?.[1] ?? '';
    expect(block).toContain("    pattern: '[A-Za-z0-9][A-Za-z0-9 ._-]*'\n");
    expect(block).toContain('    maxLength: 64\n');
    expect(KEY_LABEL.source).toBe('^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$');
  });
});

describe('file names from key labels', () => {
  it.each([
    ['prod key 1', 'prod_key_1'],
    ['../../etc/passwd', '_._.._etc_passwd'],
    ['..', '_.'],
    ['.hidden', '_hidden'],
    ['-rf', '_rf'],
    ['a/b\\c', 'a_b_c'],
    ['nul\u0000byte', 'nul_byte'],
    ['ключ 🔑', '______'],
    ['', 'key'],
    ['CON', '_CON'],
    ['lpt1.backup', '_lpt1.backup'],
    ['CONSOLE', 'CONSOLE'],
    ['x'.repeat(300), 'x'.repeat(100)],
  ])('%j becomes %j', (label, stem) => {
    expect(safeFileStem(label)).toBe(stem);
    expect(azureByokName(label)).toMatch(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}\.byok$/);
  });
});

describe('Vault transit key names as Vault routes them', () => {
  const r4096 = rsaPair(4096);
  it.each(['signing.', 'signing-', '_signing'])('refuses %j (GenericNameRegex: a word character first and last)', async (target) => {
    const e = await refused({ cloud: 'vault', path: file(vaultWrappingKeyJson(r4096)), wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_256', target });
    expect(e.message).toBe(`target ${JSON.stringify(target)} is not a transit key name (or MOUNT/keys/NAME).`);
    expect(e.remedy).toContain('ending with a letter, digit or underscore');
  });
  it('warns that the wrapping key must come from the mount the key goes into', async () => {
    const p = await read({ cloud: 'vault', path: file(vaultWrappingKeyJson(r4096)), wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_256', target: 'kms/keys/mac' });
    expect(p.warnings.join(' ')).toContain('this file must be `vault read -format=json kms/wrapping_key` from the cluster you import into (kms/keys/mac)');
  });
  it.each(['s', 'signing_', 'sign.v2', 'kms/keys/a-b_c'])('takes %j', async (target) => {
    const p = await read({ cloud: 'vault', path: file(vaultWrappingKeyJson(r4096)), wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_256', target });
    expect(p.keyId).toMatch(/\/keys\//);
  });
});

describe("Azure's KEK as azure-cli prints it, and what it must not say", () => {
  const r2048 = rsaPair(2048);
  it('reads n and e in standard base64 with padding (azure-cli transform_key_output)', async () => {
    const text = azureKeyJson(r2048);
    expect(text).toContain('"e": "AQAB"');
    expect((JSON.parse(text) as { key: { n: string } }).key.n).toMatch(/==$/);
    const p = await read({ cloud: 'azure', path: file(text) });
    expect(Buffer.from(p.publicKeySpkiDer).equals(r2048.spki)).toBe(true);
  });
  it("a damaged n is refused with Azure's remedy, not the AWS CLI's", async () => {
    const e = await refused({ cloud: 'azure', path: file(azureKeyJson(r2048, { key: { n: 'AQAB+/x' } })) });
    expect(e.message).toContain('key.n in');
    expect(e.remedy).toContain('az keyvault key show');
    expect(e.remedy).not.toContain('AWS');
  });
  it('refuses keyOps and key_ops both present', async () => {
    const e = await refused({ cloud: 'azure', path: file(azureKeyJson(r2048, { key: { keyOps: ['import'], key_ops: ['import', 'decrypt'] } })) });
    expect(e.message).toContain('has both keyOps and key_ops');
  });
  it.each([['false'], [0], ['yes']])('refuses attributes.enabled %j (not a boolean)', async (enabled) => {
    const e = await refused({ cloud: 'azure', path: file(azureKeyJson(r2048, { attributes: { enabled } })) });
    expect(e.message).toContain(`attributes.enabled in`);
    expect(e.message).toContain('not true or false');
  });
  it('says an EC public key is "an EC key"', async () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const e = await refused({ cloud: 'azure', path: file(ec), kekId: AZURE_KID });
    expect(e.message).toMatch(/holds an EC key; Azure BYOK KEK wrapping keys are RSA\.$/);
  });
});

describe('files saved by Windows tools', () => {
  const r3072 = rsaPair(3072);
  it('takes JSON with a UTF-8 byte order mark (Out-File -Encoding utf8)', async () => {
    const p = await read({ cloud: 'gcp', path: file(`\ufeff${gcpJobJson(r3072, {}, NOW)}`), keySpec: 'ECC_NIST_P256', target: 'k' });
    expect(p.wrappingKeySpec).toBe('RSA_3072');
  });
  it("refuses UTF-16 (PowerShell's >) naming the encoding and how to save UTF-8", async () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(azureKeyJson(rsaPair(2048)), 'utf16le')]);
    const e = await refused({ cloud: 'azure', path: file(utf16) });
    expect(e.message).toMatch(/is UTF-16 text \(as PowerShell's `>` writes it\), not UTF-8\.$/);
    expect(e.remedy).toContain('Out-File -Encoding utf8');
  });
});

describe('hostile wrapping keys and files (already refused; kept so they stay refused)', () => {
  const r4096 = rsaPair(4096);
  const ec = () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'pem', type: 'spki' }).toString();
  const e3 = () => generateKeyPairSync('rsa', { modulusLength: 4096, publicExponent: 3 }).publicKey.export({ format: 'pem', type: 'spki' }).toString();
  it.each([
    ['two keys in one PEM file', () => r4096.pem + r4096.pem, 'holds 2 PEM blocks; expected one "PUBLIC KEY".'],
    ['trailing garbage', () => `${r4096.pem}rm -rf ~\n`, 'has text outside its PEM block.'],
    ['an EC key', ec, 'holds an EC key; Vault transit wrapping keys are RSA.'],
    ['e = 3', e3, 'has public exponent 3; Vault transit wrapping keys use 65537.'],
    ['RSA-2048', () => rsaPair(2048).pem, 'is RSA-2048; Vault transit wrapping keys are RSA-4096.'],
    ['a private key', () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), 'is a PEM "PRIVATE KEY", not a "PUBLIC KEY".'],
    ['a huge file', () => 'A'.repeat(70_000), 'a Vault wrapping key file is at most 64 KiB (65536 bytes).'],
  ])('Vault: %s', async (_what, content, message) => {
    const e = await refused({ cloud: 'vault', path: file(content()), wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_256', target: 'k' });
    expect(e.message.endsWith(message)).toBe(true);
    expect(e.remedy).toContain('vault read -format=json transit/wrapping_key');
  });
  it('a member twice, spelled once with a JSON escape', async () => {
    const text = gcpJobJson(rsaPair(3072), {}, NOW).replace('"state": "ACTIVE"', '"state": "ACTIVE", "st\\u0061te": "EXPIRED"');
    const e = await refused({ cloud: 'gcp', path: file(text), keySpec: 'ECC_NIST_P256', target: 'k' });
    expect(e.message).toContain('has the member "state" twice; it must say one thing.');
  });
  it.each([
    ['with a path step', 'https://acme-byok.vault.azure.net/keys/../0123456789abcdef0123456789abcdef'],
    ['with a space', 'https://acme-byok.vault.azure.net/keys/kek byok/0123456789abcdef0123456789abcdef'],
    ['with a port', 'https://acme-byok.vault.azure.net:443/keys/kek/0123456789abcdef0123456789abcdef'],
    ['over http', 'http://acme-byok.vault.azure.net/keys/kek/0123456789abcdef0123456789abcdef'],
    ['of a secret', 'https://acme-byok.vault.azure.net/secrets/kek/0123456789abcdef0123456789abcdef'],
  ])('an Azure kid %s', async (_what, kid) => {
    const e = await refused({ cloud: 'azure', path: file(azureKeyJson(rsaPair(2048), { key: { kid } })) });
    expect(e.message).toBe(`key.kid in ${join(dir, `f${n}`)} ${JSON.stringify(kid)} is not a Key Vault key id.`);
  });
  it('an Azure kid whose vault name has two dashes in a row', async () => {
    const e = await refused({ cloud: 'azure', path: file(azureKeyJson(rsaPair(2048), { key: { kid: 'https://ac--me.vault.azure.net/keys/kek/0123456789abcdef0123456789abcdef' } })) });
    expect(e.message).toContain('names ac--me, which no key vault or Managed HSM can be called (two dashes in a row).');
  });
});

describe("each CLI's default output instead of its JSON", () => {
  const r3072 = rsaPair(3072);
  const yaml = `createTime: '2026-12-06T23:00:00.123456Z'\nexpireTime: '2026-12-09T23:00:00.123456Z'\nimportMethod: RSA_OAEP_3072_SHA1_AES_256\nname: projects/acme-keys-prod/locations/europe-west1/keyRings/ceremony/importJobs/j\nprotectionLevel: HSM\npublicKey:\n  pem: |\n${r3072.pem.replace(/^/gm, '    ')}state: ACTIVE\n`;
  it('gcloud YAML: refused as such, with --format=json', async () => {
    const e = await refused({ cloud: 'gcp', path: file(yaml), importJob: 'projects/acme-keys-prod/locations/europe-west1/keyRings/ceremony/importJobs/j', importMethod: 'RSA_OAEP_3072_SHA1_AES_256' });
    expect(e.message).toMatch(/is the YAML gcloud prints by default, not the import job's JSON\.$/);
    expect(e.remedy).toContain('--format=json');
  });
  it('vault read without -format=json: refused as the table', async () => {
    const table = `Key           Value\n---           -----\npublic_key    ${rsaPair(4096).pem}`;
    const e = await refused({ cloud: 'vault', path: file(table), wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_256', target: 'k' });
    expect(e.message).toMatch(/is the table `vault read` prints by default, not its JSON\.$/);
    expect(e.remedy).toContain('-format=json');
  });
  it.each([[7, 'is 7, not ACTIVE'], ['active', 'is "active", not ACTIVE'], [null, 'is null, not ACTIVE']])('a job state %j is named as it is', async (state, message) => {
    const e = await refused({ cloud: 'gcp', path: file(gcpJobJson(r3072, { state }, NOW)), keySpec: 'ECC_NIST_P256', target: 'k' });
    expect(e.message.endsWith(message + '.')).toBe(true);
  });
  it('an import job protection level that is neither SOFTWARE nor HSM', async () => {
    const e = await refused({ cloud: 'gcp', path: file(gcpJobJson(r3072, { protectionLevel: 'HSM; rm -rf ~' }, NOW)), keySpec: 'ECC_NIST_P256', target: 'k' });
    expect(e.message).toContain(`protectionLevel in`);
    expect(e.message).toContain(`an import job's is SOFTWARE or HSM`);
  });
});

describe('AWS key material descriptions AWS itself would refuse', () => {
  it.each([['no-break\u00a0space'], ['tab\there'], ['line\nbreak'], ['ideographic\u3000space']])('%j', (d) => {
    expect(() => parseAwsImportOptions('SYMMETRIC_DEFAULT', { importType: 'NEW_KEY_MATERIAL', keyMaterialDescription: d })).toThrow(/plain spaces: no tabs, line breaks or other spaces/);
  });
  it('takes plain spaces', () => {
    expect(parseAwsImportOptions('SYMMETRIC_DEFAULT', { importType: 'NEW_KEY_MATERIAL', keyMaterialDescription: 'ceremony 2026-12-07 rotation' })).toEqual({ importType: 'NEW_KEY_MATERIAL', keyMaterialDescription: 'ceremony 2026-12-07 rotation' });
  });
});

describe('a cloud import folder is never overwritten', () => {
  const wrap = { encryptedKeyMaterial: new Uint8Array(424).fill(7), algorithm: 'RSA_AES_KEY_WRAP_SHA_1' as const, method: 'm', rsaPartLength: 384, aesPartLength: 40 };
  function input(parentDir: string, name: string): ImportBundleInput {
    const cloud: CloudTarget = { cloud: 'azure', kekKid: AZURE_KID, vaultName: 'acme-byok', managedHsm: false, keyName: 'k', kty: 'EC', curve: 'P-384', algorithm: 'EC-P-384' };
    return {
      parentDir,
      name,
      params: { keyId: 'https://acme-byok.vault.azure.net/keys/k', wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_1', wrappingKeySpec: 'RSA_3072', publicKeySpkiDer: new Uint8Array([1]), importToken: new Uint8Array(), source: { kind: 'files', path: '/x', publicKeyFrom: '/x', publicKeyEncoding: 'pem' }, warnings: [], cloud },
      keySpec: 'ECC_NIST_P384',
      keyLabel: 'k',
      keyIdHex: '01',
      checkValue: { value: 'AB', method: 'SHA256-SPKI', description: 'd' },
      wrap,
      ceremonyId: 'c',
      createdAt: NOW,
    };
  }
  it('refuses an existing folder and an interrupted .partial, leaving both as they were', async () => {
    const parent = mkdtempSync(join(dir, 'out-'));
    mkdirSync(join(parent, 'taken'));
    writeFileSync(join(parent, 'taken', 'k.byok'), 'earlier');
    await expect(exportImportBundle(input(parent, 'taken'))).rejects.toThrow(/already exists; exports are never overwritten/);
    mkdirSync(join(parent, 'half.partial'));
    await expect(exportImportBundle(input(parent, 'half'))).rejects.toThrow(/half\.partial exists: an earlier export was interrupted/);
    expect(readdirSync(parent).sort()).toEqual(['half.partial', 'taken']);
    expect(readdirSync(join(parent, 'taken'))).toEqual(['k.byok']);
    expect(readdirSync(join(parent, 'half.partial'))).toEqual([]);
  });
});

describe('the CLI refuses what it can before any ceremony starts', () => {
  it.each([
    ['an Azure KEK.pem without --kek-id', ['--cloud', 'azure', '--key-spec', 'RSA_2048'], () => rsaPair(2048).pem, "is not the JSON of `az keyvault key show`: give --kek-id KID (the KEK's kid, with its version) with a KEK.pem."],
    ["gcloud's YAML", ['--cloud', 'gcp', '--key-spec', 'ECC_NIST_P384'], () => 'name: projects/p/locations/l/keyRings/r/importJobs/j\nstate: ACTIVE\n', 'is the YAML gcloud prints by default: describe the job again with --format=json.'],
  ])('%s: exit 2, the flag named, nothing in the data or output folder', async (_what, cloud, params, message) => {
    const data = mkdtempSync(join(dir, 'data-'));
    const out = mkdtempSync(join(dir, 'o-'));
    const errs: string[] = [];
    const sink = { write: (s: string) => (errs.push(s), true) };
    const code = await kmsImportCommand(
      ['--module', '/nonexistent.so', '--slot', '0', ...cloud, '--params', file(params()), '--target', 'k', '--key-label', 'k', '--share', file('{}'), '--out', out, '--bundle-out', out, '--witness', 'w', '--data-dir', data],
      { stdout: { write: () => true }, stderr: sink } as never,
    );
    expect(code).toBe(2);
    expect(errs.join('')).toContain(message);
    expect(readdirSync(data)).toEqual([]);
    expect(readdirSync(out)).toEqual([]);
  });
});
