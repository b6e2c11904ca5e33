// enrol-token killed with SIGKILL at every moment it records something (every step boundary, every intent
// before a token call, every share handed out, every PIN change) and inside every step that touches the
// token (after each token call that changes it, and after the last token call of each such step, before its
// result is recorded). Each kill runs on its own SoftHSM token initialized by softhsm2-util with known PINs
// (as a vendor's tool would), with both PINs to be replaced. After each kill: the user PIN and the SO PIN
// each open the token as they were (the vendor's) or as M of the share files written derive them; never
// neither. Then the way out the app names is taken (keyceremony enrol-token again: with --previous-share when
// the killed attempt's records say its shares open the token, else with the PINs the room brought), and it
// completes, and its own new shares open the token. The kill points and outcomes are printed as a table.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPreGenesisLog } from '../../src-main/ceremony/engine/pre-genesis-log.js';
import { buildEnrolChild, enrolArgs, enrolWork, opensWith, pinsFromShares, runEnrol, type EnrolWork } from '../helpers/enrol-token.js';
import { createSoftHsmEnv, initSoftHsmToken, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';

const USER = 'vendor-user-1234';
const SO = 'vendor-so-8765';
const module = { path: SOFTHSM_MODULE, source: 'user' as const };
const LIMITS = { minPinLength: 4, maxPinLength: 255 };
const MUTATING = new Set(['setPin', 'generateKeyPair', 'createDataObject', 'replaceDataObject', 'destroyObject']);
let env: SoftHsmEnv;
let child: string;
const works: EnrolWork[] = [];

beforeAll(async () => {
  env = createSoftHsmEnv();
  child = await buildEnrolChild('keyceremony-enrol-token-kill-child');
}, 120_000);
afterAll(async () => {
  env?.cleanup();
  for (const w of works) await rm(w.dir, { recursive: true, force: true });
});

interface ChildRun {
  /** Where the child stopped, or 'exit N'. */
  at: string;
  /** Every record and token call, in order: `record STEP:KIND` or `call NAME`. */
  events: string[];
}

interface Prepared {
  w: EnrolWork;
  slot: { moduleId: string; slotId: string };
  args: string[];
}

/** A fresh vendor token (softhsm2-util, one at a time: it picks the free slot) and work folder. */
async function prepare(n: number): Promise<Prepared> {
  const w = await enrolWork(`kc-enrol-kill-${n}-`);
  works.push(w);
  const slot = { moduleId: SOFTHSM_MODULE, slotId: initSoftHsmToken(`kill-${n}`, SO, USER) };
  return { w, slot, args: await enrolArgs(w, { module: SOFTHSM_MODULE, slot: slot.slotId, userPin: USER, soPin: SO }) };
}

/** The child run on a prepared token until it stops where `stopAt` says (then SIGKILL). */
function killAt(prepared: Prepared, stopAt: string): Promise<ChildRun> {
  return new Promise<ChildRun>((done, fail) => {
    const p = spawn(process.execPath, [child, JSON.stringify(prepared.args), resolve('ceremonies'), stopAt], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    const r: ChildRun = { at: '', events: [] };
    let buffer = '';
    let stderr = '';
    p.stdout.setEncoding('utf8');
    p.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    p.stdout.on('data', (chunk: string) => {
      buffer += chunk;
      for (let nl = buffer.indexOf('\n'); nl !== -1; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.startsWith('recorded ')) r.events.push(`record ${line.slice(9)}`);
        if (line.startsWith('call ')) r.events.push(line);
        if (line.startsWith('stopped ')) {
          r.at = line.slice(8);
          p.kill('SIGKILL');
        }
        if (line.startsWith('exit ')) r.at = line;
      }
    });
    p.on('error', fail);
    p.on('exit', (code, signal) => (signal === 'SIGKILL' || code === 0 ? done(r) : fail(new Error(`child exited ${code}: ${stderr}`))));
  });
}

type PinState = 'vendor' | 'shares' | 'NEITHER';

/** How each PIN opens the token now: as the vendor set it, or as two of the share files written derive it. */
async function pinStates(w: EnrolWork, slot: { moduleId: string; slotId: string }, ceremonyId = readdirSync(join(w.data, 'ceremonies'))[0] as string): Promise<{ user: PinState; so: PinState; shares: number; ceremonyId: string }> {
  const written = readdirSync(w.shares).filter((f) => f.endsWith('.share'));
  const derived = written.length >= 2 ? await pinsFromShares(w, ceremonyId, written.slice(0, 2).map((f) => f.replace('.share', '')) as never, LIMITS) : undefined;
  const state = async (who: 'user' | 'so', vendor: string, fromShares: string | undefined): Promise<PinState> => {
    if ((await opensWith(module, slot, who, vendor)) === true) return 'vendor';
    if (fromShares !== undefined && (await opensWith(module, slot, who, fromShares)) === true) return 'shares';
    return 'NEITHER';
  };
  return { user: await state('user', USER, derived?.userPin), so: await state('so', SO, derived?.soPin), shares: written.length, ceremonyId };
}

/**
 * The way out the records name: a killed attempt whose records reached the PIN change (the engine then keeps
 * its shares as the way in, `shares-open-token`) is followed by enrol-token with --previous-share, and, when
 * those are refused because the change had not taken effect (the refusal says so), by enrol-token with the
 * PINs the room brought; one that did not reach it (its shares are void) by enrol-token with the PINs brought.
 * On success the new shares open the token as user; `so` says what opens it as SO afterwards.
 */
async function wayOut(w: EnrolWork, slot: { moduleId: string; slotId: string }, killedId: string, sharesOpen: boolean): Promise<{ how: string; ok: boolean; so?: string }> {
  const run = async (previous: boolean) => {
    const again = await enrolWork('kc-enrol-kill-again-');
    works.push(again);
    const base = await enrolArgs(again, previous ? { module: SOFTHSM_MODULE, slot: slot.slotId } : { module: SOFTHSM_MODULE, slot: slot.slotId, userPin: USER, soPin: SO });
    const args = base.map((a, i) => (base[i - 1] === '--data-dir' ? w.data : a));
    const shares = ['alice', 'bob'].flatMap((c) => ['--previous-share', `${join(w.shares, `${c}.share`)}:${join(w.secrets, c)}`]);
    return { again, r: await runEnrol(previous ? [...args, ...shares] : args) };
  };
  let how = sharesOpen ? 'again with --previous-share' : 'again with the PINs brought';
  let { again, r } = await run(sharesOpen);
  if (sharesOpen && r.code !== 0 && r.stderr.includes('that attempt stopped before its PIN change took effect, so the PINs the room brought still open the token')) {
    how = '--previous-share refused (no change took effect), then the PINs brought';
    ({ again, r } = await run(false));
  }
  if (r.code !== 0) return { how: `${how}: FAILED (${r.stderr.split('\n')[0]})`, ok: false };
  const pins = await pinsFromShares(again, r.json?.ceremonyId as string, ['bob', 'carol'], LIMITS);
  expect(await opensWith(module, slot, 'user', pins.userPin), `after ${killedId}: the new shares open the token`).toBe(true);
  const killed = await pinStates(w, slot, killedId);
  const so = (await opensWith(module, slot, 'so', pins.soPin)) === true ? 'new shares' : killed.so === 'shares' ? "the killed attempt's shares" : killed.so;
  return { how: `${how}: completed`, ok: true, so };
}

describe('enrol-token killed with SIGKILL at every moment', () => {
  let reference: ChildRun;
  const rows: { kill: string; user: PinState; so: PinState; shares: number; records: string; wayOut: string; soAfter: string }[] = [];

  it('a run to the end records every moment the kills stop at', async () => {
    reference = await killAt(await prepare(0), 'none');
    expect(reference.at).toBe('exit 0');
    const records = reference.events.filter((e) => e.startsWith('record '));
    // Every share out and proved before the first PIN change.
    const firstSetPin = reference.events.indexOf('call setPin');
    expect(reference.events.slice(0, firstSetPin)).toEqual(expect.arrayContaining(['record shares:share-issued', 'record prove:enrolment', 'record pins:intent']));
    expect(records).toContain('record end:completed');
  }, 30_000);

  it('after a kill at every record and inside every token step: each PIN opens as the vendor set it or as the shares derive it, and the way out completes', async () => {
    const points: { kill: string; stopAt: string }[] = [];
    let records = 0;
    let calls = 0;
    let step = '';
    reference.events.forEach((e, i) => {
      if (e.startsWith('record ')) {
        records += 1;
        step = e.slice(7).split(':')[0] as string;
        if (e !== 'record end:completed') points.push({ kill: `after record ${records} (${e.slice(7)})`, stopAt: `record:${records}` });
        return;
      }
      calls += 1;
      const name = e.slice(5);
      const lastOfStep = !(reference.events[i + 1] ?? '').startsWith('call ');
      if (MUTATING.has(name) || lastOfStep) points.push({ kill: `inside ${step}: after token call ${calls} (${name}${MUTATING.has(name) ? ', changes the token' : ''})`, stopAt: `call:${calls}` });
    });
    // The kills run two at a time (each on its own token); the checks and ways out one at a time, in this process.
    const prepared: Prepared[] = [];
    for (let i = 0; i < points.length; i += 1) prepared.push(await prepare(i + 1));
    const runs: ChildRun[] = [];
    for (let i = 0; i < points.length; i += 2) runs.push(...(await Promise.all(points.slice(i, i + 2).map((p, j) => killAt(prepared[i + j]!, p.stopAt)))));
    for (const [i, p] of points.entries()) {
      const { w, slot } = prepared[i]!;
      expect(runs[i]!.at, p.kill).not.toMatch(/^exit/);
      const s = await pinStates(w, slot);
      const { records: recs } = await readPreGenesisLog(join(w.data, 'ceremonies', s.ceremonyId, 'pre-genesis.jsonl'));
      const sharesOpen = recs.some((r) => r.kind === 'pin-changed' || (r.kind === 'intent' && (r.data as { action?: string }).action === 'change-pins'));
      // Killed after `completed` was recorded (the bundle export, the logout): nothing to get out of.
      const completed = (await readFile(join(w.data, 'chains', s.ceremonyId, 'journal.jsonl'), 'utf8').catch(() => '')).includes('"kind":"completed"');
      const out = completed ? { how: 'none needed (completed)', ok: true, so: s.so } : await wayOut(w, slot, s.ceremonyId, sharesOpen);
      rows.push({ kill: p.kill, user: s.user, so: s.so, shares: s.shares, records: completed ? 'completed' : sharesOpen ? 'shares open the token' : 'shares void', wayOut: out.how, soAfter: out.so ?? '-' });
    }
    console.log(
      `enrol-token kill matrix (${rows.length} kills; user / SO: how each PIN opens the token after the kill; SO after: what opens it as SO once the way out completed)\n| kill point | user PIN | SO PIN | shares written | the records say | way out | SO after |\n|---|---|---|---|---|---|---|\n` +
        rows.map((r) => `| ${r.kill} | ${r.user} | ${r.so} | ${r.shares} | ${r.records} | ${r.wayOut} | ${r.soAfter} |`).join('\n'),
    );
    for (const r of rows) {
      expect(r.user, r.kill).not.toBe('NEITHER');
      expect(r.so, r.kill).not.toBe('NEITHER');
      expect(r.wayOut, r.kill).toMatch(/completed\)?$/);
      // An SO PIN the killed attempt had replaced is replaced again by the way out (its shares rebuild it).
      if (r.so === 'shares' && r.records !== 'completed') expect(r.soAfter, r.kill).toBe('new shares');
    }
  }, 300_000);
});
