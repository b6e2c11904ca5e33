// Which custodians open a token at a given point of its chain. The chain's first ceremony (init-token or
// enrol-token) enrols the first custodians. A rotate-custodians ceremony records a new enrolment (at its
// prove-subsets step, before the token is touched) and then, once the token's user PIN really is the one
// the new shares rebuild, a `pin-changed` entry: from that entry on, the new enrolment is in force. An
// enrolment recorded by a rotation that never changed the PIN (it stopped before) never comes into force,
// so the old shares keep opening the token. Quorum login, the quorum collector and the verifier all read
// the enrolment from here, each at its own point of the chain.
import type { Entry } from '../../transcript/entry.js';
import type { RecordedEnrolment } from './quorum-login.js';

/** The entry a PIN change writes right after C_SetPIN succeeded (enrol-token, rotate-custodians). */
export const PIN_CHANGED = 'pin-changed';
const ENROLMENT = 'enrolment';

type Seen = Pick<Entry, 'kind' | 'data' | 'ceremonyId' | 'seq'>;

function recordedOf(e: Seen): RecordedEnrolment | undefined {
  const d = e.data as unknown as Partial<RecordedEnrolment> | null;
  if (!d || typeof d !== 'object' || typeof d.secretCheck !== 'string' || !d.enrolment) return undefined;
  return { enrolment: d.enrolment, secretCheck: d.secretCheck };
}

export interface EnrolmentInForce extends RecordedEnrolment {
  /** The seq of the enrolment entry. */
  seq: number;
  /** The ceremony that recorded it. */
  ceremonyId: string;
  /** How it came into force: the chain's first ceremony, or a rotation whose user PIN change is recorded. */
  by: 'first' | 'rotation';
  /** The entry that recorded the whole enrolment's data, for fields other ceremonies add (domainId). */
  data: Record<string, unknown>;
}

/**
 * The enrolment in force just before `beforeSeq` (the whole chain when omitted), from entries in chain order.
 * The first ceremony's last enrolment entry is in force from the start; a later ceremony's enrolment entry
 * replaces it once a `pin-changed` entry of that ceremony for the user PIN follows it.
 */
export function enrolmentInForce(entries: Iterable<Seen>, beforeSeq = Number.POSITIVE_INFINITY, base?: RecordedEnrolment): EnrolmentInForce | undefined {
  // With a base (the enrolment in force before these entries, from a chain held elsewhere), every enrolment
  // among them is a later ceremony's.
  let firstCeremony: string | undefined = base ? '' : undefined;
  let inForce: EnrolmentInForce | undefined = base ? { ...base, seq: -1, ceremonyId: base.enrolment.ceremonyId, by: 'first', data: {} } : undefined;
  const pending = new Map<string, EnrolmentInForce>();
  for (const e of entries) {
    if (e.seq >= beforeSeq) break;
    firstCeremony ??= e.ceremonyId;
    if (e.kind === ENROLMENT) {
      const r = recordedOf(e);
      if (!r) continue;
      const found: EnrolmentInForce = { ...r, seq: e.seq, ceremonyId: e.ceremonyId, by: e.ceremonyId === firstCeremony ? 'first' : 'rotation', data: (e.data ?? {}) as Record<string, unknown> };
      if (e.ceremonyId === firstCeremony) inForce = found;
      else pending.set(e.ceremonyId, found);
    } else if (e.kind === PIN_CHANGED && (e.data as { pin?: unknown } | null)?.pin === 'user') {
      const p = pending.get(e.ceremonyId);
      if (p) {
        inForce = p;
        pending.delete(e.ceremonyId);
      }
    }
  }
  return inForce;
}
