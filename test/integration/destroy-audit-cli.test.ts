// `keyceremony audit-token` and `keyceremony destroy-key` on a fresh SoftHSM token: init-token and two
// kms-import ceremonies (an AES key, a P-384 key pair) from the command line, then: the audit of the clean
// token passes; destroy-key destroys the key pair and the token, asked by a fresh module instance, holds
// nothing with its label; kms-rewrap and destroy-key naming it again are refused with the date; then objects
// changed outside any ceremony, with pkcs11-tool and with a PKCS#11 session of the test's own, are each found
// by the audit (exit 1, the finding in words), and every bundle still verifies.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import { combineShares, derivePins, openShareFile, wipe } from '../../src-main/ceremony/quorum/index.js';
import { auditTokenCommand } from '../../src-main/cli/audit-token-command.js';
import { destroyKeyCommand } from '../../src-main/cli/destroy-key-command.js';
import { initTokenCommand } from '../../src-main/cli/init-token-command.js';
import { kmsImportCommand } from '../../src-main/cli/kms-import-command.js';
import { kmsRewrapCommand } from '../../src-main/cli/kms-rewrap-command.js';
import { runCli } from '../../src-main/cli/main.js';
import { verifyBundles } from '../../src-main/transcript/verify.js';
import { ARN, kmsLikeKey } from '../fixtures/kms/harness.js';
import { createSoftHsmEnv, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';

const pass = { alice: 'alice passphrase 1', bob: 'bob passphrase 22', carol: 'carol passphrase 333' } as const;
const offline = () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() });
const LABEL = 'life-cli';
let env: SoftHsmEnv;
let work: string;
let enrolmentId: string;
const bundles: string[] = [];

function io() {
  const o = { stdout: '', stderr: '' };
  return { o, out: { stdout: { write: (t: string) => (o.stdout += t) }, stderr: { write: (t: string) => (o.stderr += t) } } };
}

const shares = () => (['alice', 'bob'] as const).flatMap((c) => ['--share', `${join(work, 'usb', `${c}.share`)}:${join(work, 'secrets', c)}`]);
const common = () => ['--module', SOFTHSM_MODULE, '--token', `pkcs11:token=${LABEL}`, '--bundle-out', join(work, 'out'), '--witness', 'wendy', '--data-dir', join(work, 'data'), ...shares()];

async function audit(): Promise<{ code: number; stdout: string; stderr: string }> {
  const { o, out } = io();
  const code = await auditTokenCommand(common(), out, { airGap: offline });
  const bundle = /^Transcript bundle: (.+)$/m.exec(o.stdout)?.[1];
  if (bundle && bundle !== '(none)') bundles.push(bundle);
  return { code, ...o };
}

async function kmsImport(label: string, keySpec: string, alg: string): Promise<void> {
  const params = join(work, 'stick', `${label}.json`);
  await writeFile(params, JSON.stringify({ KeyId: ARN, ImportToken: Buffer.from(`token-${label}`).toString('base64'), PublicKey: Buffer.from(kmsLikeKey(2048).spki).toString('base64'), ParametersValidTo: Date.now() / 1000 + 20 * 3600 }));
  const { o, out } = io();
  const code = await kmsImportCommand(
    ['--module', SOFTHSM_MODULE, '--token', `pkcs11:token=${LABEL}`, '--params', params, '--wrapping-algorithm', alg, '--key-spec', keySpec, '--key-label', label, '--out', join(work, 'kms-out'), '--bundle-out', join(work, 'out'), '--witness', 'wendy', '--data-dir', join(work, 'data'), '--json', ...shares()],
    out,
    { airGap: offline },
  );
  expect(o.stderr).toBe('');
  expect(code).toBe(0);
  bundles.push((JSON.parse(o.stdout) as { bundle: { path: string } }).bundle.path);
}

/** The user PIN, rebuilt from two share files independently of the ceremony code that logs in. */
async function userPin(): Promise<string> {
  const opened = await Promise.all((['alice', 'bob'] as const).map(async (c) => openShareFile(await readFile(join(work, 'usb', `${c}.share`)), pass[c], { ceremonyId: enrolmentId })));
  const secret = await combineShares(opened.map((s) => s.share), 2);
  const layer = new Pkcs11TokenLayer();
  try {
    await layer.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
    const token = (await layer.listSlots(SOFTHSM_MODULE)).find((s) => s.token?.label.trim() === LABEL)?.token;
    return derivePins(secret, enrolmentId, { minPinLength: token?.minPinLength, maxPinLength: token?.maxPinLength }).userPin;
  } finally {
    wipe(secret);
    await layer.close();
  }
}

/** A fresh module instance, logged in with the PIN the shares rebuild: the test's own view of the token. */
async function withToken<T>(fn: (layer: Pkcs11TokenLayer, session: string) => Promise<T>): Promise<T> {
  const pin = await userPin();
  const layer = new Pkcs11TokenLayer();
  try {
    await layer.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
    const { session } = await layer.openSession({ uri: `pkcs11:token=${LABEL}` }, { readWrite: true });
    await layer.login(session, 'user', pin);
    return await fn(layer, session);
  } finally {
    await layer.close();
  }
}

const pkcs11Tool = async (...args: string[]) => execFileSync('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--token-label', LABEL, '--login', '--pin', await userPin(), ...args], { env: process.env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

beforeAll(async () => {
  env = createSoftHsmEnv();
  work = await mkdtemp(join(tmpdir(), 'kc-life-cli-'));
  for (const d of ['usb', 'out', 'secrets', 'data', 'stick', 'kms-out']) await mkdir(join(work, d));
  for (const [name, p] of Object.entries(pass)) await writeFile(join(work, 'secrets', name), `${p}\n`);
  const { o, out } = io();
  const code = await initTokenCommand(
    [
      '--module', SOFTHSM_MODULE, '--slot', '0', '--token-label', LABEL, '--custodians', 'alice,bob,carol', '--threshold', '2',
      '--shares-out', join(work, 'usb'), '--out', join(work, 'out'), '--witness', 'wendy', '--data-dir', join(work, 'data'), '--json',
      ...Object.keys(pass).flatMap((c) => ['--passphrase-file', `${c}=${join(work, 'secrets', c)}`]),
    ],
    out,
    { scrypt: { N: 2 ** 10, r: 8, p: 1 }, airGap: offline },
  );
  expect(o.stderr).toBe('');
  expect(code).toBe(0);
  const init = JSON.parse(o.stdout) as { ceremonyId: string; bundle: { path: string } };
  enrolmentId = init.ceremonyId;
  bundles.push(init.bundle.path);
  await kmsImport('k-aes', 'SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1');
  await kmsImport('k-ec', 'ECC_NIST_P384', 'RSA_AES_KEY_WRAP_SHA_1');
}, 120_000);

afterAll(async () => {
  env?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

async function verifiesAll(): Promise<void> {
  const report = await verifyBundles(bundles);
  expect(report.checks.filter((c) => c.status === 'fail')).toEqual([]);
  // And `keyceremony verify` accepts them as production ceremonies of shipped scripts (exit 0, not 3).
  const { o, out } = io();
  expect(await runCli(['verify', ...bundles], out), o.stdout + o.stderr).toBe(0);
}

describe('keyceremony audit-token and destroy-key', () => {
  it('are listed, have help, and refuse bad flags with exit 2', async () => {
    const main = io();
    await runCli(['--help'], main.out);
    expect(main.o.stdout).toContain('destroy-key');
    expect(main.o.stdout).toContain('audit-token');
    const help = io();
    expect(await runCli(['destroy-key', '--help'], help.out)).toBe(0);
    expect(help.o.stdout).toContain('Usage: keyceremony destroy-key --module PATH');
    const noLabel = io();
    expect(await runCli(['destroy-key', ...common()], noLabel.out)).toBe(2);
    expect(noLabel.o.stderr).toContain('keyceremony destroy-key: --key-label LABEL is required');
    const labelOnAudit = io();
    expect(await runCli(['audit-token', ...common(), '--key-label', 'k-aes'], labelOnAudit.out)).toBe(2);
    expect(labelOnAudit.o.stderr).toContain("Unknown option '--key-label'");
  });

  it('audits a token that holds only what its ceremonies made: exit 0, recorded, verifiable', async () => {
    const r = await audit();
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // Audit key pair, chain head, the AES key, the P-384 pair.
    expect(r.stdout).toContain("Audit: the token's 6 object(s) match its transcript.");
    await verifiesAll();
  });

  it('destroys the key pair, proves it gone, and a fresh session finds nothing by its label', async () => {
    const ecId = await withToken(async (layer, session) => {
      const h = await layer.findOne(session, { label: 'k-ec', class: 'PRIVATE_KEY' });
      return Buffer.from((await layer.getAttributes(session, h, ['CKA_ID'])).CKA_ID as Uint8Array).toString('hex');
    });
    const { o, out } = io();
    const code = await destroyKeyCommand([...common(), '--key-label', 'k-ec', '--json'], out, { airGap: offline });
    expect(o.stderr).toBe('');
    expect(code).toBe(0);
    const res = JSON.parse(o.stdout) as { status: string; destroyed: { label: string; keySpec: string; objects: number; gone: boolean; checkValue: string }; bundle: { path: string } };
    expect(res.status).toBe('completed');
    expect(res.destroyed).toMatchObject({ label: 'k-ec', keySpec: 'ECC_NIST_P384', objects: 2, gone: true });
    expect(res.destroyed.checkValue).toMatch(/^[0-9A-F]{64}$/);
    bundles.push(res.bundle.path);
    await withToken(async (layer, session) => {
      expect(await layer.findAll(session, { label: 'k-ec' })).toEqual([]);
      expect(await layer.findAll(session, { id: Buffer.from(ecId, 'hex') })).toEqual([]);
      expect(await layer.findAll(session, { label: 'k-aes' })).toHaveLength(1);
    });
    // The bundle records what was destroyed and the empty search, for a verifier.
    const lines = (await readFile(join(res.bundle.path, 'transcript.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { kind: string; data: Record<string, unknown> });
    const result = lines.find((e) => e.kind === 'result' && e.data.action === 'destroy-key');
    expect(result?.data.gone).toEqual({ searchedByLabel: 'k-ec', foundByLabel: 0, searchedById: ecId, foundById: 0 });
    expect((result?.data.destroyed as { class: string }[]).map((d) => d.class).sort()).toEqual(['PRIVATE_KEY', 'PUBLIC_KEY']);
    await verifiesAll();
  });

  it('refuses later ceremonies naming the destroyed key, with the date it was destroyed', async () => {
    const today = new Date().toISOString().slice(0, 10);
    const again = io();
    expect(await destroyKeyCommand([...common(), '--key-label', 'k-ec'], again.out, { airGap: offline })).toBe(1);
    expect(again.o.stderr).toContain(`parameters.keyLabel: the key labelled 'k-ec' was destroyed on ${today}`);
    const params = join(work, 'stick', 'rewrap.json');
    await writeFile(params, JSON.stringify({ KeyId: ARN, ImportToken: Buffer.from('t').toString('base64'), PublicKey: Buffer.from(kmsLikeKey(2048).spki).toString('base64'), ParametersValidTo: Date.now() / 1000 + 20 * 3600 }));
    const kmsOutBefore = await readdir(join(work, 'kms-out'));
    const rewrap = io();
    const code = await kmsRewrapCommand(
      ['--module', SOFTHSM_MODULE, '--token', `pkcs11:token=${LABEL}`, '--params', params, '--wrapping-algorithm', 'RSA_AES_KEY_WRAP_SHA_1', '--key-spec', 'ECC_NIST_P384', '--key-label', 'k-ec', '--out', join(work, 'kms-out'), '--bundle-out', join(work, 'out'), '--witness', 'wendy', '--data-dir', join(work, 'data'), ...shares()],
      rewrap.out,
      { airGap: offline },
    );
    expect(code).toBe(1);
    expect(rewrap.o.stderr).toContain(`the key labelled 'k-ec' was destroyed on ${today}`);
    expect(await readdir(join(work, 'kms-out'))).toEqual(kmsOutBefore);
  });

  it('audits clean after the destruction', async () => {
    const r = await audit();
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Audit: the token's 4 object(s) match its transcript.");
  });

  it('finds a key slipped in with pkcs11-tool outside any ceremony', async () => {
    await pkcs11Tool('--keygen', '--key-type', 'AES:32', '--label', 'intruder', '--id', 'abcd');
    const r = await audit();
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('Audit: 1 finding(s)');
    expect(r.stdout).toContain("SECRET_KEY (AES) 'intruder', CKA_ID abcd was made by no ceremony recorded in this token's transcript");
    expect(r.stderr).toContain('the token does not match its transcript');
    await pkcs11Tool('--delete-object', '--type', 'secrkey', '--label', 'intruder');
    expect((await audit()).code).toBe(0);
  });

  it('finds a recorded key deleted outside, then the same label and CKA_ID holding other material', async () => {
    const aesId = await withToken(async (layer, session) => Buffer.from((await layer.getAttributes(session, await layer.findOne(session, { label: 'k-aes' }), ['CKA_ID'])).CKA_ID as Uint8Array).toString('hex'));
    await pkcs11Tool('--delete-object', '--type', 'secrkey', '--label', 'k-aes');
    const missing = await audit();
    expect(missing.code).toBe(1);
    expect(missing.stdout).toMatch(/the key 'k-aes' \(SYMMETRIC_DEFAULT, made by generate-key of ceremony kms-import-\S+ on \d{4}-\d\d-\d\d, entry \d+\) is not in the token, and no destroy-key recorded its destruction/);
    // Another AES-256 key, sensitive and extractable like the ceremony's, under the same label and CKA_ID.
    await withToken(async (layer, session) => {
      await layer.generateSecretKey(session, { type: 'AES', bits: 256 }, { label: 'k-aes', id: Buffer.from(aesId, 'hex'), token: true, private: true, sensitive: true, extractable: true, encrypt: true, decrypt: true, wrap: false, unwrap: false, sign: true, verify: true, derive: false });
    });
    const swapped = await audit();
    expect(swapped.code).toBe(1);
    expect(swapped.stdout).toMatch(/the key 'k-aes' .* is not the recorded one: The key labelled "k-aes" has check value [0-9A-F]{6} \(AES-CMAC-ZERO-BLOCK\), but [0-9A-F]{6} \(AES-CMAC-ZERO-BLOCK\) was recorded/);
    await verifiesAll();
  });
});
