// The quorum login of rotate-custodians (ceremonies/rotate-custodians.yaml): as every quorum login, and it
// keeps what rotate-pins needs later, the current PINs and the old domain's id. Apart from the actions
// (rotate-custodians.ts) so that general.ts, which calls it, does not import them.
import type { RunState, ActionContext } from '../engine/types.js';
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
