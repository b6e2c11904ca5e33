// Fault injection over the real SoftHSM driver for enrol-token and kms-rewrap.
//
// enrol-token: on a token "initialized by its vendor's tool" (C_InitToken + C_InitPIN with known PINs, both to
// be replaced), each token call the ceremony makes fails in turn, before it reaches the token and, for calls
// that change the token, also after it acted (the answer lost), with CKR_DEVICE_ERROR, CKR_DEVICE_REMOVED,
// CKR_SESSION_HANDLE_INVALID, CKR_GENERAL_ERROR and CKR_PIN_INCORRECT. After each fault: each PIN opens the
// token as the vendor set it or as M of the share files written derive it (never neither), any chain the
// attempt started verifies (the bundle too when it completed), and the room gets out: the failed step is
// retried (Retry) and the ceremony completes, or it stopped (let go, or aborted after the retry failed too)
// and enrol-token is run again the way the records name (the stopped attempt's shares, or the PINs brought),
// and completes.
//
// By default every call fails once with the five codes in rotation (every code on about ten calls), and the
// two C_SetPIN calls with every code, before and after they acted; KC_FAULTS=full runs every call with
// every code (about 300 runs, minutes on 2 cores). The steps x faults matrix is printed.
//
// kms-rewrap: on that token once enrolled, kms-import generates a key; then each token call kms-rewrap makes
// fails once (codes in rotation; token-changing calls also after they acted). After each: Retry completes,
// or the ceremony is resumed (as from Home) and completes, or abandoned; the token opens with the quorum and
// the chain verifies.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import type { SlotRef } from '../../hsm/types.js';
import { enrolmentFromEntries, quorumLogin } from '../../src-main/ceremony/actions/quorum-login.js';
import { pinsMayHaveChanged } from '../../src-main/ceremony/actions/enrol-token.js';
import { CeremonyService } from '../../src-main/ceremony/engine/service.js';
import type { CeremonyView } from '../../src-main/ceremony/engine/types.js';
import { combineShares, derivePins, openShareFile, wipe } from '../../src-main/ceremony/quorum/index.js';
import { GENESIS_PREV } from '../../src-main/transcript/canonical.js';
import { computeEntryHash, type Entry } from '../../src-main/transcript/entry.js';
import { verifyBundles } from '../../src-main/transcript/verify.js';
import { ARN, kmsLikeKey } from '../fixtures/kms/harness.js';
import { offline, PASS, SCRYPT, type Custodian } from '../helpers/enrol-token.js';
import { CUSTODIANS, driveCeremony, enrolStepInput, VENDOR, vendorToken, type Driven } from '../helpers/enrol-token-engine.js';
import { FAULT_CODES, faultyLayer, MUTATING, type Fault, type FaultCode, type FaultyLayer } from '../helpers/faulty-token-layer.js';
import { createSoftHsmEnv, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';

const FULL = process.env.KC_FAULTS === 'full';
let env: SoftHsmEnv;
let real: Pkcs11TokenLayer;
let faulty: FaultyLayer;
let work: string;

beforeAll(async () => {
  env = createSoftHsmEnv();
  real = new Pkcs11TokenLayer();
  await real.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
  faulty = faultyLayer(real);
  work = await mkdtemp(join(tmpdir(), 'kc-enrol-faults-'));
});
afterAll(async () => {
  await real?.close();
  env?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

const serviceOver = (dataDir: string) => new CeremonyService({ layer: faulty.layer, dataDir, scriptsDir: resolve('ceremonies'), airGap: offline, appVersion: '0.1.0-test', scrypt: SCRYPT });

/** Does `pin` log in as `who`? Asked through the real layer (no fault), on a session of its own. */
async function opens(slot: SlotRef, who: 'user' | 'so', pin: string): Promise<boolean> {
  const { session } = await real.openSession(slot, { readWrite: true });
  try {
    await real.login(session, who, pin);
    await real.logout(session);
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === 'CKR_PIN_INCORRECT') return false;
    throw error;
  } finally {
    await real.closeSession(session);
  }
}

/** The PINs two of the share files in `usb` derive (the ceremony id is the files' own). */
async function pinsOf(usb: string, slot: SlotRef) {
  const files = (await readdir(usb)).filter((f) => f.endsWith('.share')).sort();
  if (files.length < 2) return undefined;
  const opened = await Promise.all(files.slice(0, 2).map(async (f) => openShareFile(await readFile(join(usb, f)), PASS[f.replace('.share', '') as Custodian])));
  const info = (await real.listSlots(SOFTHSM_MODULE)).find((s) => s.slotId === slot.slotId)?.token;
  const secret = await combineShares(opened.map((o) => o.share), 2);
  try {
    return derivePins(secret, opened[0]!.ceremonyId, { minPinLength: info?.minPinLength, maxPinLength: info?.maxPinLength });
  } finally {
    wipe(secret, ...opened.map((o) => o.share));
  }
}

type PinState = 'vendor' | 'shares' | 'NEITHER';
async function pinStates(slot: SlotRef, usb: string): Promise<{ user: PinState; so: PinState }> {
  const derived = await pinsOf(usb, slot);
  const state = async (who: 'user' | 'so', vendor: string, fromShares?: string): Promise<PinState> =>
    (await opens(slot, who, vendor)) ? 'vendor' : fromShares !== undefined && (await opens(slot, who, fromShares)) ? 'shares' : 'NEITHER';
  return { user: await state('user', VENDOR.user, derived?.userPin), so: await state('so', VENDOR.so, derived?.soPin) };
}

const journal = async (dir: string) => (await readFile(join(dir, 'journal.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Entry);
const linked = (entries: Entry[]) => entries.every((e, i) => e.seq === i && e.prev === (i === 0 ? GENESIS_PREV : entries[i - 1]!.hash) && computeEntryHash(e) === e.hash);

/** The chain an attempt started, if it wrote genesis: every entry hashes to itself and links to the one before. */
async function chainVerifies(dataDir: string, ceremonyId: string): Promise<boolean | 'no chain'> {
  const dir = join(dataDir, 'chains', ceremonyId);
  if (!existsSync(join(dir, 'journal.jsonl'))) return 'no chain';
  return linked(await journal(dir));
}

/** Every record an attempt made before genesis (its pre-genesis log) and in its chain. */
async function recordsOf(dataDir: string, ceremonyId: string): Promise<{ kind: string; data: unknown }[]> {
  const pre = (await readFile(join(dataDir, 'ceremonies', ceremonyId, 'pre-genesis.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { kind: string; data: unknown });
  const chain = existsSync(join(dataDir, 'chains', ceremonyId, 'journal.jsonl')) ? await journal(join(dataDir, 'chains', ceremonyId)) : [];
  return [...pre, ...chain];
}

async function enrolOnce(service: CeremonyService, slot: SlotRef, pins: Record<string, unknown>, usb: string, each?: (step: string) => void): Promise<Driven & { id: string }> {
  const id = (await service.start({ script: 'enrol-token', parameters: { custodians: CUSTODIANS, threshold: 2 } })).ceremonyId;
  const d = await driveCeremony(service, id, (s, v) => enrolStepInput(s, v, { token: { ...slot }, pins, usb, out: usb }), each);
  return { ...d, id };
}

interface Cell {
  call: number;
  name: string;
  step: string;
  code: FaultCode;
  when: 'before' | 'after';
  user: PinState;
  so: PinState;
  stopped: boolean;
  seen: string;
  wayOut: string;
}

describe('enrol-token with a token call failing, each in turn, on real SoftHSM', () => {
  it('after every fault: each PIN opens as the vendor set it or as the shares derive it, the chain verifies, and the room gets out', async () => {
    // The reference run: every token call enrol-token makes, and the step of each.
    const reference: { call: string; step: string }[] = [];
    {
      faulty.arm(undefined);
      const service = serviceOver(join(work, 'ref'));
      const start = faulty.calls.length;
      const usb = await mkdtemp(join(work, 'ref-usb-'));
      const r = await enrolOnce(service, await vendorToken(real, 'ref'), { currentUserPin: VENDOR.user, currentSoPin: VENDOR.so }, usb, (step) => {
        while (reference.length < faulty.calls.length - start) reference.push({ call: faulty.calls[start + reference.length] as string, step });
      });
      await service.close();
      expect(r.view.status).toBe('completed');
      expect(reference.map((x) => x.call)).toContain('setPin');
    }
    const cases: Fault[] = [];
    const seenCall = new Set<string>();
    let k = 0;
    reference.forEach((r, i) => {
      // By default: the first call of each kind in each step (every call of the pins step), codes in rotation.
      if (!FULL && r.step !== 'pins' && seenCall.has(`${r.step}/${r.call}`)) return;
      seenCall.add(`${r.step}/${r.call}`);
      const codes = FULL || r.call === 'setPin' ? FAULT_CODES : [FAULT_CODES[(k += 1) % FAULT_CODES.length]!];
      for (const code of codes) {
        cases.push({ at: i + 1, code, when: 'before' });
        if (MUTATING.includes(r.call)) cases.push({ at: i + 1, code: FULL || r.call === 'setPin' ? code : FAULT_CODES[(k + 2) % FAULT_CODES.length]!, when: 'after' });
      }
    });
    if (!FULL) console.log(`enrol-token faults (${cases.length} runs): the first call of each kind in each step and every call of the pins step, codes in rotation, C_SetPIN with all five before and after it acted; KC_FAULTS=full runs each of the ${reference.length} calls with every code`);

    const matrix: Cell[] = [];
    let n = 0;
    for (const fault of cases) {
      const dataDir = join(work, `d${(n += 1)}`);
      const service = serviceOver(dataDir);
      const slot = await vendorToken(real, `f${n}`);
      const usb = await mkdtemp(join(work, `f${n}-usb-`));
      const label = `fault ${n} (${reference[fault.at - 1]!.step} / ${reference[fault.at - 1]!.call} #${fault.at}, ${fault.code} ${fault.when})`;
      try {
        faulty.arm(fault);
        const a = await enrolOnce(service, slot, { currentUserPin: VENDOR.user, currentSoPin: VENDOR.so }, usb);
        const fired = faulty.fired();
        faulty.arm(undefined);
        expect(fired, `${label}: fired`).toBe(true);
        expect(await chainVerifies(dataDir, a.id), `${label}: chain`).not.toBe(false);
        let wayOut: string;
        let st: { user: PinState; so: PinState };
        if (!a.stopped) {
          // Retried to the end: the shares open the token, the bundle verifies.
          expect(a.view.status, `${label}: retried to the end`).toBe('completed');
          const bundle = a.view.outputs.find((o) => o.kind === 'bundle')!.path;
          expect((await verifyBundles([bundle])).ok, `${label}: bundle verifies`).toBe(true);
          await service.close();
          st = await pinStates(slot, usb);
          expect(st, label).toEqual({ user: 'shares', so: 'shares' });
          wayOut = a.failures.length === 0 ? 'absorbed' : 'Retry, completed';
        } else if ((await recordsOf(dataDir, a.id)).some((e) => e.kind === 'completed')) {
          // Stopped in the bundle export, after `completed` was recorded: the token is enrolled.
          await service.close();
          st = await pinStates(slot, usb);
          expect(st, label).toEqual({ user: 'shares', so: 'shares' });
          wayOut = 'completed before the fault; its bundle was not written';
        } else {
          await service.close();
          st = await pinStates(slot, usb);
          expect(st.user, `${label}: user PIN`).not.toBe('NEITHER');
          expect(st.so, `${label}: SO PIN`).not.toBe('NEITHER');
          // The way out the records name, in a new session of the app on the same data directory.
          const again = serviceOver(dataDir);
          const usb2 = await mkdtemp(join(work, `f${n}-again-`));
          const previous = (['alice', 'bob'] as const).map((c) => ({ shareFile: join(usb, `${c}.share`), passphrase: PASS[c] }));
          const sharesOpen = pinsMayHaveChanged(await recordsOf(dataDir, a.id));
          let b = await enrolOnce(again, slot, sharesOpen ? { previousShares: previous } : { currentUserPin: VENDOR.user, currentSoPin: VENDOR.so }, usb2);
          wayOut = sharesOpen ? 'again with its shares' : 'again with the PINs brought';
          if (sharesOpen && b.failures[0]?.code === 'enrol-pins-not-changed') {
            b = await enrolOnce(again, slot, { currentUserPin: VENDOR.user, currentSoPin: VENDOR.so }, usb2);
            wayOut = 'its shares refused (no change took effect), then the PINs brought';
          }
          await again.close();
          expect(b.failures, `${label}: ${wayOut}`).toEqual([]);
          expect(b.view.status).toBe('completed');
          const after = await pinsOf(usb2, slot);
          expect(await opens(slot, 'user', after!.userPin), `${label}: the new shares open the token`).toBe(true);
          wayOut += ', completed';
        }
        const ref = reference[fault.at - 1]!;
        matrix.push({ call: fault.at, name: ref.call, step: ref.step, code: fault.code, when: fault.when, user: st.user, so: st.so, stopped: a.stopped, seen: a.failures.map((f) => f.code).join(' then '), wayOut });
      } finally {
        faulty.arm(undefined);
        await service.close();
      }
    }
    const rowOf = (c: Cell) => `${c.step} / ${c.name}${c.when === 'after' ? ' (after it acted)' : ''} #${c.call}`;
    const rows = [...new Set(matrix.map(rowOf))];
    const pins = (c: Cell) => `user ${c.user}, SO ${c.so}`;
    const short = (c: Cell) => (!c.stopped ? (c.wayOut === 'absorbed' ? 'absorbed' : `${c.seen}: Retry ok`) : `${c.seen}: stopped, ${pins(c)}; ${c.wayOut}`);
    console.log(
      `enrol-token fault matrix (${matrix.length} faults; cell: what the room saw, the PINs after a stop (vendor's, or the attempt's shares), and the way out)\n| step / call | ${FAULT_CODES.join(' | ')} |\n|---|${FAULT_CODES.map(() => '---').join('|')}|\n` +
        rows.map((row) => `| ${row} | ${FAULT_CODES.map((code) => matrix.filter((c) => rowOf(c) === row && c.code === code).map(short).join(', ')).join(' | ')} |`).join('\n'),
    );
    // Before the first C_SetPIN acted, a stop leaves the vendor's PINs.
    const firstSetPin = reference.findIndex((r) => r.call === 'setPin') + 1;
    matrix.filter((c) => c.stopped && (c.call < firstSetPin || (c.call === firstSetPin && c.when === 'before'))).forEach((c) => expect(c.user, rowOf(c)).toBe('vendor'));
    // A failure in the pins step, even after a C_SetPIN acted, is retried to the end (the step goes on from the
    // PIN the token already has), unless the session itself was lost.
    matrix.filter((c) => c.step === 'pins' && !c.seen.startsWith('ceremony-token-lost')).forEach((c) => expect(c.stopped, `${rowOf(c)} ${c.code}`).toBe(false));
  }, 600_000);
});

describe('kms-rewrap with a token call failing, each in turn, on a token enrol-token enrolled', () => {
  it('after every fault: Retry, resume or abandon; the token opens with the quorum; the chain verifies', async () => {
    faulty.arm(undefined);
    const dataDir = join(work, 'kms');
    const usb = await mkdtemp(join(work, 'kms-usb-'));
    const service = serviceOver(dataDir);
    try {
      const enrolled = await enrolOnce(service, await vendorToken(real, 'rewrap-faults'), { currentUserPin: VENDOR.user }, usb);
      expect(enrolled.view.status).toBe('completed');
      const chainDir = join(dataDir, 'chains', enrolled.id);
      const kms = kmsLikeKey(2048);
      const params = join(usb, 'params.json');
      await writeFile(params, JSON.stringify({ KeyId: ARN, ImportToken: Buffer.from('import-token').toString('base64'), PublicKey: Buffer.from(kms.spki).toString('base64'), ParametersValidTo: new Date(Date.now() + 20 * 3600_000).toISOString() }));
      const share = (c: Custodian) => ({ shareFile: join(usb, `${c}.share`), passphrase: PASS[c] });
      const input = (out: string) => (st: string, view: CeremonyView): Record<string, unknown> =>
        st === 'participants' ? { administrator: 'admin', witnesses: ['wendy'] }
        : st === 'token' ? { uri: 'pkcs11:token=rewrap-faults' }
        : st === 'parameters' ? { path: params, wrappingAlgorithm: 'RSAES_OAEP_SHA_1' }
        : st === 'login' ? share(view.quorum?.approved.includes('alice') ? 'bob' : 'alice')
        : view.steps.find((x) => x.id === st)?.confirm ? { confirm: view.steps.find((x) => x.id === st)!.confirm!.word }
        : st === 'export-key' || st === 'export' ? { destinationDir: out }
        : st === 'sign-off' ? { witnesses: [{ name: 'wendy' }] }
        : {};
      const start = async (script: 'kms-import' | 'kms-rewrap') => (await service.start({ script, parameters: { keySpec: 'SYMMETRIC_DEFAULT', keyLabel: 'rewrap-fault-key', wrappingAlgorithm: 'RSAES_OAEP_SHA_1' } })).ceremonyId;
      // The key kms-rewrap re-exports.
      const imported = await driveCeremony(service, await start('kms-import'), input(await mkdtemp(join(work, 'kms-out-'))));
      expect(imported.failures).toEqual([]);
      expect(imported.view.status).toBe('completed');

      // The reference kms-rewrap: its token calls and the step of each.
      const steps: string[] = [];
      const first = faulty.calls.length;
      const ref = await driveCeremony(service, await start('kms-rewrap'), input(await mkdtemp(join(work, 'kms-out-'))), (st) => {
        while (steps.length < faulty.calls.length - first) steps.push(st);
      });
      expect(ref.view.status).toBe('completed');
      const calls = faulty.calls.slice(first);
      // By default the first call of each kind in each step; KC_FAULTS=full every call. Codes in rotation.
      const seenCall = new Set<string>();
      let k = 0;
      const cases: Fault[] = calls.flatMap((call, i) => {
        if (!FULL && seenCall.has(`${steps[i]}/${call}`)) return [];
        seenCall.add(`${steps[i]}/${call}`);
        k += 1;
        return [
          { at: i + 1, code: FAULT_CODES[k % FAULT_CODES.length]!, when: 'before' as const },
          ...(MUTATING.includes(call) ? [{ at: i + 1, code: FAULT_CODES[(k + 2) % FAULT_CODES.length]!, when: 'after' as const }] : []),
        ];
      });
      if (!FULL) console.log(`kms-rewrap faults (${cases.length} runs): the first call of each kind in each step, codes in rotation; KC_FAULTS=full runs each of the ${calls.length} calls`);
      const rows: string[] = [];
      for (const fault of cases) {
        const id = await start('kms-rewrap');
        faulty.arm(fault);
        let r = await driveCeremony(service, id, input(await mkdtemp(join(work, 'kms-out-'))));
        const fired = faulty.fired();
        faulty.arm(undefined);
        expect(fired).toBe(true);
        const seen = r.failures.map((f) => f.code);
        let how: string;
        if (!r.stopped) how = seen.length === 0 ? 'absorbed, completed' : 'Retry, completed';
        else if (r.view.status === 'aborted') how = 'aborted (failed twice)';
        else if ((await service.history()).find((c) => c.ceremonyId === id)?.resumable) {
          await service.resume(id);
          r = await driveCeremony(service, id, input(await mkdtemp(join(work, 'kms-out-'))));
          seen.push(...r.failures.map((f) => f.code));
          how = r.view.status === 'completed' ? 'resumed (as from Home), completed' : `resumed, then ${r.view.status}`;
          if (r.stopped && r.view.status === 'running') {
            await service.abandon(id, 'fault test: the resumed run stopped again');
            how = 'resumed, stopped again, abandoned';
          }
        } else {
          await service.interrupted();
          const status = (await service.history()).find((c) => c.ceremonyId === id)?.status;
          how = status === 'completed' ? 'completed before the fault; its bundle was not written' : `stopped before joining the chain: recorded ${status}`;
        }
        // The token opens with the quorum, and the chain verifies.
        const opened = await real.openSession({ uri: 'pkcs11:token=rewrap-faults' }, { readWrite: false });
        try {
          await quorumLogin(real, opened.session, enrolmentFromEntries(await journal(chainDir))!, [share('alice'), share('bob')]);
          await real.logout(opened.session);
        } finally {
          await real.closeSession(opened.session);
        }
        expect(linked(await journal(chainDir)), `kms-rewrap fault at call ${fault.at}: chain`).toBe(true);
        rows.push(`| ${steps[fault.at - 1]} / ${calls[fault.at - 1]}${fault.when === 'after' ? ' (after it acted)' : ''} #${fault.at} | ${fault.code} | ${seen.join(' then ') || '-'} | ${how} |`);
      }
      console.log(`kms-rewrap fault matrix (${rows.length} faults; after each, alice+bob open the token and the chain verifies)\n| step / call | fault | the room saw | way out |\n|---|---|---|---|\n${rows.join('\n')}`);
    } finally {
      await service.close();
    }
  }, 300_000);
});
