// The hostile inputs of issue 12, each of which used to leave an erased token nobody could open, on real
// SoftHSM, through `keyceremony init-token` (the CLI) and through the engine (the app's path):
//   - a label with a trailing space ('blank5 '): refused in words before anything is recorded or touched;
//   - a carol.share already in the share folder: refused before anything (CLI) / for carol only, with the
//     token untouched, and carol's share then goes to another folder (app);
//   - a read-only and a full share folder (tmpfs mounts; skipped with the reason printed if not root);
//   - a failure after the token was initialized (the bundle folder vanishes before export): the attempt is
//     aborted, and the command it prints re-initializes the token from the aborted attempt's shares.
// (kill -9 at every moment and at random ones: ceremony-crash.test.ts.)
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import { initTokenCommand, type InitTokenOverrides } from '../../src-main/cli/init-token-command.js';
import { CeremonyService } from '../../src-main/ceremony/engine/service.js';
import { combineShares, derivePins, openShareFile, wipe } from '../../src-main/ceremony/quorum/index.js';
import { createSoftHsmEnv, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';
import { probeTmpfsMount } from '../helpers/tmpfs-probe.js';

const SCRYPT = { N: 2 ** 10, r: 8, p: 1 };
const offline = () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() });
const PASS = { alice: 'alice passphrase 1', bob: 'bob passphrase 22', carol: 'carol passphrase 333' } as const;
const CUSTODIANS = Object.keys(PASS) as (keyof typeof PASS)[];

/** Can this process mount a tmpfs (a "USB stick" that can be made read-only or full)? The reason is printed when not. */
const media = probeTmpfsMount();
if (!media.ok) console.warn(`ceremony-init-token-hostile: the read-only and full stick tests are SKIPPED, this process cannot mount a tmpfs (${media.reason}); they need root.`);
const mounted: string[] = [];

let env: SoftHsmEnv;
let work: string;
let layer: Pkcs11TokenLayer;

/** A fresh layer: the CLI run in this process finalizes the SoftHSM module when it closes its own. */
async function reopen(): Promise<Pkcs11TokenLayer> {
  await layer?.close().catch(() => undefined);
  layer = new Pkcs11TokenLayer();
  await layer.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
  return layer;
}

beforeAll(async () => {
  env = createSoftHsmEnv();
  work = await mkdtemp(join(tmpdir(), 'kc-init-hostile-'));
  await mkdir(join(work, 'secrets'));
  for (const [name, p] of Object.entries(PASS)) await writeFile(join(work, 'secrets', name), `${p}\n`);
  await reopen();
});
afterAll(async () => {
  for (const dir of mounted.reverse()) {
    try {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
    } catch (e) {
      console.warn(`could not unmount ${dir}: ${(e as Error).message}`);
    }
  }
  await layer?.close();
  env?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Every token SoftHSM holds, by label: a refused ceremony must leave this unchanged. */
async function initializedLabels(): Promise<string[]> {
  return (await layer.listSlots(SOFTHSM_MODULE)).filter((s) => s.token?.initialized).map((s) => (s.token?.label ?? '').trim()).sort();
}
const blankSlot = async () => (await layer.listSlots(SOFTHSM_MODULE)).find((s) => s.token && !s.token.initialized)!.slotId;

function argv(o: { label: string; shares: string; out: string; data: string; token?: string[] }): string[] {
  return [
    '--module', SOFTHSM_MODULE, ...(o.token ?? ['--slot', '0']), '--token-label', o.label, '--custodians', CUSTODIANS.join(','), '--threshold', '2',
    '--shares-out', o.shares, '--out', o.out, '--witness', 'wendy', '--data-dir', o.data,
    ...CUSTODIANS.flatMap((c) => ['--passphrase-file', `${c}=${join(work, 'secrets', c)}`]),
  ];
}

async function cli(args: string[], overrides: InitTokenOverrides = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await initTokenCommand(args, { stdout: { write: (t: string) => ((stdout += t), true) }, stderr: { write: (t: string) => ((stderr += t), true) } }, { scrypt: SCRYPT, airGap: offline, scriptsDir: resolve('ceremonies'), ...overrides });
  await reopen();
  return { code, stdout, stderr };
}

async function folders(name: string): Promise<{ shares: string; out: string; data: string }> {
  const base = join(work, name);
  for (const d of ['shares', 'out']) await mkdir(join(base, d), { recursive: true });
  return { shares: join(base, 'shares'), out: join(base, 'out'), data: join(base, 'data') };
}

describe('keyceremony init-token refuses, before anything, what would leave a token nobody can open', () => {
  it("a label with a trailing space ('blank5 '): said in words, nothing recorded, the token untouched", async () => {
    const f = await folders('trailing');
    const before = await initializedLabels();
    const r = await cli(argv({ label: 'blank5 ', ...f }));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--token-label 'blank5 ' ends with a space; a token pads its label with spaces, so it would store 'blank5' and the token could not be found by the label given. Remove the trailing space.");
    expect(existsSync(f.data)).toBe(false);
    expect(await initializedLabels()).toEqual(before);
  });

  it('a label over 32 bytes in UTF-8 (16 characters, 48 bytes) is refused the same way', async () => {
    const f = await folders('bytes');
    const r = await cli(argv({ label: 'ÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅ'.replace(/Å/g, '€'), ...f }));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("is 48 bytes in UTF-8; a token label holds at most 32. Shorten it");
  });

  it('a carol.share already in --shares-out: refused before anything, carol.share left as it was, the token untouched', async () => {
    const f = await folders('carol-exists');
    writeFileSync(join(f.shares, 'carol.share'), 'an old share file\n');
    const before = await initializedLabels();
    const r = await cli(argv({ label: 'carol-exists', ...f }));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`keyceremony init-token: --shares-out: ${f.shares} already holds carol.share; a share file is never overwritten`);
    expect(r.stderr).toContain('Nothing was written and the token is untouched.');
    expect(readFileSync(join(f.shares, 'carol.share'), 'utf8')).toBe('an old share file\n');
    expect(readdirSync(f.shares)).toEqual(['carol.share']);
    expect(existsSync(f.data)).toBe(false);
    expect(await initializedLabels()).toEqual(before);
  });

  it.skipIf(!media.ok)('a read-only stick and a full stick: refused before anything, the token untouched', async () => {
    const f = await folders('media');
    const ro = join(work, 'media', 'ro');
    const full = join(work, 'media', 'full');
    for (const [dir, opts] of [[ro, 'size=1m'], [full, 'size=64k']] as const) {
      await mkdir(dir);
      execFileSync('mount', ['-t', 'tmpfs', '-o', `${opts},mode=0755`, 'tmpfs', dir], { stdio: 'pipe' });
      mounted.push(dir);
    }
    execFileSync('mount', ['-o', 'remount,ro', ro], { stdio: 'pipe' });
    // Fill the small stick: what is left is less than three share files need.
    try {
      writeFileSync(join(full, 'filler'), Buffer.alloc(64 * 1024));
    } catch {
      // ENOSPC once it is full: that is the point.
    }
    const before = await initializedLabels();
    const readOnly = await cli(argv({ label: 'ro-stick', ...f, shares: ro }));
    expect(readOnly.code).toBe(2);
    expect(readOnly.stderr).toContain(`--shares-out: ${ro} is not writable (EROFS)`);
    const fullStick = await cli(argv({ label: 'full-stick', ...f, shares: full }));
    expect(fullStick.code).toBe(2);
    expect(fullStick.stderr).toMatch(new RegExp(`--shares-out: ${full} has \\d+ bytes free; 196608 are needed`));
    expect(await initializedLabels()).toEqual(before);
    expect(existsSync(f.data)).toBe(false);
  });
});

describe('a failure after the token was initialized is a way out, not a brick', () => {
  it('the bundle folder vanishes at the final export: the ceremony completed before it, and the shares written open the token', async () => {
    // `completed` is recorded before the final export (a bundle holds its whole ceremony), so a failure of the
    // export itself leaves an enrolled token: the way out is not a re-initialization.
    const f = await folders('late');
    const r = await cli(argv({ label: 'late-fail', ...f, token: ['--slot', await blankSlot()] }), {
      onRecorded: async (ref) => {
        if (ref.step === 'head' && ref.kind === 'result') await rm(f.out, { recursive: true });
      },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).not.toContain('was aborted and the abort recorded');
    expect(r.stderr).toMatch(/ceremony init-token-\S+ completed before this failure: the token is enrolled \(2 of the share files in \S+ open it\)/);
    expect(r.stderr).not.toContain('--previous-share');
    const opened = await Promise.all((['bob', 'carol'] as const).map(async (c) => openShareFile(await readFile(join(f.shares, `${c}.share`)), PASS[c])));
    const secret = await combineShares(opened.map((o) => o.share), 2);
    const slot = (await layer.listSlots(SOFTHSM_MODULE)).find((s) => s.token?.label.trim() === 'late-fail')!;
    const pins = derivePins(secret, opened[0]!.ceremonyId, { minPinLength: slot.token!.minPinLength, maxPinLength: slot.token!.maxPinLength });
    wipe(secret);
    const { session } = await layer.openSession({ moduleId: SOFTHSM_MODULE, slotId: slot.slotId }, { readWrite: false });
    try {
      await layer.login(session, 'user', pins.userPin);
    } finally {
      await layer.closeSession(session);
    }
  });
});

describe('the same refusals in the app (the engine), where custodians come one at a time', () => {
  let service: CeremonyService;
  beforeAll(async () => {
    service = new CeremonyService({ layer: await reopen(), dataDir: join(work, 'app-data'), scriptsDir: resolve('ceremonies'), airGap: offline, appVersion: '0.1.0-test', scrypt: SCRYPT });
  });
  afterAll(async () => service?.close());

  it("'blank5 ' cannot start a ceremony: nothing recorded", async () => {
    await expect(service.start({ script: 'init-token', parameters: { tokenLabel: 'blank5 ', custodians: CUSTODIANS, threshold: 2 } })).rejects.toMatchObject({
      code: 'script-parameter',
      message: "parameters.tokenLabel 'blank5 ' ends with a space; a token pads its label with spaces, so it would store 'blank5' and the token could not be found by the label given. Remove the trailing space",
    });
    expect(existsSync(join(work, 'app-data', 'ceremonies'))).toBe(false);
  });

  it("carol's stick already holds a carol.share: her share is refused, the token is still blank; on another stick the ceremony completes", async () => {
    const sticks = await folders('app-carol');
    const carolStick = join(work, 'app-carol', 'carol-stick');
    await mkdir(carolStick);
    writeFileSync(join(sticks.shares, 'carol.share'), 'old');
    const before = await initializedLabels();
    let view = await service.start({ script: 'init-token', parameters: { tokenLabel: 'app-carol', custodians: CUSTODIANS, threshold: 2 } });
    const id = view.ceremonyId;
    const step = async (s: string, input: Record<string, unknown>) => (view = (await service.perform(id, s, input)).view);
    await step('participants', { administrator: 'admin', witnesses: ['wendy'] });
    await step('airgap', {});
    await step('token', { moduleId: SOFTHSM_MODULE, slotId: await blankSlot() });
    await step('secret', {});
    await step('shares', { custodian: 'alice', passphrase: PASS.alice, destinationDir: sticks.shares });
    await step('shares', { custodian: 'bob', passphrase: PASS.bob, destinationDir: sticks.shares });
    await expect(service.perform(id, 'shares', { custodian: 'carol', passphrase: PASS.carol, destinationDir: sticks.shares })).rejects.toMatchObject({ code: 'share-file-exists' });
    expect(await initializedLabels()).toEqual(before);
    expect(readFileSync(join(sticks.shares, 'carol.share'), 'utf8')).toBe('old');
    await step('shares', { custodian: 'carol', passphrase: PASS.carol, destinationDir: carolStick });
    for (const s of ['prove', 'init', 'pins', 'audit-key', 'genesis', 'enrol']) await step(s, s === 'init' ? { confirm: 'INITIALIZE' } : {});
    await step('sign-off', { witnesses: [{ name: 'wendy' }] });
    await step('head', { shareFile: join(sticks.shares, 'alice.share'), passphrase: PASS.alice });
    await step('head', { shareFile: join(carolStick, 'carol.share'), passphrase: PASS.carol });
    await step('export', { destinationDir: sticks.out });
    expect(view.status).toBe('completed');
  });

  it('aborted right after init in the app: the next attempt in the same app session re-initializes the token from its shares', async () => {
    const sticks = await folders('app-abort');
    let view = await service.start({ script: 'init-token', parameters: { tokenLabel: 'app-abort', custodians: CUSTODIANS, threshold: 2 } });
    let id = view.ceremonyId;
    const step = async (s: string, input: Record<string, unknown>) => (view = (await service.perform(id, s, input)).view);
    await step('participants', { administrator: 'admin', witnesses: ['wendy'] });
    await step('airgap', {});
    await step('token', { moduleId: SOFTHSM_MODULE, slotId: await blankSlot() });
    await step('secret', {});
    for (const c of CUSTODIANS) await step('shares', { custodian: c, passphrase: PASS[c], destinationDir: sticks.shares });
    await step('prove', {});
    await step('init', { confirm: 'INITIALIZE' });
    await service.abort(id, 'the room stopped after init');
    const again = join(work, 'app-abort', 'again');
    await mkdir(again);
    view = await service.start({ script: 'init-token', parameters: { tokenLabel: 'app-abort', custodians: CUSTODIANS, threshold: 2 } });
    id = view.ceremonyId;
    await step('participants', { administrator: 'admin', witnesses: ['wendy'] });
    await step('airgap', {});
    await step('token', { uri: 'pkcs11:token=app-abort' });
    await step('secret', {});
    for (const c of CUSTODIANS) await step('shares', { custodian: c, passphrase: PASS[c], destinationDir: again });
    await step('prove', {});
    await expect(service.perform(id, 'init', { confirm: 'INITIALIZE' })).rejects.toMatchObject({ code: 'token-so-pin-needed', remedy: expect.stringContaining('--previous-share FILE:PASSPHRASE_FILE') });
    await step('init', { confirm: 'INITIALIZE', previousShares: (['alice', 'carol'] as const).map((c) => ({ shareFile: join(sticks.shares, `${c}.share`), passphrase: PASS[c] })) });
    expect(view.currentStepId).toBe('pins');
    await service.abort(id, 'test done');
  });
});
