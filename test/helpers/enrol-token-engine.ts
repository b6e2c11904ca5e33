// enrol-token through the ceremony engine (CeremonyService), step by step as the room gives each step's input,
// on a SoftHSM token "initialized by its vendor's tool": here C_InitToken + C_InitPIN through a layer the
// ceremony does not use, with known PINs (what softhsm2-util --init-token does).
import { join } from 'node:path';
import type { TokenLayer } from '../../hsm/token.js';
import type { SlotRef } from '../../hsm/types.js';
import type { CeremonyService } from '../../src-main/ceremony/engine/service.js';
import type { CeremonyView } from '../../src-main/ceremony/engine/types.js';
import { PASS, type Custodian } from './enrol-token.js';
import { SOFTHSM_MODULE } from './softhsm.js';

export const VENDOR = { user: 'vendor-user-1234', so: 'vendor-so-8765' } as const;
export const CUSTODIANS = Object.keys(PASS) as Custodian[];

/** A token as a vendor tool leaves it: initialized on SoftHSM's free slot with label and both PINs known. */
export async function vendorToken(layer: TokenLayer, label: string, pins: { user: string; so: string } = VENDOR): Promise<SlotRef> {
  const blank = (await layer.listSlots(SOFTHSM_MODULE)).find((s) => s.token && !s.token.initialized);
  if (!blank) throw new Error('no blank SoftHSM slot');
  await layer.initToken({ moduleId: SOFTHSM_MODULE, slotId: blank.slotId }, pins.so, label);
  const slot = (await layer.listSlots(SOFTHSM_MODULE)).find((s) => s.token?.initialized && s.token.label.trim() === label);
  if (!slot) throw new Error(`the token '${label}' did not appear after C_InitToken`);
  const ref = { moduleId: SOFTHSM_MODULE, slotId: slot.slotId };
  const { session } = await layer.openSession(ref, { readWrite: true });
  try {
    await layer.login(session, 'so', pins.so);
    await layer.initUserPin(session, pins.user);
    await layer.logout(session);
  } finally {
    await layer.closeSession(session);
  }
  return ref;
}

export interface EnrolInputs {
  token: Record<string, unknown>;
  /** The current-pins step's input: the vendor's PINs, or previousShares. */
  pins: Record<string, unknown>;
  usb: string;
  out: string;
}

/** What the room gives the current step of enrol-token (the seal: alice, then bob). */
export function enrolStepInput(step: string, view: CeremonyView, o: EnrolInputs): Record<string, unknown> {
  switch (step) {
    case 'participants': return { administrator: 'admin', witnesses: ['wendy'] };
    case 'token': return o.token;
    case 'current-pins': return o.pins;
    case 'shares': {
      const c = (view.pendingCustodians ?? [])[0] as Custodian;
      return { custodian: c, passphrase: PASS[c], destinationDir: o.usb };
    }
    case 'pins': return { confirm: 'CHANGE-PINS' };
    case 'sign-off': return { witnesses: [{ name: 'wendy' }] };
    case 'head': {
      const c: Custodian = view.quorum?.approved.includes('alice') ? 'bob' : 'alice';
      return { shareFile: join(o.usb, `${c}.share`), passphrase: PASS[c] };
    }
    case 'export': return { destinationDir: o.out };
    default: return {};
  }
}

export interface Driven {
  view: CeremonyView;
  /** Steps that failed, with the code the room saw. */
  failures: { step: string; code: string; remedy?: string }[];
  /** Let go by the service (its token session ended), or aborted after a second failure. */
  stopped: boolean;
}

/**
 * Drive a started ceremony to its end as the room would: a step that fails is retried once (the app's
 * Retry); when the service let the run go, or the retry fails too, it stops (aborted if still running).
 * `each` is told which step made the token calls since the last call (for the fault tables).
 */
export async function driveCeremony(service: CeremonyService, id: string, input: (step: string, view: CeremonyView) => Record<string, unknown>, each?: (step: string) => void): Promise<Driven> {
  let view = service.view(id);
  const d: Driven = { view, failures: [], stopped: false };
  while (view.status === 'running' && view.currentStepId !== null) {
    const step = view.currentStepId;
    try {
      view = (await service.perform(id, step, input(step, view))).view;
      each?.(step);
    } catch (error) {
      each?.(step);
      const e = error as { code?: string; remedy?: string };
      d.failures.push({ step, code: e.code ?? 'error', ...(e.remedy ? { remedy: e.remedy } : {}) });
      if (e.code === 'ceremony-token-lost') {
        d.stopped = true;
        break;
      }
      if (d.failures.length > 1) {
        d.stopped = true;
        view = await service.abort(id, `fault test: step ${step} failed twice (${e.code ?? 'error'})`);
        break;
      }
      view = service.view(id);
    }
  }
  d.view = view;
  return d;
}
