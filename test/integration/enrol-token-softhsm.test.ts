// enrol-token on a SoftHSM token initialized by softhsm2-util with known PINs (as a vendor tool would):
// both PINs are replaced, the old ones open nothing, the ones two shares rebuild open the token; the
// bundle verifies; kms-import then runs on it as on a token init-token enrolled, with its export unwrapped
// independently and its bundle verified with the enrol-token one. The command line refuses bad usage and
// PIN files that are not small regular files.
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src-main/cli/main.js';
import { kmsImportCommand } from '../../src-main/cli/kms-import-command.js';
import { ARN, checkRecovered, independentUnwrap, kmsLikeKey } from '../fixtures/kms/harness.js';
import { enrolArgs, enrolWork, io, offline, opensWith, pinsFromShares, runEnrol, shareFlags, strictMaterialCheck, type EnrolWork } from '../helpers/enrol-token.js';
import { createSoftHsmEnv, initSoftHsmToken, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';

const SO = 'vendor-so-8765';
const USER = 'vendor-user-1234';
const module = { path: SOFTHSM_MODULE, source: 'user' as const };
let env: SoftHsmEnv;
let w: EnrolWork;
let slotId: string;
let enrolmentId: string;
let enrolBundle: string;

beforeAll(async () => {
  env = createSoftHsmEnv();
  slotId = initSoftHsmToken('vendor-token', SO, USER);
  w = await enrolWork('kc-enrol-softhsm-');
  const r = await runEnrol(await enrolArgs(w, { module: SOFTHSM_MODULE, slot: slotId, userPin: USER, soPin: SO }));
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.json?.status).toBe('completed');
  enrolmentId = r.json?.ceremonyId as string;
  enrolBundle = r.json?.bundle?.path as string;
}, 120_000);

afterAll(async () => {
  env?.cleanup();
  if (w) await rm(w.dir, { recursive: true, force: true });
});

describe('enrol-token on SoftHSM', () => {
  it('replaced both PINs: the vendor ones open nothing, the ones two shares rebuild open the token', async () => {
    const slot = { moduleId: SOFTHSM_MODULE, slotId };
    expect(await opensWith(module, slot, 'user', USER)).toBe(false);
    expect(await opensWith(module, slot, 'so', SO)).toBe(false);
    const pins = await pinsFromShares(w, enrolmentId, ['bob', 'carol'], { minPinLength: 4, maxPinLength: 255 });
    expect(await opensWith(module, slot, 'user', pins.userPin)).toBe(true);
    expect(await opensWith(module, slot, 'so', pins.soPin)).toBe(true);
  });

  it('wrote the enrolment into the chain and its bundle verifies', async () => {
    const transcript = await readFile(join(enrolBundle, 'transcript.jsonl'), 'utf8');
    const kinds = transcript.trim().split('\n').map((l) => (JSON.parse(l) as { kind: string }).kind);
    expect(kinds[0]).toBe('genesis');
    expect(kinds).toContain('enrolment');
    const v = io();
    expect(await runCli(['verify', enrolBundle], v.out), v.o.stdout).toBe(0);
  });

  it('kms-import runs on it as on a token init-token enrolled', async () => {
    const kms = kmsLikeKey(2048);
    const params = join(w.dir, 'params.json');
    await writeFile(params, JSON.stringify({ KeyId: ARN, ImportToken: Buffer.from('import-token').toString('base64'), PublicKey: Buffer.from(kms.spki).toString('base64'), ParametersValidTo: Date.now() / 1000 + 20 * 3600 }));
    const { o, out } = io();
    const code = await kmsImportCommand(
      ['--module', SOFTHSM_MODULE, '--token', 'pkcs11:token=vendor-token', '--params', params, '--wrapping-algorithm', 'RSAES_OAEP_SHA_1', '--key-spec', 'SYMMETRIC_DEFAULT', '--key-label', 'after-enrol', '--out', w.out, '--bundle-out', w.out, '--witness', 'wendy', '--data-dir', w.data, ...shareFlags(w, 'alice', 'carol'), '--json'],
      out,
      { airGap: offline },
    );
    expect(o.stderr).toBe('');
    expect(code).toBe(0);
    const result = JSON.parse(o.stdout) as { checkValue: { value: string; method: string }; importBundle: { path: string }; bundle: { path: string } };
    const material = independentUnwrap(kms, 'RSAES_OAEP_SHA_1', new Uint8Array(await readFile(join(result.importBundle.path, 'EncryptedKeyMaterial.bin'))));
    strictMaterialCheck('SYMMETRIC_DEFAULT', material);
    checkRecovered('SYMMETRIC_DEFAULT', material, result.checkValue as never);
    const v = io();
    expect(await runCli(['verify', enrolBundle, result.bundle.path], v.out), v.o.stdout).toBe(0);
  });
});

describe('keyceremony enrol-token usage', () => {
  // Empty share and bundle folders: the enrolled token's own are full.
  let fresh: EnrolWork;
  beforeAll(async () => {
    fresh = await enrolWork('kc-enrol-usage-');
  });
  afterAll(async () => {
    if (fresh) await rm(fresh.dir, { recursive: true, force: true });
  });

  it('is listed and has help', async () => {
    const main = io();
    await runCli(['--help'], main.out);
    expect(main.o.stdout).toContain('enrol-token');
    const help = io();
    expect(await runCli(['enrol-token', '--help'], help.out)).toBe(0);
    expect(help.o.stdout).toContain('--current-user-pin-file FILE');
  });

  it.each([
    ['no current PIN', (a: string[]) => a.filter((x, i) => x !== '--current-user-pin-file' && a[i - 1] !== '--current-user-pin-file'), "--current-user-pin-file FILE is required (the user PIN the token's vendor tool set)."],
    ['plain shares outside a rehearsal', (a: string[]) => [...a.filter((x, i) => x !== '--passphrase-file' && a[i - 1] !== '--passphrase-file'), '--insecure-plain-shares'], '--insecure-plain-shares is for rehearsals only'],
    ['the PIN on argv', (a: string[]) => [...a, '--pin', '1234'], "Unknown option '--pin'"],
    ['both the PIN and previous shares', (a: string[]) => [...a, '--previous-share', '/tmp/x.share'], 'give either --current-user-pin-file (and --current-so-pin-file) or --previous-share, not both.'],
  ])('refuses %s with exit 2, touching nothing', async (_name, edit, message) => {
    const { o, out } = io();
    const args = edit(await enrolArgs(fresh, { module: SOFTHSM_MODULE, slot: slotId, userPin: 'whatever-pin' }));
    expect(await runCli(['enrol-token', ...args], out)).toBe(2);
    expect(o.stderr).toContain(message);
  });

  it.each([
    ['/dev/zero', '/dev/zero'],
    ['a folder', '/tmp'],
  ])('refuses %s as --current-user-pin-file (the bounded reader) with exit 2, naming the flag', async (_name, path) => {
    const args = await enrolArgs(fresh, { module: SOFTHSM_MODULE, slot: slotId, userPin: 'x' });
    const i = args.indexOf('--current-user-pin-file');
    args[i + 1] = path;
    const { o, out } = io();
    expect(await runCli(['enrol-token', ...args], out)).toBe(2);
    expect(o.stderr).toContain(`keyceremony enrol-token: --current-user-pin-file ${path}`);
  });

  it('refuses an empty SO PIN file with exit 2, and an empty user PIN at the PIN check (SoftHSM requires a login)', async () => {
    const so = await enrolArgs(fresh, { module: SOFTHSM_MODULE, slot: slotId, userPin: 'x', soPin: '' });
    const a = io();
    expect(await runCli(['enrol-token', ...so], a.out)).toBe(2);
    expect(a.o.stderr).toContain(`--current-so-pin-file ${join(fresh.secrets, 'so-pin')}: the file is empty.`);
    const r = await runEnrol(await enrolArgs(fresh, { module: SOFTHSM_MODULE, slot: slotId, userPin: '' }));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("step current-pins: input.currentUserPin: is empty, but token 'vendor-token'");
    expect(await readdir(fresh.shares)).toEqual([]);
  });
});
