// The quorum login of rotate-custodians (ceremonies/rotate-custodians.yaml): as every quorum login, and it
// keeps what rotate-pins needs later, the current PINs and the old domain's id. Apart from the actions
// (rotate-custodians.ts) so that general.ts, which calls it, does not import them.
import { isTokenError } from '../../../hsm/errors.js';
import { AppError } from '../../errors.js';
import type { TranscriptStore } from '../../transcript/store.js';
import type { RunState, ActionContext } from '../engine/types.js';
import { PIN_CHANGED } from './enrolment-in-force.js';
import { derivePins, wipe } from '../quorum/index.js';
import { domainId } from '../quorum/domain.js';
import { rebuildSecret, type RecordedEnrolment } from './quorum-login.js';

/** The domain of the custodians this ceremony replaces (from their secret, at the login), kept beside RunState. */
export const oldDomain = new WeakMap<RunState, string>();

/** A script that rotates the custodians keeps the current PINs at its quorum login. */
export const rotatesCustodians = (script: { steps: readonly { action: string }[] }) => script.steps.some((s) => s.action === 'rotate-pins');

/**
 * quorum-login of rotate-custodians: as loginWithShares (M enrolled custodians before combining, the secret
 * checked), and it keeps the current user and SO PINs for rotate-pins and the old domain's id.
 */
export async function loginKeepingPins(ctx: ActionContext, session: string, recorded: RecordedEnrolment, shares: Uint8Array[]): Promise<{ custodians: string[] }> {
  const { secret, custodians } = await rebuildSecret(recorded, shares);
  try {
    const info = ctx.token.info;
    const pins = derivePins(secret, recorded.enrolment.ceremonyId, info ? { minPinLength: info.minPinLength, maxPinLength: info.maxPinLength } : {});
    await ctx.deps.layer.login(session, 'user', pins.userPin);
    ctx.secrets.currentPins = { user: Buffer.from(pins.userPin, 'utf8'), so: Buffer.from(pins.soPin, 'utf8') };
    oldDomain.set(ctx.state, domainId(secret));
    return { custodians };
  } finally {
    wipe(secret);
  }
}

/**
 * A user PIN the enrolment in force rebuilds, refused by the token, right after a rotate-custodians that
 * recorded its rotate-pins intent and no user PIN change: that rotation stopped between its C_SetPIN and the
 * record of it, so the token opens with its new shares only. Said in words (the known gap of
 * docs/ceremonies.md, rotate-custodians); any other error is returned as it is.
 */
export function explainStoppedRotation(error: unknown, store: Pick<TranscriptStore, 'head' | 'entries'>): unknown {
  if (!isTokenError(error) || error.code !== 'CKR_PIN_INCORRECT') return error;
  const head = store.head();
  const entries = head ? store.entries(0, head.seq) : [];
  const changed = new Set(entries.filter((e) => e.kind === PIN_CHANGED && (e.data as { pin?: unknown }).pin === 'user').map((e) => e.ceremonyId));
  const stopped = [...entries].reverse().find((e) => e.kind === 'intent' && (e.data as { action?: unknown }).action === 'rotate-pins' && !changed.has(e.ceremonyId));
  if (!stopped) return error;
  return new AppError(
    'rotation-stopped-in-pin-change',
    `the token refuses the user PIN the enrolled custodians' shares rebuild, and rotate-custodians ${stopped.ceremonyId} stopped in its PIN step (intent at entry ${stopped.seq}, no PIN change recorded): its C_SetPIN acted before the record, so the token now opens only with that rotation's new shares`,
    'Keep both sets of shares. The transcript cannot yet take the new shares for that rotation (docs/ceremonies.md, rotate-custodians: known gap); nothing was changed by this attempt.',
  );
}
