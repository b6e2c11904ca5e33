// A key destroyed by a destroy-key ceremony stays destroyed: any later ceremony that names it by its label
// (kms-rewrap, backup-key, destroy-key again) is refused at the step that looks for it, with the date and the
// ceremony that destroyed it, so nobody spends a quorum on a key that no longer exists, and a key made
// afterwards outside a ceremony under the same label is never taken for the destroyed one.
import { AppError } from '../../errors.js';
import type { Entry } from '../../transcript/entry.js';
import { keyHistory, type DestroyRecord } from './key-history.js';

export const KEY_DESTROYED = 'key-destroyed';

/** The destruction of the key with this label, when the chain's last word on that label is a destroy-key. */
export function destroyedKey(chainEntries: Iterable<Pick<Entry, 'kind' | 'data' | 'ceremonyId' | 'seq' | 'hash' | 'time'>>, keyLabel: string): DestroyRecord | undefined {
  return keyHistory(chainEntries).destroyed.get(keyLabel);
}

/** Throw an AppError naming when and by which ceremony the key labelled `keyLabel` was destroyed, if it was. */
export function refuseIfDestroyed(chainEntries: Iterable<Pick<Entry, 'kind' | 'data' | 'ceremonyId' | 'seq' | 'hash' | 'time'>>, keyLabel: string, field = 'parameters.keyLabel'): void {
  const d = destroyedKey(chainEntries, keyLabel);
  if (!d) return;
  throw new AppError(
    KEY_DESTROYED,
    `${field}: the key labelled '${keyLabel}' was destroyed on ${d.time.slice(0, 10)} (${d.time}) by ceremony ${d.ceremonyId} (transcript entry ${d.seq}); it no longer exists in this token`,
    'Nothing was done. Name a key that exists (the transcript lists them), or, if a copy was backed up before its destruction, restore it with restore-key under a new ceremony.',
  );
}
