// `keyceremony kms-import` on a fresh SoftHSM token enrolled by `keyceremony init-token` (3 custodians,
// threshold 2): usage errors exit 2 naming the flag; a full run exits 0, prints the check value, writes the
// import bundle, whose EncryptedKeyMaterial.bin unwraps independently (openssl) to that check value, and a
// transcript bundle that verifies with the init-token bundle, approvals included; one share exits 1 with
// nothing generated; RSAES_OAEP_SHA_256 on SoftHSM exits 1 with what the token can do.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initTokenCommand } from '../../src-main/cli/init-token-command.js';
import { kmsImportCommand } from '../../src-main/cli/kms-import-command.js';
import { runCli } from '../../src-main/cli/main.js';
import { verifyBundles } from '../../src-main/transcript/verify.js';
import { ARN, checkRecovered, independentUnwrap, kmsLikeKey, type KmsLikeKey } from '../fixtures/kms/harness.js';
import { createSoftHsmEnv, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';

const pass = { alice: 'alice passphrase 1', bob: 'bob passphrase 22', carol: 'carol passphrase 333' } as const;
const offline = () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() });
let env: SoftHsmEnv;
let work: string;
let kms: KmsLikeKey;
let initBundle: string;

function io() {
  const o = { stdout: '', stderr: '' };
  return { o, out: { stdout: { write: (t: string) => (o.stdout += t) }, stderr: { write: (t: string) => (o.stderr += t) } } };
}

async function writeParams(name: string, hoursValid = 20, keyId = ARN): Promise<string> {
  const path = join(work, 'stick', `${name}.json`);
  // AWS CLI v1 prints ParametersValidTo as epoch seconds.
  await writeFile(path, JSON.stringify({ KeyId: keyId, ImportToken: Buffer.from(`token-${name}`).toString('base64'), PublicKey: Buffer.from(kms.spki).toString('base64'), ParametersValidTo: Date.now() / 1000 + hoursValid * 3600 }));
  return path;
}

const share = (c: keyof typeof pass) => ['--share', `${join(work, 'usb', `${c}.share`)}:${join(work, 'secrets', c)}`];
const base = (o: { params: string; alg?: string; label: string; out: string }) => [
  '--module', SOFTHSM_MODULE, '--token', 'pkcs11:token=kms-cli', '--params', o.params, '--wrapping-algorithm', o.alg ?? 'RSAES_OAEP_SHA_1',
  '--key-spec', 'SYMMETRIC_DEFAULT', '--key-label', o.label, '--out', o.out, '--bundle-out', join(work, 'out'), '--witness', 'wendy', '--data-dir', join(work, 'data'),
];

beforeAll(async () => {
  env = createSoftHsmEnv();
  work = await mkdtemp(join(tmpdir(), 'kc-kms-cli-'));
  for (const d of ['usb', 'out', 'secrets', 'data', 'stick', 'kms-out']) await mkdir(join(work, d));
  for (const [name, p] of Object.entries(pass)) await writeFile(join(work, 'secrets', name), `${p}\n`);
  kms = kmsLikeKey(2048);
  const { o, out } = io();
  const code = await initTokenCommand(
    [
      '--module', SOFTHSM_MODULE, '--slot', '0', '--token-label', 'kms-cli', '--custodians', 'alice,bob,carol', '--threshold', '2',
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

describe('keyceremony kms-import', () => {
  it('prints its help, and is listed', async () => {
    const { o, out } = io();
    expect(await runCli(['kms-import', '--help'], out)).toBe(0);
    expect(o.stdout).toContain('Usage: keyceremony kms-import --module PATH');
    const main = io();
    await runCli(['--help'], main.out);
    expect(main.o.stdout).toContain('kms-import');
  });

  it.each([
    ['no --params', (a: string[]) => a.filter((_, i) => a[i] !== '--params' && a[i - 1] !== '--params'), '--params FILE_OR_DIR is required'],
    ['a bad algorithm', (a: string[]) => [...a, '--wrapping-algorithm', 'RSAES_PKCS1_V1_5'], '--wrapping-algorithm RSAES_PKCS1_V1_5: expected one of'],
    ['a bad key spec', (a: string[]) => [...a, '--key-spec', 'AES_128'], '--key-spec AES_128: expected one of'],
    ['no share', (a: string[]) => a, '--share FILE[:PASSPHRASE_FILE] is required'],
    ['an unknown flag', (a: string[]) => [...a, '--pin', '1234'], "Unknown option '--pin'"],
  ])('refuses %s with exit 2', async (_name, edit, message) => {
    const { o, out } = io();
    const a = edit(base({ params: join(work, 'secrets', 'alice'), label: 'x', out: join(work, 'kms-out') }));
    expect(await runCli(['kms-import', ...a], out)).toBe(2);
    expect(o.stderr).toContain(message);
  });

  it('runs the ceremony: the check value printed is the one the independently unwrapped material gives', async () => {
    const { o, out } = io();
    const args = [...base({ params: await writeParams('ok'), label: 'cli-aes', out: join(work, 'kms-out') }), ...share('alice'), ...share('carol'), '--json'];
    const code = await kmsImportCommand(args, out, { airGap: offline });
    expect(o.stderr).toBe('');
    expect(code).toBe(0);
    const result = JSON.parse(o.stdout) as { status: string; checkValue: { value: string; method: string }; importBundle: { path: string; files: Record<string, unknown> }; bundle: { path: string } };
    expect(result.status).toBe('completed');
    expect(Object.keys(result.importBundle.files).sort()).toEqual(['EncryptedKeyMaterial.bin', 'IMPORT.md', 'ImportToken.bin', 'WrappingPublicKey.bin']);
    const encrypted = new Uint8Array(await readFile(join(result.importBundle.path, 'EncryptedKeyMaterial.bin')));
    checkRecovered('SYMMETRIC_DEFAULT', independentUnwrap(kms, 'RSAES_OAEP_SHA_1', encrypted), result.checkValue as never);
    const report = await verifyBundles([initBundle, result.bundle.path]);
    expect(report.checks.filter((c) => c.status === 'fail')).toEqual([]);
    expect(report.checks.find((c) => c.id === 'approvals')?.status).toBe('pass');
  });

  it('exits 1 with one share, generating nothing', async () => {
    const { o, out } = io();
    const before = (await readdir(join(work, 'kms-out'))).length;
    const code = await kmsImportCommand([...base({ params: await writeParams('one'), label: 'cli-one', out: join(work, 'kms-out') }), ...share('bob')], out, { airGap: offline });
    expect(code).toBe(1);
    expect(o.stderr).toContain('the quorum was not reached: 1 distinct custodian(s) (bob) presented a share; 2 are needed. Nothing was generated.\n  Run the command again with one --share FILE:PASSPHRASE_FILE for each of at least 2 different custodians.');
    // A refusal the room caused, not a failure of the app.
    expect(o.stderr).not.toContain('Unexpected failure');
    expect(o.stderr).toContain('was aborted and the abort recorded');
    expect((await readdir(join(work, 'kms-out'))).length).toBe(before);
  });

  it('prints every parameter warning before the custodians open the token, in --json mode on stderr', async () => {
    // One sequence of both streams, to see what came first.
    const seq: string[] = [];
    const out = { stdout: { write: (t: string) => seq.push(`out:${t}`) }, stderr: { write: (t: string) => seq.push(`err:${t}`) } };
    const keyId = ARN.slice(ARN.lastIndexOf('/') + 1);
    const params = await writeParams('warned', 30, keyId);
    const code = await kmsImportCommand([...base({ params, label: 'cli-warned', out: join(work, 'kms-out') }), ...share('bob'), '--json'], out, { airGap: offline });
    expect(code).toBe(1);
    const bare = `err:keyceremony kms-import: warning: Only the key id ${keyId} is known, not its account and Region: confirm them in the KMS console.\n`;
    const ahead = seq.findIndex((l) => /^err:keyceremony kms-import: warning: The parameters claim to be valid until \S+, more than 25 hours from now, but AWS issues them for 24 hours: check the laptop's clock and that the file is the one AWS printed\.\n$/.test(l));
    expect(seq).toContain(bare);
    expect(ahead).toBeGreaterThan(-1);
    const refused = seq.findIndex((l) => l.includes('the quorum was not reached'));
    expect(refused).toBeGreaterThan(Math.max(seq.indexOf(bare), ahead));
    expect(JSON.parse(seq.filter((l) => l.startsWith('out:')).map((l) => l.slice(4)).join(''))).toMatchObject({ status: 'aborted' });
  });

  it('prints the warnings in the human output too, with the key it loaded', async () => {
    const { o, out } = io();
    const code = await kmsImportCommand([...base({ params: await writeParams('human', 30), label: 'cli-human', out: join(work, 'kms-out') }), ...share('bob')], out, { airGap: offline });
    expect(code).toBe(1);
    const [, region, account] = ARN.split(':').slice(2);
    expect(o.stdout).toContain(`  Key ${ARN} (Region ${region}, account ${account}); wrapping key RSA_2048; parameters valid until `);
    expect(o.stderr).toMatch(/^keyceremony kms-import: warning: The parameters claim to be valid until /m);
  });

  it.each([
    ['/dev/zero as the share', () => ['--share', `/dev/zero:${join(work, 'secrets', 'bob')}`], `--share /dev/zero:<secrets>/bob: /dev/zero is a character device, not a regular file; a share file is a regular file of at most 16 KiB (16384 bytes).\n  Choose the .share file on the custodian's USB stick.`],
    ['/dev/zero as the passphrase file', () => ['--share', `${join(work, 'usb', 'bob.share')}:/dev/zero`], `--share <usb>/bob.share:/dev/zero: /dev/zero is a character device, not a regular file; a passphrase file is a regular file of at most 8 KiB (8192 bytes).\n  Name a small text file holding the passphrase alone on one line.`],
    ['a folder as the share', () => ['--share', join(work, 'usb')], `--share <usb>: <usb> is a folder, not a regular file; a share file is a regular file of at most 16 KiB (16384 bytes).`],
  ])('refuses %s with exit 2 before any ceremony starts', async (_name, flags, message) => {
    const { o, out } = io();
    const params = await writeParams('never-read');
    const code = await kmsImportCommand([...base({ params, label: 'cli-never', out: join(work, 'kms-out') }), ...flags()], out, { airGap: offline });
    expect(code).toBe(2);
    expect(o.stderr).toContain(`keyceremony kms-import: ${message.replaceAll('<secrets>', join(work, 'secrets')).replaceAll('<usb>', join(work, 'usb'))}`);
    expect(o.stdout).toBe('');
  });

  it('exits 1 for RSAES_OAEP_SHA_256 on SoftHSM, before any login, listing what the token can do', async () => {
    const { o, out } = io();
    const code = await kmsImportCommand([...base({ params: await writeParams('sha256'), alg: 'RSAES_OAEP_SHA_256', label: 'cli-256', out: join(work, 'kms-out') }), ...share('alice'), ...share('bob')], out, { airGap: offline });
    expect(code).toBe(1);
    expect(o.stderr).toMatch(/step parameters: .*cannot wrap with RSAES_OAEP_SHA_256.*It can do: .*RSAES_OAEP_SHA_1/s);
  });
});
