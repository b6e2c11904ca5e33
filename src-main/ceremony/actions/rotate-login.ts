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
import { pinsCeremonyIdOf, rebuildSecret, type RecordedEnrolment } from './quorum-login.js';

/** The domain of the custodians this ceremony replaces (from their secret, at the login), kept beside RunState. */
export const oldDomain = new WeakMap<RunState, string>();

/**
 * Resumed runs of a rotation that recorded its rotate-pins intent and neither the user PIN change nor the
 * step's result: its C_SetPIN may have acted before the process stopped, so only its own new shares may open
 * the token. The resumed login is theirs; rotate-pins then finishes (rotate-custodians.ts).
 */
export const finishingRotation = new WeakSet<RunState>();

/** The enrolment a stopped rotation recorded, when it stopped inside its PIN step (from its own entries). */
export function stoppedRotationEnrolment(own: readonly { kind: string; data: unknown }[]): RecordedEnrolment | undefined {
  const action = (e: { data: unknown }) => (e.data as { action?: unknown } | null)?.action;
  if (!own.some((e) => e.kind === 'intent' && action(e) === 'rotate-pins')) return undefined;
  if (own.some((e) => (e.kind === PIN_CHANGED && (e.data as { pin?: unknown } | null)?.pin === 'user') || (e.kind === 'result' && action(e) === 'rotate-pins'))) return undefined;
  const d = [...own].reverse().find((e) => e.kind === 'enrolment')?.data as Partial<RecordedEnrolment> | undefined;
  return d && typeof d.secretCheck === 'string' && d.enrolment ? { enrolment: d.enrolment, secretCheck: d.secretCheck } : undefined;
}

/** A script that rotates the custodians keeps the current PINs at its quorum login. */
export const rotatesCustodians = (script: { steps: readonly { action: string }[] }) => script.steps.some((s) => s.action === 'rotate-pins');

/**
 * quorum-login of rotate-custodians: as loginWithShares (M enrolled custodians before combining, the secret
 * checked), and it keeps the current user and SO PINs for rotate-pins and the old domain's id.
 */
export async function loginKeepingPins(ctx: ActionContext, session: string, inForce: RecordedEnrolment, shares: Uint8Array[]): Promise<{ custodians: string[] }> {
  const finishing = finishingRotation.has(ctx.state) && ctx.state.enrolment && ctx.state.secretCheck ? { enrolment: ctx.state.enrolment, secretCheck: ctx.state.secretCheck } : undefined;
  const recorded = finishing ?? inForce;
  const { secret, custodians } = await rebuildSecret(recorded, shares);
  try {
    const info = ctx.token.info;
    // A token that joined a domain derives its PINs with its own ceremony id (pinsCeremonyIdOf).
    const pins = derivePins(secret, pinsCeremonyIdOf(recorded), info ? { minPinLength: info.minPinLength, maxPinLength: info.maxPinLength } : {});
    if (finishing) {
      // This rotation's own new shares: the token opens with them only if its C_SetPIN acted.
      await ctx.deps.layer.login(session, 'user', pins.userPin).catch((error: unknown) => {
        if (!isTokenError(error) || error.code !== 'CKR_PIN_INCORRECT') throw error;
        throw new AppError(
          'rotation-never-acted',
          `the token refuses the user PIN this rotation's new shares rebuild: its PIN change never acted before it stopped, so the current custodians' shares still open the token`,
          'Abandon this ceremony (Home: Abandon…; or keyceremony abandon ID --reason TEXT) and run rotate-custodians again with the current shares; the new shares it handed out open nothing.',
        );
      });
      // rotate-pins finishes with the new secret: kept (copied) until then.
      ctx.secrets.secret = Uint8Array.from(secret);
      ctx.secrets.currentPins = { user: Buffer.from(pins.userPin, 'utf8') };
      return { custodians };
    }
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
    `Keep both sets of shares. If ${stopped.ceremonyId} was interrupted, resume it with M of its new shares (Home: Resume; or keyceremony rotate-custodians --resume ${stopped.ceremonyId} ...): it finishes the rotation. If it was aborted, the transcript cannot take its shares (docs/ceremonies.md, rotate-custodians). Nothing was changed by this attempt.`,
  );
}
