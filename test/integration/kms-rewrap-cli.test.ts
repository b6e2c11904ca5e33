// `keyceremony kms-rewrap` on a fresh SoftHSM token: init-token and kms-import from the command line, then
// kms-rewrap with the same flags and new parameters (a wrapping key pair the test made, another key ARN).
// It exits 0 and prints the check value and the files written; the new EncryptedKeyMaterial.bin unwraps
// independently to the material of the first export. A label no ceremony generated exits 1, nothing written.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initTokenCommand } from '../../src-main/cli/init-token-command.js';
import { kmsImportCommand } from '../../src-main/cli/kms-import-command.js';
import { kmsRewrapCommand } from '../../src-main/cli/kms-rewrap-command.js';
import { runCli } from '../../src-main/cli/main.js';
import { verifyBundles } from '../../src-main/transcript/verify.js';
import { ARN, checkRecovered, independentUnwrap, kmsLikeKey, type KmsLikeKey } from '../fixtures/kms/harness.js';
import { createSoftHsmEnv, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';

const pass = { alice: 'alice passphrase 1', bob: 'bob passphrase 22', carol: 'carol passphrase 333' } as const;
const offline = () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() });
const OTHER_ARN = 'arn:aws:kms:ap-southeast-2:444455556666:key/1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d';
let env: SoftHsmEnv;
let work: string;
let initBundle: string;

function io() {
  const o = { stdout: '', stderr: '' };
  return { o, out: { stdout: { write: (t: string) => (o.stdout += t) }, stderr: { write: (t: string) => (o.stderr += t) } } };
}

async function writeParams(name: string, kms: KmsLikeKey, arn: string): Promise<string> {
  const path = join(work, 'stick', `${name}.json`);
  await writeFile(path, JSON.stringify({ KeyId: arn, ImportToken: Buffer.from(`token-${name}`).toString('base64'), PublicKey: Buffer.from(kms.spki).toString('base64'), ParametersValidTo: Date.now() / 1000 + 20 * 3600 }));
  return path;
}

const flags = (o: { params: string; alg: string; label: string }) => [
  '--module', SOFTHSM_MODULE, '--token', 'pkcs11:token=rewrap-cli', '--params', o.params, '--wrapping-algorithm', o.alg,
  '--key-spec', 'SYMMETRIC_DEFAULT', '--key-label', o.label, '--out', join(work, 'kms-out'), '--bundle-out', join(work, 'out'), '--witness', 'wendy', '--data-dir', join(work, 'data'),
  ...(['alice', 'bob'] as const).flatMap((c) => ['--share', `${join(work, 'usb', `${c}.share`)}:${join(work, 'secrets', c)}`]),
];

beforeAll(async () => {
  env = createSoftHsmEnv();
  work = await mkdtemp(join(tmpdir(), 'kc-rewrap-cli-'));
  for (const d of ['usb', 'out', 'secrets', 'data', 'stick', 'kms-out']) await mkdir(join(work, d));
  for (const [name, p] of Object.entries(pass)) await writeFile(join(work, 'secrets', name), `${p}\n`);
  const { o, out } = io();
  const code = await initTokenCommand(
    [
      '--module', SOFTHSM_MODULE, '--slot', '0', '--token-label', 'rewrap-cli', '--custodians', 'alice,bob,carol', '--threshold', '2',
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

describe('keyceremony kms-rewrap', () => {
  it('is listed, has help, and refuses bad flags with exit 2 as kms-import does', async () => {
    const main = io();
    await runCli(['--help'], main.out);
    expect(main.o.stdout).toContain('kms-rewrap');
    const help = io();
    expect(await runCli(['kms-rewrap', '--help'], help.out)).toBe(0);
    expect(help.o.stdout).toContain('Usage: keyceremony kms-rewrap --module PATH');
    const bad = io();
    expect(await runCli(['kms-rewrap', ...flags({ params: join(work, 'secrets', 'alice'), alg: 'RSAES_PKCS1_V1_5', label: 'x' })], bad.out)).toBe(2);
    expect(bad.o.stderr).toContain('keyceremony kms-rewrap: --wrapping-algorithm RSAES_PKCS1_V1_5: expected one of');
  });

  it('re-exports the key kms-import generated: same material, new wrapping key, another key ARN', async () => {
    const first = kmsLikeKey(2048);
    const imp = io();
    expect(await kmsImportCommand([...flags({ params: await writeParams('first', first, ARN), alg: 'RSAES_OAEP_SHA_1', label: 'cli-key' }), '--json'], imp.out, { airGap: offline })).toBe(0);
    const imported = JSON.parse(imp.o.stdout) as { checkValue: { value: string; method: string }; importBundle: { path: string }; bundle: { path: string } };
    const material = independentUnwrap(first, 'RSAES_OAEP_SHA_1', new Uint8Array(await readFile(join(imported.importBundle.path, 'EncryptedKeyMaterial.bin'))));

    const second = kmsLikeKey(2048);
    const { o, out } = io();
    const code = await kmsRewrapCommand(flags({ params: await writeParams('second', second, OTHER_ARN), alg: 'RSA_AES_KEY_WRAP_SHA_1', label: 'cli-key' }), out, { airGap: offline });
    expect(o.stderr).toBe('');
    expect(code).toBe(0);
    expect(o.stdout).toContain(`Key check value: ${imported.checkValue.value} (AES-CMAC-ZERO-BLOCK), the same as recorded when the key was generated`);
    const bundleDir = /^Import bundle: (.+)$/m.exec(o.stdout)?.[1] ?? '';
    const encrypted = await readFile(join(bundleDir, 'EncryptedKeyMaterial.bin'));
    const manifest = JSON.parse(await readFile(join(bundleDir, 'import-manifest.json'), 'utf8')) as { kmsKey: { keyArn: string }; files: Record<string, { bytes: number; sha256: string }> };
    expect(manifest.kmsKey.keyArn).toBe(OTHER_ARN);
    for (const [name, f] of Object.entries(manifest.files)) expect(o.stdout).toContain(`  ${name}  ${f.bytes} bytes  sha256 ${f.sha256}`);
    expect(o.stdout).toContain(`--key-id ${OTHER_ARN}`);
    const again = independentUnwrap(second, 'RSA_AES_KEY_WRAP_SHA_1', new Uint8Array(encrypted));
    expect(again.equals(material)).toBe(true);
    checkRecovered('SYMMETRIC_DEFAULT', again, imported.checkValue as never);
    const transcript = /^Transcript bundle: (.+)$/m.exec(o.stdout)?.[1] ?? '';
    const report = await verifyBundles([initBundle, imported.bundle.path, transcript]);
    expect(report.checks.filter((c) => c.status === 'fail')).toEqual([]);
  });

  it('exits 1 for a label no ceremony generated, writing no import bundle', async () => {
    const before = await readdir(join(work, 'kms-out'));
    const { o, out } = io();
    const code = await kmsRewrapCommand(flags({ params: await writeParams('nope', kmsLikeKey(2048), ARN), alg: 'RSAES_OAEP_SHA_1', label: 'never-generated' }), out, { airGap: offline });
    expect(code).toBe(1);
    expect(o.stderr).toContain("keyceremony kms-rewrap: step 'find': parameters.keyLabel: this token's transcript records no key generated with the label 'never-generated'");
    expect(o.stderr).toContain('was aborted and the abort recorded');
    expect(await readdir(join(work, 'kms-out'))).toEqual(before);
  });
});
