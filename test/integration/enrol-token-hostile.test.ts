// enrol-token against a careless or hostile room, on SoftHSM tokens initialized by softhsm2-util:
// - a wrong current PIN is refused at the PIN check: nothing changed, no share written, the old PIN opens;
// - a share file already in the share folder is refused before any PIN change: the old PIN still opens;
// - kill -9 right after the PIN change: the old PIN no longer opens, the shares written do; the next run
//   records the attempt as interrupted with its shares opening the token (not void), and enrol-token run
//   again with M of those shares (--previous-share) enrols the custodians anew.
import { spawn } from 'node:child_process';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPreGenesisLog } from '../../src-main/ceremony/engine/pre-genesis-log.js';
import { buildEnrolChild, enrolArgs, enrolWork, io, offline, opensWith, pinsFromShares, runEnrol, SCRYPT, type EnrolWork } from '../helpers/enrol-token.js';
import { enrolTokenCommand } from '../../src-main/cli/enrol-token-command.js';
import { CeremonyService } from '../../src-main/ceremony/engine/service.js';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import { createSoftHsmEnv, initSoftHsmToken, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';

const USER = 'vendor-user-1234';
const SO = 'vendor-so-8765';
const module = { path: SOFTHSM_MODULE, source: 'user' as const };
const LIMITS = { minPinLength: 4, maxPinLength: 255 };
let env: SoftHsmEnv;
let child: string;
const works: EnrolWork[] = [];

beforeAll(async () => {
  env = createSoftHsmEnv();
  child = await buildEnrolChild('keyceremony-enrol-token-crash-child');
}, 120_000);

afterAll(async () => {
  env?.cleanup();
  for (const w of works) await rm(w.dir, { recursive: true, force: true });
});

async function freshToken(label: string): Promise<{ w: EnrolWork; slot: { moduleId: string; slotId: string } }> {
  const w = await enrolWork(`kc-enrol-${label}-`);
  works.push(w);
  return { w, slot: { moduleId: SOFTHSM_MODULE, slotId: initSoftHsmToken(label, SO, USER) } };
}

describe('enrol-token refuses before anything changes', () => {
  it('a wrong current user PIN: refused at the PIN check, nothing written, the old PIN still opens', async () => {
    const { w, slot } = await freshToken('wrong-pin');
    const r = await runEnrol(await enrolArgs(w, { module: SOFTHSM_MODULE, slot: slot.slotId, userPin: 'not-the-pin' }));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('step current-pins: input.currentUserPin: token \'wrong-pin\'');
    expect(r.stderr).toContain('did not accept this user PIN; nothing on the token was changed');
    expect(await readdir(w.shares)).toEqual([]);
    expect(await opensWith(module, slot, 'user', USER)).toBe(true);
    expect(await opensWith(module, slot, 'so', SO)).toBe(true);
  });

  it('a wrong current SO PIN: refused at the PIN check, the user PIN untouched', async () => {
    const { w, slot } = await freshToken('wrong-so');
    const r = await runEnrol(await enrolArgs(w, { module: SOFTHSM_MODULE, slot: slot.slotId, userPin: USER, soPin: 'not-the-so-pin' }));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('input.currentSoPin');
    expect(r.stderr).toContain('did not accept this SO PIN');
    expect(await readdir(w.shares)).toEqual([]);
    expect(await opensWith(module, slot, 'user', USER)).toBe(true);
  });

  it('a share file already in the share folder: the command refuses before it starts (exit 2), nothing recorded', async () => {
    const { w, slot } = await freshToken('share-present-cli');
    await writeFile(join(w.shares, 'bob.share'), 'an older share file\n');
    const { o, out } = io();
    expect(await enrolTokenCommand(await enrolArgs(w, { module: SOFTHSM_MODULE, slot: slot.slotId, userPin: USER }), out, { scrypt: SCRYPT, airGap: offline })).toBe(2);
    expect(o.stderr).toContain(`keyceremony enrol-token: --shares-out: ${w.shares} already holds bob.share; a share file is never overwritten\n  Use an empty folder,`);
    expect(await readdir(w.data)).toEqual([]);
    expect(await opensWith(module, slot, 'user', USER)).toBe(true);
  });

  it('a share file already in the folder a custodian chose in the app: refused at the shares step, before any PIN change', async () => {
    const { w, slot } = await freshToken('share-present');
    await writeFile(join(w.shares, 'bob.share'), 'an older share file\n');
    const layer = new Pkcs11TokenLayer();
    await layer.configureModules([module]);
    const service = new CeremonyService({ layer, dataDir: w.data, scriptsDir: resolve('ceremonies'), airGap: offline, appVersion: '0.1.0-test', scrypt: SCRYPT });
    try {
      const { ceremonyId: id } = await service.start({ script: 'enrol-token', parameters: { custodians: ['alice', 'bob', 'carol'], threshold: 2 } });
      const step = (s: string, input: Record<string, unknown>) => service.perform(id, s, input);
      await step('participants', { administrator: 'admin', witnesses: ['wendy'] });
      await step('airgap', {});
      await step('token', { moduleId: SOFTHSM_MODULE, slotId: slot.slotId });
      await step('current-pins', { currentUserPin: USER });
      await step('secret', {});
      await step('shares', { custodian: 'alice', passphrase: 'alice passphrase 1', destinationDir: w.shares });
      await expect(step('shares', { custodian: 'bob', passphrase: 'bob passphrase 22', destinationDir: w.shares })).rejects.toThrow(`input.destinationDir: ${w.shares} already holds bob.share; a share file is never overwritten`);
      // change-pins cannot be reached: it is not the current step.
      await expect(step('pins', { confirm: 'CHANGE-PINS' })).rejects.toThrow("step 'pins' cannot run yet: the current step is 'shares'");
      expect(await readFile(join(w.shares, 'bob.share'), 'utf8')).toBe('an older share file\n');
      expect(await opensWith(module, slot, 'user', USER)).toBe(true);
      await service.abort(id, 'a share file was in the way');
      // The abort voids alice's share: the PINs never changed, so it opens nothing.
      const { records } = await readPreGenesisLog(join(w.data, 'ceremonies', id, 'pre-genesis.jsonl'));
      expect(records.map((x) => x.kind)).toContain('shares-void');
      expect(records.map((x) => x.kind)).not.toContain('pin-changed');
    } finally {
      await service.close();
      await layer.close();
    }
  });
});

function runUntilPinsChanged(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    const p = spawn(process.execPath, [child, JSON.stringify(args), resolve('ceremonies')], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes('stopped after pins:pin-changed\n')) p.kill('SIGKILL');
    });
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('exit', (_code, signal) => (signal === 'SIGKILL' ? resolveRun({ stdout, stderr }) : reject(new Error(`the child ended without being killed: ${stdout}${stderr}`))));
  });
}

describe('kill -9 right after the PIN change', () => {
  it('leaves a token the shares written open, and a way out that enrols the custodians anew', async () => {
    const { w, slot } = await freshToken('killed');
    const killed = await runUntilPinsChanged(await enrolArgs(w, { module: SOFTHSM_MODULE, slot: slot.slotId, userPin: USER }));
    expect(killed.stderr).toBe('');
    const ceremonyId = (await readdir(join(w.data, 'ceremonies')))[0] as string;
    // The vendor's user PIN is gone; two of the three share files written rebuild the one that opens.
    expect(await opensWith(module, slot, 'user', USER)).toBe(false);
    const pins = await pinsFromShares(w, ceremonyId, ['alice', 'bob'], LIMITS);
    expect(await opensWith(module, slot, 'user', pins.userPin)).toBe(true);
    // The SO PIN was not given, so it stays the vendor's.
    expect(await opensWith(module, slot, 'so', SO)).toBe(true);

    // The way out: enrol-token again, the killed attempt's shares instead of the current PIN.
    const again = await enrolWork('kc-enrol-killed-again-');
    works.push(again);
    // Same data directory (where the killed attempt is recorded), new share and bundle folders.
    const args = await enrolArgs(again, { module: SOFTHSM_MODULE, slot: slot.slotId });
    const withData = args.map((a, i) => (args[i - 1] === '--data-dir' ? w.data : a));
    const r = await runEnrol([...withData, '--previous-share', `${join(w.shares, 'alice.share')}:${join(w.secrets, 'alice')}`, '--previous-share', `${join(w.shares, 'carol.share')}:${join(w.secrets, 'carol')}`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const interrupted = (r.json as unknown as { interrupted: { ceremonyId: string; sharesVoid: string[]; sharesOpenToken?: { custodians: string[] } }[] }).interrupted;
    expect(interrupted).toEqual([expect.objectContaining({ ceremonyId, sharesVoid: [], sharesOpenToken: expect.objectContaining({ custodians: ['alice', 'bob', 'carol'] }) })]);
    const { records } = await readPreGenesisLog(join(w.data, 'ceremonies', ceremonyId, 'pre-genesis.jsonl'));
    expect(records.map((x) => x.kind)).toContain('shares-open-token');
    expect(records.map((x) => x.kind)).not.toContain('shares-void');
    // Now only the new shares open the token.
    const newPins = await pinsFromShares(again, r.json?.ceremonyId as string, ['bob', 'carol'], LIMITS);
    expect(await opensWith(module, slot, 'user', newPins.userPin)).toBe(true);
    expect(await opensWith(module, slot, 'user', pins.userPin)).toBe(false);
  }, 120_000);
});
