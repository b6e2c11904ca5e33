// A token is never left that nobody can open (DESIGN principle 8). Before an action changes a token's state
// (C_InitToken, C_InitPIN, C_SetPIN, destroying objects), the secret its new PINs come from must already be
// recoverable by M custodians: every share file written, read back and decoded to the very share in memory,
// every M-subset proved, and the enrolment recorded. The actions generate-secret, distribute-shares and
// prove-subsets do that preparation, in that order, before the step that touches the token; that step
// calls requireRecoverableSecret first. init-token is built this way; enrol-token (C_SetPIN on a token that
// is already initialized) reuses the same three steps and the same guard.
import { rm } from 'node:fs/promises';
import { timingSafeEqual } from 'node:crypto';
import { AppError } from '../../errors.js';
import { openShareFile, wipe } from '../quorum/index.js';
import type { ActionContext } from '../engine/types.js';
import { readBounded } from '../../files/read-bounded.js';
import { SHARE_FILE_KIND } from './presented-share.js';

/** Custodians of this ceremony still waiting for their share. */
export function pending(ctx: Pick<ActionContext, 'parameters' | 'state'>): string[] {
  // A token joining an existing domain hands out no shares: the domain's custodians hold them already.
  const custodians = Array.isArray(ctx.parameters.custodians) ? (ctx.parameters.custodians as string[]) : [];
  return custodians.filter((c) => !ctx.state.issued.has(c));
}

/**
 * Refuse to touch the token unless every share is out, read back and proved, and the enrolment recorded. A
 * token that joins an existing domain (join-domain.ts) passes when M of the domain's shares rebuilt the
 * secret the domain's enrolment checks, and that enrolment was recorded for this token.
 */
export function requireRecoverableSecret(ctx: Pick<ActionContext, 'parameters' | 'state' | 'step'>): void {
  const left = pending(ctx);
  if (left.length > 0 || !ctx.state.sharesProved || !ctx.state.enrolment) {
    throw new AppError(
      'shares-not-proven',
      `step '${ctx.step.id}': the token is not changed before every custodian holds a proven share${left.length > 0 ? ` (still waiting: ${left.join(', ')})` : ' (the subsets were not proved yet)'}`,
      'Hand out every share and prove every combination first; the token is untouched.',
    );
  }
}

/**
 * Read a share file back from its medium and decode it (with the custodian's passphrase) to exactly the
 * share held in memory: a stick that returns other bytes, or a file that does not open, is caught while the
 * token is still untouched. Throws an AppError naming the file.
 */
export async function readBackShare(path: string, passphrase: string | undefined, expected: { ceremonyId: string; custodian: string; share: Uint8Array }): Promise<void> {
  let decoded: Uint8Array | undefined;
  try {
    const opened = await openShareFile(await readBounded(path, SHARE_FILE_KIND), passphrase, { ceremonyId: expected.ceremonyId });
    decoded = opened.share;
    const same = opened.custodian === expected.custodian && decoded.length === expected.share.length && timingSafeEqual(decoded, expected.share);
    if (!same) throw new Error('it decodes to another share');
  } catch (error) {
    // What does not read back is not a share file: remove it, so nothing half-written looks complete.
    await rm(path, { force: true }).catch(() => undefined);
    throw new AppError('share-file-readback', `${path} was written but does not read back as ${expected.custodian}'s share (${(error as Error).message})`, 'Use another USB stick; this one does not keep what is written. The token is untouched.');
  } finally {
    wipe(decoded);
  }
}
