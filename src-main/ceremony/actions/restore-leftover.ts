// restore-key after an interruption: a run killed after the token unwrapped (or imported) the key but before
// its result was recorded leaves an object with the backup's label and CKA_ID, and a retry after a fault
// that struck once the token had acted leaves the same. Such an object is this ceremony's own only when the
// chain says so (its restore-unwrap intent names that label and CKA_ID and has no result); then check-backup
// lets it pass, and the unwrap step proves it exactly as a fresh restore is proved (wrapped back out it gives
// the backup's bytes, or on a YubiHSM its check value is the recorded one) and keeps it, recorded as found,
// or destroys it and restores afresh. An object the chain does not account for is never touched.
import type { BackupManifest } from '../../backup/folder.js';
import type { ObjectHandle, SessionHandle } from '../../../hsm/types.js';
import type { JsonObject } from '../../transcript/json-value.js';
import type { ActionContext } from '../engine/types.js';

/** Did an earlier run of this ceremony record the intent to create this backup's key, and no result for it? */
export function interruptedRestoreOf(ctx: ActionContext, m: BackupManifest): boolean {
  const step = ctx.loaded.script.steps.find((s) => s.action === 'restore-unwrap');
  if (!step || !ctx.resumed) return false;
  const entries = ctx.resumed.entriesOf(step.id);
  const last = entries.map((e) => e.kind).lastIndexOf('intent');
  if (last < 0 || entries.slice(last).some((e) => e.kind === 'result')) return false;
  const creates = (entries[last]?.data as { creates?: { label?: unknown; id?: unknown } }).creates;
  return creates?.label === m.key.label && creates.id === m.key.id;
}

export interface Leftover {
  /** The secret or private key object(s) with the backup's label and CKA_ID. */
  keys: ObjectHandle[];
  /** Public key objects with the backup's label or CKA_ID (restore-key makes them from the SPKI, with the label). */
  publics: ObjectHandle[];
}

/**
 * What an earlier attempt of this ceremony left in the token with the backup's label and CKA_ID, or undefined
 * when nothing is there. Objects with the label or the CKA_ID that are not of that shape were not made by
 * restore-key: returned as `foreign`, never touched.
 */
export async function findLeftover(ctx: ActionContext, session: SessionHandle, m: BackupManifest, secretClass: 'SECRET_KEY' | 'PRIVATE_KEY'): Promise<{ leftover?: Leftover; foreign: number }> {
  const layer = ctx.deps.layer;
  const id = Buffer.from(m.key.id, 'hex');
  const byLabel = await layer.findAll(session, { label: m.key.label });
  const byId = id.length > 0 ? await layer.findAll(session, { id }) : [];
  if (byLabel.length === 0 && byId.length === 0) return { foreign: 0 };
  const keys = await layer.findAll(session, { label: m.key.label, class: secretClass, ...(id.length > 0 ? { id } : {}) });
  // The public half: made from the SPKI with the label; a token may also give one the CKA_ID of its private key.
  const publics = secretClass === 'PRIVATE_KEY'
    ? [...new Set([...(await layer.findAll(session, { label: m.key.label, class: 'PUBLIC_KEY' })), ...(id.length > 0 ? await layer.findAll(session, { id, class: 'PUBLIC_KEY' }) : [])])]
    : [];
  const ours = new Set([...keys, ...publics]);
  const foreign = new Set([...byLabel, ...byId].filter((h) => !ours.has(h))).size;
  return { leftover: { keys, publics }, foreign };
}

/** Destroy what an earlier attempt left, and record it. */
export async function destroyLeftover(ctx: ActionContext, session: SessionHandle, m: BackupManifest, left: Leftover, why: string): Promise<void> {
  const layer = ctx.deps.layer;
  for (const h of left.keys) await layer.destroyObject(session, h);
  // A YubiHSM's public half is the same object as its private key: gone with it.
  const id = Buffer.from(m.key.id, 'hex');
  const still = new Set(
    left.publics.length === 0
      ? []
      : [...(await layer.findAll(session, { label: m.key.label, class: 'PUBLIC_KEY' })), ...(id.length > 0 ? await layer.findAll(session, { id, class: 'PUBLIC_KEY' }) : [])],
  );
  for (const h of left.publics) if (still.has(h)) await layer.destroyObject(session, h);
  await ctx.record('restored-object-destroyed', { label: m.key.label, id: m.key.id, objects: left.keys.length + left.publics.length, why, leftByInterruptedAttempt: true } as JsonObject);
}
