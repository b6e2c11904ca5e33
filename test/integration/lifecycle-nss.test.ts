// The lifecycle ceremonies on the NSS softoken, a second PKCS#11 implementation: enrol-token on a database
// whose password certutil set, kms-import of an AES key and a P-256 pair, then audit-token (clean),
// destroy-key of the pair (gone, as a fresh session of the test sees it), audit-token again, and
// rotate-custodians (NSS has no SO PIN: only the database password changes); the database password the old
// shares rebuild is then refused and the new one accepted, asked through the test's own module instance.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import type { SlotRef } from '../../hsm/types.js';
import { combineShares, derivePins, openShareFile, wipe } from '../../src-main/ceremony/quorum/index.js';
import { auditTokenCommand } from '../../src-main/cli/audit-token-command.js';
import { destroyKeyCommand } from '../../src-main/cli/destroy-key-command.js';
import { kmsImportCommand } from '../../src-main/cli/kms-import-command.js';
import { rotateCustodiansCommand } from '../../src-main/cli/rotate-custodians-command.js';
import { verifyBundles } from '../../src-main/transcript/verify.js';
import { ARN, kmsLikeKey } from '../fixtures/kms/harness.js';
import { enrolArgs, enrolWork, io, offline, PASS, runEnrol, SCRYPT, shareFlags, type EnrolWork } from '../helpers/enrol-token.js';
import { createNssDb, NSS_DB_TOKEN_LABEL, NSS_SOFTOKEN_MODULE, type NssDb } from '../helpers/nss.js';

let nss: NssDb;
let w: EnrolWork;
let slot: SlotRef;
let enrolmentId: string;
const bundles: string[] = [];
const NEW_PASS: Record<string, string> = { dave: 'dave passphrase 4444', erin: 'erin passphrase 55555' };

beforeAll(async () => {
  nss = createNssDb({ password: 'nss-db-password-lifecycle' });
  w = await enrolWork('kc-life-nss-');
  const layer = new Pkcs11TokenLayer();
  await layer.configureModules([nss.module]);
  const db = (await layer.listSlots(NSS_SOFTOKEN_MODULE)).find((s) => s.token?.label === NSS_DB_TOKEN_LABEL);
  await layer.close();
  slot = { moduleId: NSS_SOFTOKEN_MODULE, slotId: db?.slotId as string };
  const r = await runEnrol(await enrolArgs(w, { module: NSS_SOFTOKEN_MODULE, initParameters: nss.module.initParameters as string, slot: slot.slotId, userPin: 'nss-db-password-lifecycle' }));
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  enrolmentId = r.json?.ceremonyId as string;
  bundles.push(r.json?.bundle?.path as string);
  for (const [label, spec, alg] of [['n-aes', 'SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_256'], ['n-p256', 'ECC_NIST_P256', 'RSA_AES_KEY_WRAP_SHA_256']] as const) {
    const params = join(w.dir, `${label}.json`);
    await writeFile(params, JSON.stringify({ KeyId: ARN, ImportToken: Buffer.from('t').toString('base64'), PublicKey: Buffer.from(kmsLikeKey(2048).spki).toString('base64'), ParametersValidTo: Date.now() / 1000 + 20 * 3600 }));
    const { o, out } = io();
    expect(await kmsImportCommand([...nssArgs(), '--params', params, '--wrapping-algorithm', alg, '--key-spec', spec, '--key-label', label, '--out', w.out, '--bundle-out', w.out, '--witness', 'wendy', '--data-dir', w.data, ...shareFlags(w, 'bob', 'carol'), '--json'], out, { airGap: offline })).toBe(0);
    bundles.push((JSON.parse(o.stdout) as { bundle: { path: string } }).bundle.path);
  }
}, 180_000);

afterAll(async () => {
  nss?.cleanup();
  if (w) await rm(w.dir, { recursive: true, force: true });
});

const nssArgs = () => ['--module', NSS_SOFTOKEN_MODULE, '--init-parameters', nss.module.initParameters as string, '--slot', slot.slotId];
const common = (shares: string[]) => [...nssArgs(), '--bundle-out', w.out, '--witness', 'wendy', '--data-dir', w.data, ...shares];

async function audit(shares: string[]): Promise<{ code: number; stdout: string }> {
  const { o, out } = io();
  const code = await auditTokenCommand(common(shares), out, { airGap: offline });
  bundles.push(/^Transcript bundle: (.+)$/m.exec(o.stdout)?.[1] as string);
  return { code, stdout: o.stdout };
}

/** The database password two share files rebuild, and whether it opens the database now (a fresh module instance). */
async function passwordOpens(folder: string, id: string, who: [string, string], pass: Record<string, string>): Promise<{ opens: boolean; labels: string[] }> {
  const opened = await Promise.all(who.map(async (c) => openShareFile(await readFile(join(folder, `${c}.share`)), pass[c], { ceremonyId: id })));
  const secret = await combineShares(opened.map((o) => o.share), 2);
  const layer = new Pkcs11TokenLayer();
  try {
    await layer.configureModules([nss.module]);
    const token = (await layer.listSlots(NSS_SOFTOKEN_MODULE)).find((s) => s.slotId === slot.slotId)?.token;
    const pin = derivePins(secret, id, { minPinLength: token?.minPinLength, maxPinLength: token?.maxPinLength }).userPin;
    const { session } = await layer.openSession(slot, { readWrite: false });
    try {
      await layer.login(session, 'user', pin);
    } catch (error) {
      if ((error as { code?: string }).code === 'CKR_PIN_INCORRECT') return { opens: false, labels: [] };
      throw error;
    }
    const labels: string[] = [];
    for (const h of await layer.findAll(session, {})) labels.push(String((await layer.getAttributes(session, h, ['CKA_LABEL'])).CKA_LABEL));
    return { opens: true, labels: labels.sort() };
  } finally {
    wipe(secret);
    await layer.close();
  }
}

describe('the lifecycle ceremonies on the NSS softoken', () => {
  it('audits clean, destroys the P-256 pair, audits clean again', async () => {
    const first = await audit(shareFlags(w, 'alice', 'bob'));
    expect(first.stdout).toMatch(/Audit: the token's \d+ object\(s\) match its transcript\./);
    expect(first.code).toBe(0);
    const { o, out } = io();
    expect(await destroyKeyCommand([...common(shareFlags(w, 'alice', 'carol')), '--key-label', 'n-p256'], out, { airGap: offline })).toBe(0);
    expect(o.stdout).toContain("Key 'n-p256' (ECC_NIST_P256, check value");
    expect(o.stdout).toContain('destroyed: 2 object(s)');
    bundles.push(/^Transcript bundle: (.+)$/m.exec(o.stdout)?.[1] as string);
    const seen = await passwordOpens(w.shares, enrolmentId, ['alice', 'bob'], PASS);
    expect(seen.labels).not.toContain('n-p256');
    expect(seen.labels).toContain('n-aes');
    const second = await audit(shareFlags(w, 'bob', 'carol'));
    expect(second.code).toBe(0);
  });

  it('rotates the custodians: the database password the old shares rebuild is refused, the new one opens it', async () => {
    const usb2 = join(w.dir, 'usb2');
    await mkdir(usb2);
    for (const [c, p] of Object.entries(NEW_PASS)) await writeFile(join(w.secrets, c), p);
    const { o, out } = io();
    const code = await rotateCustodiansCommand(
      [...nssArgs(), ...shareFlags(w, 'alice', 'bob'), '--custodians', 'dave,erin', '--threshold', '2', '--shares-out', usb2, '--out', w.out, '--witness', 'wendy', '--data-dir', w.data, '--json', ...Object.keys(NEW_PASS).flatMap((c) => ['--passphrase-file', `${c}=${join(w.secrets, c)}`])],
      out,
      { airGap: offline, scrypt: SCRYPT },
    );
    expect(o.stderr).toBe('');
    expect(code).toBe(0);
    const res = JSON.parse(o.stdout) as { ceremonyId: string; rotation: { changed: string[]; oldSharesRefused: boolean }; bundle: { path: string } };
    expect(res.rotation).toMatchObject({ changed: ['user'], oldSharesRefused: true });
    bundles.push(res.bundle.path);
    expect((await passwordOpens(w.shares, enrolmentId, ['alice', 'bob'], PASS)).opens).toBe(false);
    expect((await passwordOpens(usb2, res.ceremonyId, ['dave', 'erin'], NEW_PASS)).opens).toBe(true);
    const after = await audit(['dave', 'erin'].flatMap((c) => ['--share', `${join(usb2, `${c}.share`)}:${join(w.secrets, c)}`]));
    expect(after.code).toBe(0);
    const report = await verifyBundles(bundles);
    expect(report.checks.filter((c) => c.status === 'fail')).toEqual([]);
  });
});
