// Closing the abort window of rotate-custodians (DESIGN principle 8). A rotation that recorded its rotate-pins
// intent and no user PIN change may have had its C_SetPIN act with the answer lost: the token then opens only
// with the new shares. An aborted ceremony is never resumed, so an abort that left the chain naming the old
// custodians would leave a token whose transcript names custodians who cannot open it. Before such an abort the
// token is asked which PIN it accepts now, and the answer is recorded: a `pin-changed` entry when the new
// secret's user PIN opens it (the new enrolment is in force from that entry, enrolment-in-force.ts), or a
// `pins-probed` entry when it refuses it (the old custodians stay in force). When the token cannot be asked,
// the abort is refused in words: Retry, or close the app and resume (the resumed login lets the token judge).
// The same guard holds for Abandon of an interrupted rotation, which has no token at hand: refused unless a
// resumed login of it found the token refusing the new shares.
import { isTokenError } from '../../../hsm/errors.js';
import type { SlotRef, TokenInfo } from '../../../hsm/types.js';
import type { EngineDeps } from '../engine/types.js';
import { AppError } from '../../errors.js';
import type { JsonObject } from '../../transcript/json-value.js';
import { derivePins } from '../quorum/index.js';
import { PIN_CHANGED_KIND } from './enrol-token.js';
import { isNssSoftoken } from './nss-softoken.js';
import { stoppedRotationEnrolment } from './rotate-login.js';

/** The entry recording that the token refused the new user PIN when asked before an abort. */
export const PINS_PROBED_KIND = 'pins-probed';
/** The code a resumed rotation's login fails with when the token refuses its new shares (rotate-login.ts). */
const NEVER_ACTED = 'rotation-never-acted';

type Seen = { kind: string; data: unknown };

/** Is this ceremony's record a rotation in the window: its rotate-pins intent recorded, no user PIN change, no result? */
export function inPinWindow(own: readonly Seen[]): boolean {
  return stoppedRotationEnrolment(own) !== undefined;
}

/** Did a login of this ceremony find the token refusing the rotation's new shares (so the change never acted)? */
function tokenRefusedNewShares(own: readonly Seen[]): boolean {
  return own.some((e) => e.kind === PINS_PROBED_KIND || (e.kind === 'failure' && (e.data as { error?: { code?: unknown } } | null)?.error?.code === NEVER_ACTED));
}

/** Does `pin` open the token as `who` on a fresh session? A wrong PIN answers false; any other error throws. */
async function accepts(layer: EngineDeps['layer'], slot: SlotRef, who: 'user' | 'so', pin: string): Promise<boolean> {
  const { session } = await layer.openSession(slot, { readWrite: true });
  try {
    // A PKCS#11 login belongs to the application: whatever the run held is logged out first.
    await layer.logout(session).catch(() => undefined);
    await layer.login(session, who, pin);
    await layer.logout(session).catch(() => undefined);
    return true;
  } catch (error) {
    if (isTokenError(error) && error.code === 'CKR_PIN_INCORRECT') return false;
    throw error;
  } finally {
    await layer.closeSession(session).catch(() => undefined);
  }
}

export interface AbortProbe {
  ceremonyId: string;
  /** This ceremony's own records (pre-genesis and chain entries of every run of it). */
  own: readonly Seen[];
  layer: EngineDeps['layer'];
  slot?: SlotRef;
  info?: TokenInfo;
  /** The rotation's new secret, while the run holds it. */
  secret?: Uint8Array;
  write: (kind: string, data: JsonObject) => Promise<unknown>;
}

/**
 * Before an abort of a rotation in its PIN window: ask the token which user PIN it accepts and record it.
 * Returns what was found ('not-in-window' when the ceremony is not such a rotation). Throws an AppError
 * (nothing recorded, the ceremony still running) when the token cannot be asked.
 */
export async function settleRotationBeforeAbort(p: AbortProbe): Promise<'not-in-window' | 'new' | 'old'> {
  if (!inPinWindow(p.own) || tokenRefusedNewShares(p.own)) return 'not-in-window';
  const refuse = (why: string) =>
    new AppError(
      'rotation-abort-unsettled',
      `ceremony ${p.ceremonyId} may have replaced the token's user PIN (its PIN step began and no change is recorded), and ${why}: an abort now could leave a transcript naming custodians whose shares no longer open the token`,
      'Reconnect the token and press Retry on the PIN step (it finds what changed and finishes), or abort again once the token answers. If the app must close, close it: the ceremony stays interrupted, and resuming it with M of the new shares lets the token say whether the change acted.',
    );
  if (!p.slot || !p.secret) throw refuse("this run no longer holds the new secret to ask the token with (the new custodians' login has not opened it yet)");
  const pins = derivePins(p.secret, p.ceremonyId, { minPinLength: p.info?.minPinLength, maxPinLength: p.info?.maxPinLength });
  let newUser: boolean;
  try {
    newUser = await accepts(p.layer, p.slot, 'user', pins.userPin);
  } catch (error) {
    throw refuse(`the token cannot be asked which PIN it accepts (${(error as Error).message})`);
  }
  if (!newUser) {
    await p.write(PINS_PROBED_KIND, { pin: 'user', found: 'old', note: "asked before the abort: the token refuses the user PIN the new secret derives, so its PIN change never acted; the current custodians' shares still open it" });
    return 'old';
  }
  await p.write(PIN_CHANGED_KIND, { pin: 'user', found: "asked before the abort: the token accepts the user PIN the new secret derives (its C_SetPIN acted, its answer was lost): the new custodians' shares open the token, the old ones do not", note: "the user PIN is derived from the new secret: the new custodians' shares open the token" });
  // The SO PIN: recorded as the new one when the token says so; otherwise it stays the old secret's or the vendor's.
  const soNew = !isNssSoftoken(p.slot.moduleId, p.info) && (await accepts(p.layer, p.slot, 'so', pins.soPin).catch(() => false));
  if (soNew) await p.write(PIN_CHANGED_KIND, { pin: 'so', found: 'asked before the abort: the token already had it', note: 'the SO PIN is derived from the new secret' });
  return 'new';
}

/** Abandon (no token at hand) of an interrupted rotation in its PIN window: refused unless the token already judged. */
export function refuseAbandonInPinWindow(ceremonyId: string, own: readonly Seen[]): void {
  if (!inPinWindow(own) || tokenRefusedNewShares(own)) return;
  throw new AppError(
    'rotation-abandon-unsettled',
    `ceremony ${ceremonyId} stopped inside its PIN step with no PIN change recorded: the token may already open only with its new shares, and an abandoned ceremony cannot be resumed to record that`,
    `Resume it with M of its new shares (Home: Resume; or keyceremony rotate-custodians --resume ${ceremonyId} ...): it finishes the rotation if the change acted; if the token refuses the new shares, that is recorded and the ceremony can then be abandoned. Keep both sets of shares until then.`,
  );
}
