// What backup-key and restore-key do inside their quorum step: rebuild the domain secret from the shares the
// engine collected (each identified by its enrolled approval key first), check it names this token's domain,
// import the domain backup key into the token as a session object (CKA_TOKEN false, not extractable), use it
// for the one operation, destroy it, and wipe every host copy at once. The backup key never outlives the step.
// A YubiHSM 2 cannot take a key this way: it gets the domain's wrap key instead (withDomainWrapKey), which
// its driver puts into the device (PUT WRAP KEY) for one EXPORT/IMPORT WRAPPED and deletes at once.
import { AppError } from '../../errors.js';
import type { ObjectHandle } from '../../../hsm/types.js';
import { createPublicKey } from 'node:crypto';
import { domainBackupKey, domainId, domainRsaWrapKey, domainYubihsmWrapKey } from '../quorum/domain.js';
import { wipe } from '../quorum/index.js';
import type { ActionContext } from '../engine/types.js';
import { enrolmentOfChain, rebuildSecret } from './quorum-login.js';

export const BACKUP_KEY_LABEL = 'kc-domain-backup-key';

export interface DomainStep {
  domainId: string;
  custodians: string[];
  /** backup-key on a PKCS#11 token, when asked: the domain RSA wrap key's public half (DER SPKI). */
  rsaWrapSpki?: Uint8Array;
}

/**
 * Rebuild S from this quorum step's shares, check it names this token's domain (and `expectDomain`, the
 * backup's), derive the one key the step needs from it, wipe S, run `use`, and wipe the derived key whatever
 * happens. Refused before anything reaches the token when S is of another domain.
 */
async function withDomainKey<T>(ctx: ActionContext, expectDomain: string | undefined, derive: (secret: Uint8Array) => Buffer, use: (key: Buffer, step: DomainStep) => Promise<T>): Promise<{ result: T; step: DomainStep }> {
  const store = ctx.chain();
  const session = ctx.token.session;
  if (!store || !session || ctx.token.loggedIn !== 'user') throw new AppError('ceremony-no-session', `step '${ctx.step.id}': the token is not logged in`, 'The script must run quorum-login before this step.');
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
    key = derive(secret);
    wipe(secret);
    return { result: await use(key, { domainId: id, custodians }), step: { domainId: id, custodians } };
  } finally {
    wipe(secret, key);
  }
}

/**
 * Run `use` with the domain backup key as a session object in the logged-in session (PKCS#11 tokens).
 * `expectDomain`: refused before the key is imported when S is of another domain.
 */
export async function withBackupKey<T>(
  ctx: ActionContext,
  purpose: 'wrap' | 'unwrap',
  expectDomain: string | undefined,
  use: (backupKey: ObjectHandle, step: DomainStep) => Promise<T>,
  options: { rsaWrapPublicKey?: boolean } = {},
): Promise<{ result: T; step: DomainStep }> {
  const layer = ctx.deps.layer;
  const session = ctx.token.session;
  if (!layer.createSecretKey) throw new AppError('backup-driver', `step '${ctx.step.id}': this token driver cannot hold the domain backup key`, 'Use a PKCS#11 token for backup and restore.');
  const create = layer.createSecretKey.bind(layer);
  // Only the public half leaves the derivation; the private KeyObject is dropped at once.
  let rsaWrapSpki: Uint8Array | undefined;
  const derive = (secret: Uint8Array): Buffer => {
    if (options.rsaWrapPublicKey) rsaWrapSpki = new Uint8Array(createPublicKey(domainRsaWrapKey(secret)).export({ format: 'der', type: 'spki' }));
    return domainBackupKey(secret);
  };
  return withDomainKey(ctx, expectDomain, derive, async (key, domainStep) => {
    const step: DomainStep = rsaWrapSpki ? { ...domainStep, rsaWrapSpki } : domainStep;
    const handle = await create(session as string, { type: 'AES', bits: 256 }, key, {
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
    try {
      return await use(handle, step);
    } finally {
      await layer.destroyObject(session as string, handle);
    }
  });
}

/**
 * A YubiHSM 2: run `use` with the domain's wrap key bytes (domainYubihsmWrapKey), which the driver puts into
 * the device for its one EXPORT/IMPORT WRAPPED call and deletes again (hsm/yubihsm/domain-wrap.ts); the host
 * copy is wiped when `use` returns or throws.
 */
/**
 * A YubiHSM 2 restoring a PKCS#11 token's backup: run `use` with the domain RSA wrap key's private half as
 * PKCS#8 DER, which the driver puts into the device as an RSA wrap key for its one UNWRAP_KEY_RSA and deletes
 * again; these bytes are wiped when `use` returns or throws (OpenSSL's own copies are freed, not zeroed).
 */
export async function withDomainRsaWrapKey<T>(ctx: ActionContext, expectDomain: string | undefined, use: (pkcs8: Uint8Array, step: DomainStep) => Promise<T>): Promise<{ result: T; step: DomainStep }> {
  const derive = (secret: Uint8Array): Buffer => domainRsaWrapKey(secret).export({ format: 'der', type: 'pkcs8' });
  return withDomainKey(ctx, expectDomain, derive, (key, step) => use(new Uint8Array(key.buffer, key.byteOffset, key.length), step));
}

export async function withDomainWrapKey<T>(ctx: ActionContext, expectDomain: string | undefined, use: (wrapKey: Uint8Array, step: DomainStep) => Promise<T>): Promise<{ result: T; step: DomainStep }> {
  return withDomainKey(ctx, expectDomain, domainYubihsmWrapKey, (key, step) => use(new Uint8Array(key.buffer, key.byteOffset, key.length), step));
}
