// A second SoftHSM token joins the security domain of the first (`keyceremony init-token
// --join-domain-share`): the same share files then open both tokens (kms-import's quorum login on each, with
// another pair of custodians than the one that joined), both enrolments record one domain id, B's records
// the origin and derives its own PINs (A's PIN does not open B), nothing changes on B with fewer shares than
// the threshold, and B's bundle verifies with its approvals.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import { initTokenCommand } from '../../src-main/cli/init-token-command.js';
import { kmsImportCommand } from '../../src-main/cli/kms-import-command.js';
import { enrolmentOfChain } from '../../src-main/ceremony/actions/quorum-login.js';
import { findDomainEnrolments } from '../../src-main/ceremony/actions/join-domain.js';
import { combineShares, derivePins, openShareFile, wipe } from '../../src-main/ceremony/quorum/index.js';
import { domainId } from '../../src-main/ceremony/quorum/domain.js';
import { TranscriptStore } from '../../src-main/transcript/store.js';
import { verifyBundles } from '../../src-main/transcript/verify.js';
import { ARN, kmsLikeKey, type KmsLikeKey } from '../fixtures/kms/harness.js';
import { createSoftHsmEnv, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';

const pass = { alice: 'alice passphrase 1', bob: 'bob passphrase 22', carol: 'carol passphrase 333' } as const;
const offline = () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() });
const scrypt = { N: 2 ** 10, r: 8, p: 1 };
let env: SoftHsmEnv;
let work: string;
let kms: KmsLikeKey;
let idA: string;
let idB: string;
let bundleB: string;

function io() {
  const o = { stdout: '', stderr: '' };
  return { o, out: { stdout: { write: (t: string) => (o.stdout += t) }, stderr: { write: (t: string) => (o.stderr += t) } } };
}
const shareFile = (c: keyof typeof pass) => join(work, 'usb', `${c}.share`);
const shareSpec = (c: keyof typeof pass) => `${shareFile(c)}:${join(work, 'secrets', c)}`;
const data = () => join(work, 'data');

/** The slot id of the blank SoftHSM token (SoftHSM moves an initialized token to a new slot id). */
function blankSlot(): string {
  const out = execFileSync('softhsm2-util', ['--show-slots'], { env: process.env, encoding: 'utf8' });
  const blocks = out.split(/\n(?=Slot \d+)/);
  const blank = blocks.find((b) => /Initialized:\s+no/.test(b));
  const m = blank ? /^Slot (\d+)/m.exec(blank) : null;
  if (!m) throw new Error(`no blank SoftHSM slot:\n${out}`);
  return m[1] as string;
}

async function chainEnrolment(ceremonyId: string) {
  const { store } = await TranscriptStore.open(join(data(), 'chains', ceremonyId), { readOnly: true });
  try {
    return enrolmentOfChain(store);
  } finally {
    await store.close();
  }
}

async function kmsImportOn(tokenLabel: string, keyLabel: string, custodians: (keyof typeof pass)[]) {
  const params = join(work, 'stick', `${keyLabel}.json`);
  await writeFile(params, JSON.stringify({ KeyId: ARN, ImportToken: Buffer.from(`token-${keyLabel}`).toString('base64'), PublicKey: Buffer.from(kms.spki).toString('base64'), ParametersValidTo: Date.now() / 1000 + 20 * 3600 }));
  const { o, out } = io();
  const code = await kmsImportCommand(
    [
      '--module', SOFTHSM_MODULE, '--token', `pkcs11:token=${tokenLabel}`, '--params', params, '--wrapping-algorithm', 'RSAES_OAEP_SHA_1', '--key-spec', 'SYMMETRIC_DEFAULT',
      '--key-label', keyLabel, '--out', join(work, 'kms-out'), '--bundle-out', join(work, 'out'), '--witness', 'wendy', '--data-dir', data(), '--json',
      ...custodians.flatMap((c) => ['--share', shareSpec(c)]),
    ],
    out,
    { airGap: offline },
  );
  return { code, o };
}

beforeAll(async () => {
  env = createSoftHsmEnv();
  work = await mkdtemp(join(tmpdir(), 'kc-domain-join-'));
  for (const d of ['usb', 'out', 'secrets', 'data', 'stick', 'kms-out']) await mkdir(join(work, d));
  for (const [name, p] of Object.entries(pass)) await writeFile(join(work, 'secrets', name), `${p}\n`);
  kms = kmsLikeKey(2048);
  const { o, out } = io();
  const code = await initTokenCommand(
    [
      '--module', SOFTHSM_MODULE, '--slot', '0', '--token-label', 'dom-a', '--custodians', 'alice,bob,carol', '--threshold', '2',
      '--shares-out', join(work, 'usb'), '--out', join(work, 'out'), '--witness', 'wendy', '--data-dir', data(), '--json',
      ...Object.keys(pass).flatMap((c) => ['--passphrase-file', `${c}=${join(work, 'secrets', c)}`]),
    ],
    out,
    { scrypt, airGap: offline },
  );
  expect(o.stderr).toBe('');
  expect(code).toBe(0);
  idA = (JSON.parse(o.stdout) as { ceremonyId: string }).ceremonyId;
}, 120_000);

afterAll(async () => {
  env?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('init-token --join-domain-share', () => {
  it('refuses --custodians with --join-domain-share (exit 2)', async () => {
    const { o, out } = io();
    const code = await initTokenCommand(['--module', SOFTHSM_MODULE, '--slot', blankSlot(), '--token-label', 'dom-x', '--join-domain-share', shareSpec('alice'), '--custodians', 'a,b', '--out', join(work, 'out'), '--witness', 'w'], out, { airGap: offline });
    expect(code).toBe(2);
    expect(o.stderr).toContain('--custodians cannot be given with --join-domain-share');
  });

  it('with one share of a 2-of-3 domain, refuses before the token changes', async () => {
    const slot = blankSlot();
    const { o, out } = io();
    const code = await initTokenCommand(
      ['--module', SOFTHSM_MODULE, '--slot', slot, '--token-label', 'dom-one', '--join-domain-share', shareSpec('alice'), '--out', join(work, 'out'), '--witness', 'wendy', '--data-dir', data()],
      out,
      { scrypt, airGap: offline },
    );
    expect(code).toBe(1);
    expect(o.stderr).toContain('1 distinct custodian (alice) presented a share; the threshold is 2');
    expect(o.stderr).toContain('the token was not changed');
    expect(blankSlot()).toBe(slot);
  });

  it('initializes token B in the domain of A with two of its share files', async () => {
    const { o, out } = io();
    const code = await initTokenCommand(
      [
        '--module', SOFTHSM_MODULE, '--slot', blankSlot(), '--token-label', 'dom-b', '--join-domain-share', shareSpec('alice'), '--join-domain-share', shareSpec('carol'),
        '--out', join(work, 'out'), '--witness', 'wendy', '--data-dir', data(), '--json',
      ],
      out,
      { scrypt, airGap: offline },
    );
    expect(o.stderr).toBe('');
    expect(code).toBe(0);
    const result = JSON.parse(o.stdout) as { ceremonyId: string; status: string; shares: unknown[]; bundle: { path: string } };
    expect(result.status).toBe('completed');
    expect(result.shares).toEqual([]);
    idB = result.ceremonyId;
    bundleB = result.bundle.path;
  }, 120_000);

  it('records one domain id in both enrolments, the origin and the PIN ceremony in B', async () => {
    const a = await chainEnrolment(idA);
    const b = await chainEnrolment(idB);
    // The domain id of the secret the shares rebuild, computed here from two share files.
    const opened = await Promise.all((['bob', 'carol'] as const).map(async (c) => (await openShareFile(await readFile(shareFile(c)), pass[c], { ceremonyId: idA })).share));
    const secret = await combineShares(opened, 2);
    try {
      expect(a?.domainId).toBe(domainId(secret));
      expect(b?.domainId).toBe(domainId(secret));
      expect(b?.enrolment).toEqual(a?.enrolment);
      expect(b?.secretCheck).toBe(a?.secretCheck);
      expect(b?.pinsCeremonyId).toBe(idB);
      expect(a?.pinsCeremonyId).toBeUndefined();
      // B's PINs are its own: the user PIN derived for A is refused by B, the one derived for B opens it.
      const layer = new Pkcs11TokenLayer();
      await layer.configureModules([{ path: SOFTHSM_MODULE }]);
      try {
        const { session } = await layer.openSession({ uri: 'pkcs11:token=dom-b' }, { readWrite: false });
        await expect(layer.login(session, 'user', derivePins(secret, idA).userPin)).rejects.toMatchObject({ code: 'CKR_PIN_INCORRECT' });
        await layer.login(session, 'user', derivePins(secret, idB).userPin);
        await layer.logout(session);
        await layer.closeSession(session);
      } finally {
        await layer.close();
      }
    } finally {
      wipe(secret, ...opened);
    }
    expect((await findDomainEnrolments(data(), idA)).map((d) => d.chain).sort()).toEqual([idA, idB].sort());
  });

  it('the same share files open both tokens (kms-import quorum login with bob and carol on A and on B)', async () => {
    const onA = await kmsImportOn('dom-a', 'key-on-a', ['bob', 'carol']);
    expect(onA.o.stderr).toBe('');
    expect(onA.code).toBe(0);
    const onB = await kmsImportOn('dom-b', 'key-on-b', ['bob', 'alice']);
    expect(onB.o.stderr).toBe('');
    expect(onB.code).toBe(0);
  }, 120_000);

  it("B's bundle verifies, approvals included", async () => {
    const report = await verifyBundles([bundleB]);
    expect(report.checks.filter((c) => c.status === 'fail')).toEqual([]);
    expect(report.checks.find((c) => c.id === 'approvals')?.status).toBe('pass');
  });
});
