// What backup-key and restore-key do inside their quorum step: rebuild the domain secret from the shares the
// engine collected (each identified by its enrolled approval key first), check it names this token's domain,
// import the domain backup key into the token as a session object (CKA_TOKEN false, not extractable), use it
// for the one operation, destroy it, and wipe every host copy at once. The backup key never outlives the step.
// A YubiHSM 2 cannot take a key this way: its seam is here, with PUT WRAP KEY of domainYubihsmWrapKey(S) in
// place of createSecretKey and EXPORT/IMPORT WRAPPED in place of C_WrapKey/C_UnwrapKey (wired with the
// YubiHSM driver's wrap commands).
import { AppError } from '../../errors.js';
import type { ObjectHandle } from '../../../hsm/types.js';
import { domainBackupKey, domainId } from '../quorum/domain.js';
import { wipe } from '../quorum/index.js';
import type { ActionContext } from '../engine/types.js';
import { enrolmentOfChain, rebuildSecret } from './quorum-login.js';

export const BACKUP_KEY_LABEL = 'kc-domain-backup-key';

export interface DomainStep {
  domainId: string;
  custodians: string[];
}

/**
 * Rebuild S from this quorum step's shares and run `use` with the backup key as a session object in the
 * logged-in session. `expectDomain`: refused before the key is imported when S is of another domain.
 */
export async function withBackupKey<T>(ctx: ActionContext, purpose: 'wrap' | 'unwrap', expectDomain: string | undefined, use: (backupKey: ObjectHandle, step: DomainStep) => Promise<T>): Promise<{ result: T; step: DomainStep }> {
  const store = ctx.chain();
  const session = ctx.token.session;
  if (!store || !session || ctx.token.loggedIn !== 'user') throw new AppError('ceremony-no-session', `step '${ctx.step.id}': the token is not logged in`, 'The script must run quorum-login before this step.');
  const layer = ctx.deps.layer;
  if (!layer.createSecretKey) throw new AppError('backup-driver', `step '${ctx.step.id}': this token driver cannot hold the domain backup key`, 'Use a PKCS#11 token for backup and restore.');
  const recorded = enrolmentOfChain(store);
  if (!recorded) throw new AppError('ceremony-no-enrolment', 'the transcript holds no enrolment', 'This token was not initialized by init-token.');
  const shares = [...(ctx.state.quorum?.shares ?? [])];
  if (ctx.state.quorum) ctx.state.quorum.shares = [];
  const { secret, custodians } = await rebuildSecret(recorded, shares, `step '${ctx.step.id}'`);
  let key: Buffer | undefined;
  try {
    const id = domainId(secret);
    for (const [what, want] of [['this token enrolment', recorded.domainId], ['the backup', expectDomain]] as const) {
      if (want !== undefined && want !== id) {
        throw new AppError(
          'domain-mismatch',
          `step '${ctx.step.id}': the custodians' shares rebuild security domain ${id}, but ${what} names domain ${want}`,
          'Use a backup of this token\'s security domain, or restore onto a token of the backup\'s domain. Nothing was changed.',
        );
      }
    }
    key = domainBackupKey(secret);
    wipe(secret);
    const handle = await layer.createSecretKey(session, { type: 'AES', bits: 256 }, key, {
      label: BACKUP_KEY_LABEL,
      id: new Uint8Array(),
      token: false,
      private: true,
      sensitive: true,
      extractable: false,
      encrypt: false,
      decrypt: false,
      sign: false,
      verify: false,
      // Restore also wraps: the restored key, wrapped back out, must give the backup's exact bytes.
      wrap: true,
      unwrap: purpose === 'unwrap',
      derive: false,
    });
    wipe(key);
    const step = { domainId: id, custodians };
    try {
      return { result: await use(handle, step), step };
    } finally {
      await layer.destroyObject(session, handle);
    }
  } finally {
    wipe(secret, key);
  }
}
