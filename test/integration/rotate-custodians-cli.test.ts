// `keyceremony rotate-custodians` on a fresh SoftHSM token: init-token (alice, bob, carol) and kms-import from
// the command line, then the custodians are replaced by dave, erin and frank. Independently of the ceremony
// code that logs in, the PINs two old shares rebuild are refused by the token (user and SO), those two new
// shares rebuild open it; the key is untouched (kms-rewrap with the new shares exports it with the same check
// value); later ceremonies refuse the old shares and take the new ones; every bundle verifies, including the
// approvals of both sets of custodians, each against the enrolment in force when its quorum opened.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import { combineShares, derivePins, openShareFile, wipe } from '../../src-main/ceremony/quorum/index.js';
import { auditTokenCommand } from '../../src-main/cli/audit-token-command.js';
import { initTokenCommand } from '../../src-main/cli/init-token-command.js';
import { kmsImportCommand } from '../../src-main/cli/kms-import-command.js';
import { kmsRewrapCommand } from '../../src-main/cli/kms-rewrap-command.js';
import { rotateCustodiansCommand } from '../../src-main/cli/rotate-custodians-command.js';
import { runCli } from '../../src-main/cli/main.js';
import { verifyBundles } from '../../src-main/transcript/verify.js';
import { ARN, kmsLikeKey } from '../fixtures/kms/harness.js';
import { createSoftHsmEnv, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';

const pass: Record<string, string> = { alice: 'alice passphrase 1', bob: 'bob passphrase 22', carol: 'carol passphrase 333', dave: 'dave passphrase 4444', erin: 'erin passphrase 55555', frank: 'frank passphrase 666666' };
const offline = () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() });
const SCRYPT = { N: 2 ** 10, r: 8, p: 1 };
const LABEL = 'rotate-cli';
let env: SoftHsmEnv;
let work: string;
let initId: string;
let rotateId: string;
let checkValue: string;
const bundles: string[] = [];

function io() {
  const o = { stdout: '', stderr: '' };
  return { o, out: { stdout: { write: (t: string) => (o.stdout += t) }, stderr: { write: (t: string) => (o.stderr += t) } } };
}

const shareFlags = (folder: string, ...who: string[]) => who.flatMap((c) => ['--share', `${join(work, folder, `${c}.share`)}:${join(work, 'secrets', c)}`]);
const tokenFlags = () => ['--module', SOFTHSM_MODULE, '--token', `pkcs11:token=${LABEL}`, '--witness', 'wendy', '--data-dir', join(work, 'data')];

async function writeParams(name: string): Promise<string> {
  const path = join(work, 'stick', `${name}.json`);
  await writeFile(path, JSON.stringify({ KeyId: ARN, ImportToken: Buffer.from(`token-${name}`).toString('base64'), PublicKey: Buffer.from(kmsLikeKey(2048).spki).toString('base64'), ParametersValidTo: Date.now() / 1000 + 20 * 3600 }));
  return path;
}

const rotateArgs = (sharesOut: string, ...old: string[]) => [
  ...tokenFlags(), ...shareFlags('usb', ...old), '--custodians', 'dave,erin,frank', '--threshold', '2', '--shares-out', join(work, sharesOut), '--out', join(work, 'out'),
  ...['dave', 'erin', 'frank'].flatMap((c) => ['--passphrase-file', `${c}=${join(work, 'secrets', c)}`]),
];

/** The PINs two share files rebuild for enrolment `id`, computed here from the files alone. */
async function pinsOf(folder: string, id: string, who: [string, string]) {
  const opened = await Promise.all(who.map(async (c) => openShareFile(await readFile(join(work, folder, `${c}.share`)), pass[c], { ceremonyId: id })));
  const secret = await combineShares(opened.map((s) => s.share), 2);
  try {
    return derivePins(secret, id, { minPinLength: 4, maxPinLength: 255 });
  } finally {
    wipe(secret);
  }
}

/** Does `pin` log `who` in? Through a fresh module instance; a wrong PIN answers its CKR code. */
async function logsIn(who: 'user' | 'so', pin: string): Promise<true | string> {
  const layer = new Pkcs11TokenLayer();
  try {
    await layer.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
    const { session } = await layer.openSession({ uri: `pkcs11:token=${LABEL}` }, { readWrite: true });
    await layer.login(session, who, pin);
    return true;
  } catch (error) {
    return String((error as { code?: string }).code ?? error);
  } finally {
    await layer.close();
  }
}

beforeAll(async () => {
  env = createSoftHsmEnv();
  work = await mkdtemp(join(tmpdir(), 'kc-rotate-cli-'));
  for (const d of ['usb', 'usb2', 'usb3', 'out', 'secrets', 'data', 'stick', 'kms-out']) await mkdir(join(work, d));
  for (const [name, p] of Object.entries(pass)) await writeFile(join(work, 'secrets', name), `${p}\n`);
  const init = io();
  expect(
    await initTokenCommand(
      ['--module', SOFTHSM_MODULE, '--slot', '0', '--token-label', LABEL, '--custodians', 'alice,bob,carol', '--threshold', '2', '--shares-out', join(work, 'usb'), '--out', join(work, 'out'), '--witness', 'wendy', '--data-dir', join(work, 'data'), '--json', ...['alice', 'bob', 'carol'].flatMap((c) => ['--passphrase-file', `${c}=${join(work, 'secrets', c)}`])],
      init.out,
      { scrypt: SCRYPT, airGap: offline },
    ),
  ).toBe(0);
  const initJson = JSON.parse(init.o.stdout) as { ceremonyId: string; bundle: { path: string } };
  initId = initJson.ceremonyId;
  bundles.push(initJson.bundle.path);
  // A second token joins the same security domain with two of the same shares: after A's rotation it still
  // opens with the old shares, and the rotation must say so.
  const slotB = /^Slot (\d+)[\s\S]*?Initialized:\s+no/m.exec(execFileSync('softhsm2-util', ['--show-slots'], { env: process.env, encoding: 'utf8' }).split(/\n(?=Slot \d+)/).find((b) => /Initialized:\s+no/.test(b)) ?? '')?.[1];
  const joinB = io();
  expect(
    await initTokenCommand(
      ['--module', SOFTHSM_MODULE, '--slot', slotB as string, '--token-label', `${LABEL}-b`, ...['alice', 'carol'].flatMap((c) => ['--join-domain-share', `${join(work, 'usb', `${c}.share`)}:${join(work, 'secrets', c)}`]), '--out', join(work, 'out'), '--witness', 'wendy', '--data-dir', join(work, 'data'), '--json'],
      joinB.out,
      { scrypt: SCRYPT, airGap: offline },
    ),
    joinB.o.stderr,
  ).toBe(0);
  const imp = io();
  expect(await kmsImportCommand([...tokenFlags(), ...shareFlags('usb', 'alice', 'bob'), '--params', await writeParams('first'), '--wrapping-algorithm', 'RSAES_OAEP_SHA_1', '--key-spec', 'SYMMETRIC_DEFAULT', '--key-label', 'k1', '--out', join(work, 'kms-out'), '--bundle-out', join(work, 'out'), '--json'], imp.out, { airGap: offline })).toBe(0);
  const impJson = JSON.parse(imp.o.stdout) as { checkValue: { value: string }; bundle: { path: string } };
  checkValue = impJson.checkValue.value;
  bundles.push(impJson.bundle.path);
}, 120_000);

afterAll(async () => {
  env?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('keyceremony rotate-custodians', () => {
  it('is listed, has help, and refuses bad flags and a used shares folder with exit 2, before anything starts', async () => {
    const main = io();
    await runCli(['--help'], main.out);
    expect(main.o.stdout).toContain('rotate-custodians');
    const help = io();
    expect(await runCli(['rotate-custodians', '--help'], help.out)).toBe(0);
    expect(help.o.stdout).toContain('Usage: keyceremony rotate-custodians --module PATH');
    const noPass = io();
    expect(await runCli(['rotate-custodians', ...rotateArgs('usb2', 'alice', 'bob').slice(0, -2)], noPass.out)).toBe(2);
    expect(noPass.o.stderr).toContain('--passphrase-file is missing for frank');
    const used = io();
    expect(await rotateCustodiansCommand(rotateArgs('usb', 'alice', 'bob').map((a) => a.replace('dave,erin,frank', 'alice,erin,frank').replace(/^dave=/, 'alice=')), used.out, { airGap: offline, scrypt: SCRYPT })).toBe(2);
    expect(used.o.stderr).toContain('--shares-out');
  });

  it('with one current share: the quorum is not reached, nothing changes, the old shares still open the token', async () => {
    const { o, out } = io();
    expect(await rotateCustodiansCommand(rotateArgs('usb3', 'alice'), out, { airGap: offline, scrypt: SCRYPT })).toBe(1);
    expect(o.stderr).toContain('the quorum was not reached');
    expect(await readdir(join(work, 'usb3'))).toEqual([]);
    expect(await logsIn('user', (await pinsOf('usb', initId, ['alice', 'carol'])).userPin)).toBe(true);
  });

  it('replaces the custodians: the token refuses what the old shares rebuild and opens with the new ones', async () => {
    const oldPins = await pinsOf('usb', initId, ['bob', 'carol']);
    const { o, out } = io();
    const code = await rotateCustodiansCommand([...rotateArgs('usb2', 'alice', 'bob'), '--json'], out, { airGap: offline, scrypt: SCRYPT });
    expect(o.stderr).toBe('');
    expect(code).toBe(0);
    const res = JSON.parse(o.stdout) as { ceremonyId: string; status: string; rotation: { changed: string[]; oldSharesRefused: boolean; otherTokens: unknown[]; note: string }; shares: { path: string }[]; bundle: { path: string } };
    rotateId = res.ceremonyId;
    bundles.push(res.bundle.path);
    expect(res.rotation).toMatchObject({ changed: ['user', 'so'], oldSharesRefused: true });
    // The token that joined the old domain is named: it still opens with the old shares.
    expect(res.rotation.otherTokens).toEqual([{ label: `${LABEL}-b`, serial: expect.any(String) }]);
    expect(res.rotation.note).toContain('1 other token(s) of the old domain still open with the old shares');
    expect(res.shares.map((s) => s.path).sort()).toEqual(['dave', 'erin', 'frank'].map((c) => join(work, 'usb2', `${c}.share`)));
    // Checked here from the files alone: old PINs refused, new PINs (any two new shares) accepted.
    expect(await logsIn('user', oldPins.userPin)).toBe('CKR_PIN_INCORRECT');
    expect(await logsIn('so', oldPins.soPin)).toBe('CKR_PIN_INCORRECT');
    const newPins = await pinsOf('usb2', rotateId, ['erin', 'frank']);
    expect(await logsIn('user', newPins.userPin)).toBe(true);
    expect(await logsIn('so', newPins.soPin)).toBe(true);
  });

  it('leaves the key untouched: kms-rewrap with the new shares exports it with the recorded check value', async () => {
    const { o, out } = io();
    const code = await kmsRewrapCommand([...tokenFlags(), ...shareFlags('usb2', 'dave', 'frank'), '--params', await writeParams('second'), '--wrapping-algorithm', 'RSAES_OAEP_SHA_1', '--key-spec', 'SYMMETRIC_DEFAULT', '--key-label', 'k1', '--out', join(work, 'kms-out'), '--bundle-out', join(work, 'out'), '--json'], out, { airGap: offline });
    expect(o.stderr).toBe('');
    expect(code).toBe(0);
    const res = JSON.parse(o.stdout) as { checkValue: { value: string }; bundle: { path: string } };
    expect(res.checkValue.value).toBe(checkValue);
    bundles.push(res.bundle.path);
  });

  it('refuses the old shares in later ceremonies, takes the new ones, and every bundle verifies', async () => {
    const old = io();
    expect(await auditTokenCommand([...tokenFlags(), ...shareFlags('usb', 'alice', 'bob'), '--bundle-out', join(work, 'out')], old.out, { airGap: offline })).toBe(1);
    expect(old.o.stderr).toContain(`step login: alice's share file is from ceremony ${initId}, whose custodians were replaced by ceremony ${rotateId}: the token refuses their shares and opens now only with 2 of`);
    const fresh = io();
    expect(await auditTokenCommand([...tokenFlags(), ...shareFlags('usb2', 'erin', 'dave'), '--bundle-out', join(work, 'out')], fresh.out, { airGap: offline })).toBe(0);
    expect(fresh.o.stdout).toContain('match its transcript');
    bundles.push(/^Transcript bundle: (.+)$/m.exec(fresh.o.stdout)?.[1] as string);
    const report = await verifyBundles(bundles);
    expect(report.checks.filter((c) => c.status === 'fail')).toEqual([]);
    const approvals = report.checks.find((c) => c.id === 'approvals');
    expect(approvals?.status).toBe('pass');
    // The old custodians' approvals before the rotation and the new ones' after it, each against its own enrolment.
    expect(approvals?.detail).toContain('head: dave, erin');
    expect(approvals?.detail).toContain('login: erin, dave');
    expect(approvals?.detail).toContain('login: alice, bob');
    const verify = io();
    expect(await runCli(['verify', ...bundles], verify.out), verify.o.stdout + verify.o.stderr).toBe(0);
  });
});
