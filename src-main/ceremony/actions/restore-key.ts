// The restore-key actions (ceremonies/restore-key.yaml): read the backup folder and check it before anything
// changes (every hash, the domain against this token's enrolment, the label and CKA_ID free in the token, an
// RFC 5649 unwrap proved on throw-away objects, the check value computable here); then, in a quorum step,
// unwrap it inside the token under the domain backup key (domain-secret.ts) with the recorded label and
// CKA_ID, persistent, private, sensitive, extractable only so it can be wrapped again; read it back and
// recompute its check value in the token. Anything but the recorded value: the object is destroyed and the
// ceremony fails. The result is recorded in generate-key's shape, so kms-rewrap and backup-key find it.
// A YubiHSM 2 takes only a YubiHSM backup, through its own IMPORT WRAPPED (restore-yubihsm.ts), and a
// PKCS#11 token only an RFC 5649 one: the other is refused in words at check-backup.
import { createHash, createPublicKey } from 'node:crypto';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import { TokenError } from '../../../hsm/errors.js';
import { aesCheckValueMethod, findKmsKey, keyRecord, KEY_SPECS } from '../../kms/index.js';
import { CKM_CODES } from '../../kms/keyspecs.js';
import { chooseBackupMechanism, ecPublicPoint, isYubiHsmSlot, refuseUnsupportedSpec } from '../../backup/mechanism.js';
import { readBackupFolder, WRAP_FORMAT_YUBIHSM, WRAPPED_RSA_FILE, type BackupFolder } from '../../backup/folder.js';
import { restoreWrappedObject } from './restore-yubihsm.js';
import { asOnDevice, restoreRsaWrappedAes, rsaUnwrapMechanism } from './restore-yubihsm-rsa.js';
import { destroyLeftover, findLeftover, interruptedRestoreOf } from './restore-leftover.js';
import type { JsonObject } from '../../transcript/json-value.js';
import type { ActionContext, ActionImpl } from '../engine/types.js';
import { noInput } from './general.js';
import { withBackupKey } from './domain-secret.js';
import { backupState } from './backup-key.js';
import { enrolmentOfChain } from './quorum-login.js';
import { absoluteDir } from './general.js';

function fail(ctx: ActionContext, code: string, what: string, remedy: string): never {
  throw new AppError(code, `step '${ctx.step.id}': ${what}`, remedy);
}

const isAsymmetric = (m: BackupFolder['manifest']) => ['rsa', 'ec'].includes(KEY_SPECS[m.key.keySpec].kind);

/**
 * A YubiHSM 2 imports only its own wrapped objects, and a PKCS#11 token only RFC 5649: the manifest says which
 * this backup is, and the other model is refused before anything changes. (Unwrapping RFC 5649 for a YubiHSM
 * would need the material in plaintext on this computer, which the app never does.)
 */
function refuseFormatOfOtherModel(ctx: ActionContext, folder: BackupFolder, targetIsYubiHsm: boolean, label: string): void {
  const m = folder.manifest;
  const backupIsYubiHsm = m.wrap.format === WRAP_FORMAT_YUBIHSM;
  if (backupIsYubiHsm === targetIsYubiHsm) return;
  // A PKCS#11 token's backup that carries the RSA-wrapped copy: a YubiHSM 2 imports that one (restore-yubihsm-rsa.ts).
  if (targetIsYubiHsm && folder.wrappedRsa && m.wrapRsa) return;
  if (backupIsYubiHsm) {
    fail(
      ctx,
      'restore-other-model',
      `the backup in ${folder.dir} is a YubiHSM 2 wrapped object (EXPORT WRAPPED, AES-CCM under the domain wrap key), which only a YubiHSM 2 can import, and token '${label}' is a PKCS#11 token`,
      `Restore it onto a YubiHSM 2 of domain ${m.domainId} (a YubiHSM joins the domain with init-token --join-domain-share). Nothing was changed.`,
    );
  }
  fail(
    ctx,
    'restore-other-model',
    `the backup in ${folder.dir} is RFC 5649 only (wrapped by a PKCS#11 token, ${m.wrap.mechanism}) and has no ${WRAPPED_RSA_FILE}: a YubiHSM 2 cannot unwrap RFC 5649 under an AES key, and unwrapping it for the device would put the key material in plaintext on this computer, which this app never does`,
    `Restore it onto a PKCS#11 token of domain ${m.domainId} (SoftHSM, NSS softoken, most HSMs); or, for an AES key, take a new backup with backup-key of this version on the source token: it also writes ${WRAPPED_RSA_FILE}, which a YubiHSM 2 (firmware 2.4 or later) of the domain imports. Nothing was changed.`,
  );
}

export const checkBackupInput = z.strictObject({ backupDir: absoluteDir });

export const checkBackup: ActionImpl<z.infer<typeof checkBackupInput>> = {
  name: 'check-backup',
  input: checkBackupInput,
  describe: (input) => ({ backupDir: input.backupDir }),
  async perform(ctx, input) {
    const { session, slot } = ctx.token;
    const store = ctx.chain();
    if (!session || !slot || !store || ctx.token.loggedIn !== 'user') fail(ctx, 'ceremony-no-session', 'the token is not logged in', 'The script must run quorum-login before this step.');
    const b = backupState(ctx);
    if (b.folder) fail(ctx, 'ceremony-state', `a backup was already checked in this ceremony (${b.folder.dir})`, 'Go on with the next step.');
    const folder = await readBackupFolder(input.backupDir);
    const m = folder.manifest;
    const recorded = enrolmentOfChain(store);
    const label = ctx.token.info?.label.trim() ?? '';
    if (recorded?.domainId !== undefined && recorded.domainId !== m.domainId) {
      fail(
        ctx,
        'restore-other-domain',
        `the backup in ${folder.dir} is of security domain ${m.domainId}, and token '${label}' belongs to domain ${recorded.domainId}: it cannot unwrap it`,
        `Restore it onto a token of domain ${m.domainId} (a token joins that domain with init-token or enrol-token --join-domain-share and that domain's share files). Nothing was changed.`,
      );
    }
    refuseFormatOfOtherModel(ctx, folder, isYubiHsmSlot(slot), label);
    refuseUnsupportedSpec(m.key.keySpec, 'restore');
    const layer = ctx.deps.layer;
    // A resumed restore whose unwrap intent has no result may have left its own object: proved at the unwrap step.
    const interrupted = interruptedRestoreOf(ctx, m);
    let leftBehind = 0;
    if (interrupted) {
      // A PKCS#11 backup on a YubiHSM: the device chose the object id, so only the label names what it left.
      const onDevice = isYubiHsmSlot(slot) && m.wrap.format !== WRAP_FORMAT_YUBIHSM ? asOnDevice(m) : m;
      const { leftover, foreign } = await findLeftover(ctx, session, onDevice, isAsymmetric(m) ? 'PRIVATE_KEY' : 'SECRET_KEY');
      if (foreign > 0) fail(ctx, 'restore-label-taken', `token '${label}' holds ${foreign} object${foreign === 1 ? '' : 's'} with the label '${m.key.label}' or the CKA_ID ${m.key.id} that the interrupted restore did not make`, 'Destroy the other object in a recorded ceremony first, or restore onto another token. Nothing was changed.');
      leftBehind = leftover ? leftover.keys.length + leftover.publics.length : 0;
    } else {
      for (const [what, query] of [
        [`the label '${m.key.label}'`, { label: m.key.label }],
        ...(m.key.id ? ([[`the CKA_ID ${m.key.id}`, { id: Buffer.from(m.key.id, 'hex') }]] as const) : []),
      ] as const) {
        const present = await layer.findAll(session, query);
        if (present.length > 0) {
          fail(ctx, 'restore-label-taken', `token '${label}' already holds ${present.length} object${present.length === 1 ? '' : 's'} with ${what}; a restore never replaces or duplicates a key`, 'If it is the same key, there is nothing to restore. Otherwise destroy the other object in a recorded ceremony first, or restore onto another token. Nothing was changed.');
        }
      }
    }
    // The check value must be recomputable here, by the method recorded, or the restore could not be proved.
    const mechs = await layer.listMechanisms(slot);
    const method = m.key.checkValue.method;
    const kind = KEY_SPECS[m.key.keySpec].kind;
    if (kind === 'rsa' || kind === 'ec') {
      const spki = m.key.publicKeySpki ? Buffer.from(m.key.publicKeySpki, 'base64') : undefined;
      if (!spki || method !== 'SHA256-SPKI' || createHash('sha256').update(spki).digest('hex').toUpperCase() !== m.key.checkValue.value) {
        fail(ctx, 'backup-tampered', `the backup of ${m.key.keySpec} key '${m.key.label}' carries no public key whose SHA-256 is its check value ${m.key.checkValue.value}`, 'Use the backup folder exactly as the backup-key ceremony wrote it. Nothing was changed.');
      }
    }
    const canCheck =
      kind === 'rsa' || kind === 'ec'
        ? true
        : kind === 'hmac'
        ? mechs.some((x) => x.code === CKM_CODES.SHA256_HMAC && x.flags.sign)
        : method === 'AES-CMAC-ZERO-BLOCK'
          ? aesCheckValueMethod(mechs) === 'AES-CMAC-ZERO-BLOCK'
          : mechs.some((x) => x.code === CKM_CODES.AES_ECB && x.flags.encrypt);
    if (!canCheck) fail(ctx, 'restore-no-check-value', `token '${label}' cannot compute the check value ${method} the backup records, so a restore could not be proved`, 'Restore onto a token that offers that mechanism. Nothing was changed.');
    b.mechanism = isYubiHsmSlot(slot) && m.wrap.format !== WRAP_FORMAT_YUBIHSM ? rsaUnwrapMechanism(ctx, folder, layer) : await chooseBackupMechanism(layer, slot, session, m.key.keySpec, 'unwrap');
    b.folder = folder;
    return {
      done: true,
      data: {
        backup: { dir: folder.dir, manifestSha256: folder.manifestSha256, files: m.files as unknown as JsonObject, ceremonyId: m.ceremonyId, createdAt: m.createdAt, sourceToken: m.sourceToken as unknown as JsonObject },
        key: { keySpec: m.key.keySpec, label: m.key.label, id: m.key.id, checkValue: { ...m.key.checkValue } },
        domainId: m.domainId,
        tokenDomain: recorded?.domainId ?? 'not recorded by this token\'s enrolment: checked against the shares at the unwrap step',
        mechanism: { name: b.mechanism.name, proof: b.mechanism.proof, ...(b.mechanism.refused.length > 0 ? { refused: b.mechanism.refused } : {}) },
        ...(interrupted ? { interruptedRestore: { objectsLeft: leftBehind, then: 'the unwrap step proves them as a fresh restore is proved and keeps them, or destroys them and restores afresh' } } : {}),
      },
    };
  },
};

export const restoreUnwrap: ActionImpl<Record<string, never>> = {
  name: 'restore-unwrap',
  input: noInput,
  needsShares: true,
  intent: (ctx): JsonObject => {
    const m = ctx.state.backup?.folder?.manifest;
    return m ? { creates: { label: m.key.label, id: m.key.id, keySpec: m.key.keySpec } } : {};
  },
  async perform(ctx) {
    const session = ctx.token.session;
    const b = backupState(ctx);
    const folder = b.folder;
    const mechanism = b.mechanism;
    if (!session || !folder || !mechanism) fail(ctx, 'ceremony-state', 'no backup was checked', 'Run check-backup first.');
    if (mechanism.format === 'yubihsm-wrapped') return restoreWrappedObject(ctx, session, folder, mechanism);
    if (mechanism.format === 'yubihsm-rsa-unwrap') return restoreRsaWrappedAes(ctx, session, folder, mechanism);
    const m = folder.manifest;
    const layer = ctx.deps.layer;
    const unwrapKey = layer.unwrapKey?.bind(layer);
    if (!unwrapKey) fail(ctx, 'backup-driver', 'this token driver cannot unwrap a key', 'Use a PKCS#11 token for restore.');
    const info = KEY_SPECS[m.key.keySpec];
    const spec = info.kind === 'aes' ? ({ type: 'AES', bits: 256 } as const) : ({ type: 'GENERIC_SECRET', bytes: info.kind === 'hmac' ? info.bytes : 32 } as const);
    const asymmetric = info.kind === 'rsa' || info.kind === 'ec';
    const spki = m.key.publicKeySpki ? Buffer.from(m.key.publicKeySpki, 'base64') : undefined;
    let publicHandle: string | undefined;
    let recovered: string | undefined;
    const { result: handle, step } = await withBackupKey(ctx, 'unwrap', m.domainId, async (backupKey) => {
      // RFC 5649 is deterministic: the restored key wrapped back out under the same backup key must give the
      // backup's very bytes, which proves its material and its length inside the token.
      const proved = async (made: string): Promise<boolean> => {
        let again: Uint8Array | undefined;
        try {
          again = await layer.wrapKey(session, mechanism.mechanism, backupKey, made);
        } catch {
          again = undefined;
        }
        // A private key another model re-encodes may wrap back to other bytes of the same key: an RSA key is then
        // proved by its modulus and exponent, which the token reveals even for a sensitive key.
        return again !== undefined && (Buffer.from(again).equals(folder.wrapped) || (info.kind === 'rsa' && spki !== undefined && (await rsaMatches(layer, session, made, spki))));
      };
      const { leftover, foreign } = await findLeftover(ctx, session, m, asymmetric ? 'PRIVATE_KEY' : 'SECRET_KEY');
      if (foreign > 0) fail(ctx, 'restore-label-taken', `the token now holds ${foreign} object${foreign === 1 ? '' : 's'} with the label '${m.key.label}' or the CKA_ID ${m.key.id} that this restore did not make`, 'Find out who created it; destroy it in a recorded ceremony, then restore again. Nothing was changed.');
      if (leftover) {
        const only = leftover.keys.length === 1 ? leftover.keys[0] : undefined;
        if (only !== undefined && (await proved(only))) {
          recovered = `found in the token, left by the interrupted attempt of this step; wrapped back out under the backup key it gives the backup's bytes${info.kind === 'rsa' ? ' (or carries the recorded modulus)' : ''}`;
          if (leftover.publics.length === 1) publicHandle = leftover.publics[0];
          else for (const h of leftover.publics) await layer.destroyObject(session, h);
          return only;
        }
        await destroyLeftover(ctx, session, m, leftover, 'left by the interrupted attempt of this step and not proved to be the backup\'s material; restored afresh');
      }
      let made: string;
      try {
        made = await unwrapKey(session, mechanism.mechanism, backupKey, folder.wrapped, asymmetric ? {
          kind: 'private',
          keyType: info.kind === 'rsa' ? 'RSA' : 'EC',
          // As generate-key makes the private half: persistent, private, sensitive, extractable only to be wrapped.
          template: { label: m.key.label, id: Buffer.from(m.key.id, 'hex'), token: true, private: true, sensitive: true, extractable: true, decrypt: false, sign: false, unwrap: false, derive: false },
          ...(info.kind === 'ec' ? { ecParams: Buffer.from(info.oidDer, 'hex'), ...(spki ? { publicPoint: ecPublicPoint(spki) } : {}) } : {}),
        } : {
          kind: 'secret',
          spec,
          // As generate-key makes it: persistent, private, sensitive, extractable only so it can be wrapped again.
          template: {
            label: m.key.label,
            id: Buffer.from(m.key.id, 'hex'),
            token: true,
            private: true,
            sensitive: true,
            extractable: true,
            encrypt: info.kind === 'aes' && m.key.checkValue.method === 'AES-ECB-ZERO-BLOCK',
            decrypt: false,
            sign: true,
            verify: false,
            wrap: false,
            unwrap: false,
            derive: false,
          },
        });
      } catch (error) {
        const code = error instanceof TokenError ? error.code : String((error as Error)?.message ?? error);
        // A fault may strike after the token acted (the answer lost): what it made goes now, or a retry proves it.
        const after = await findLeftover(ctx, session, m, asymmetric ? 'PRIVATE_KEY' : 'SECRET_KEY').catch(() => undefined);
        const left = after?.leftover && after.foreign === 0 ? after.leftover : undefined;
        const cleaned = left ? await destroyLeftover(ctx, session, m, left, `the unwrap failed (${code}) after the token had made the object`).then(() => true, () => false) : undefined;
        if (code.startsWith('CKR_DEVICE') || code.startsWith('CKR_SESSION') || code === 'CKR_GENERAL_ERROR' || cleaned !== undefined) {
          throw new AppError(
            'restore-unwrap-failed',
            `step '${ctx.step.id}': the unwrap failed (${code})${cleaned === true ? '; the object the token had made was destroyed' : cleaned === false ? '; the token made an object that could not be destroyed now' : ''}`,
            cleaned === false ? 'Reconnect the token and run this step again: the object left is proved and kept, or destroyed, before anything else.' : 'Reconnect the token and run this step again.',
          );
        }
        throw new AppError('restore-unwrap-refused', `step '${ctx.step.id}': the token refused to unwrap the backup (${code}): it does not open under this domain's backup key, so it was changed or damaged`, 'Use another copy of the backup. Nothing was created in the token.');
      }
      if (!(await proved(made))) {
        await layer.destroyObject(session, made).catch(() => undefined);
        await ctx.record('restored-object-destroyed', { label: m.key.label, id: m.key.id, why: 'wrapped back out under the backup key, it did not give the backup\'s bytes' });
        throw new AppError(
          'restore-check-mismatch',
          `step '${ctx.step.id}': the restored key could not be proved to be the backup's material (wrapped back out under the backup key it gives other bytes${info.kind === 'rsa' ? ', and its modulus is not the recorded public key\'s' : ''}); the restored object was destroyed`,
          info.kind === 'ec' ? 'Restore an ECC key onto a token of the same model as the one that backed it up (its PKCS#8 encoding must match), or compare the backup with the backup-key transcript.' : 'Do not use this backup: compare it with the backup-key transcript, or use another copy.',
        );
      }
      return made;
    });
    if (asymmetric && spki && !publicHandle) {
      // The public half, from the backup's SPKI (its SHA-256 is the check value), labelled as generate-key labels it.
      try {
        publicHandle = await layer.createPublicKeyFromSpki(session, spki, { label: m.key.label, token: true, encrypt: false, wrap: false, verify: false });
      } catch (error) {
        await layer.destroyObject(session, handle).catch(() => undefined);
        throw error;
      }
    }
    // Read back and recompute in the token: type, length, flags and check value, or the object goes.
    try {
      const found = await findKmsKey(layer, session, m.key.keySpec, m.key.label, m.key.checkValue);
      if (found.key.handle !== handle || found.key.idHex !== m.key.id) throw new AppError('restore-check-mismatch', `the restored object is not the one found by its label and CKA_ID ${m.key.id}`, 'Destroyed.');
      return {
        done: true,
        data: {
          key: { ...keyRecord(found.key), keySpec: m.key.keySpec, label: m.key.label, id: found.key.idHex } as JsonObject,
          checkValue: { value: found.checkValue.value, method: found.checkValue.method, description: found.checkValue.description, recordedInBackup: m.key.checkValue.value, matches: true },
          rewrappedToBackupBytes: true,
          ...(recovered ? { recovered } : {}),
          restoredFrom: { backupCeremonyId: m.ceremonyId, manifestSha256: folder.manifestSha256, wrappedSha256: m.files['wrapped-key.bin'].sha256, generatedBy: { ...m.key.generatedBy }, sourceToken: m.sourceToken as unknown as JsonObject },
          domainId: step.domainId,
          custodians: step.custodians,
          mechanism: mechanism.name,
          backupKey: 'derived from the domain secret, imported as a session object (CKA_TOKEN false, not extractable) for this unwrap only, then destroyed; every host copy wiped',
        },
      };
    } catch (error) {
      await layer.destroyObject(session, handle).catch(() => undefined);
      if (publicHandle) await layer.destroyObject(session, publicHandle).catch(() => undefined);
      const e = error as { message?: string };
      await ctx.record('restored-object-destroyed', { label: m.key.label, id: m.key.id, why: e.message ?? String(error) });
      throw new AppError('restore-check-mismatch', `step '${ctx.step.id}': the restored key failed its check in the token (${e.message ?? String(error)}); the restored object was destroyed`, 'Do not use this backup: compare it with the backup-key transcript, or use another copy.');
    }
  },
};

/** Does the RSA private key object carry the modulus and exponent of this SPKI? (Public parts: readable when sensitive.) */
async function rsaMatches(layer: ActionContext['deps']['layer'], session: string, handle: string, spki: Buffer): Promise<boolean> {
  try {
    const jwk = createPublicKey({ key: spki, format: 'der', type: 'spki' }).export({ format: 'jwk' }) as { n?: string; e?: string };
    const a = await layer.getAttributes(session, handle, ['CKA_MODULUS', 'CKA_PUBLIC_EXPONENT']);
    const strip = (b: Uint8Array) => Buffer.from(b).subarray(Buffer.from(b).findIndex((x) => x !== 0));
    const n = a.CKA_MODULUS instanceof Uint8Array ? strip(a.CKA_MODULUS) : undefined;
    const e = a.CKA_PUBLIC_EXPONENT instanceof Uint8Array ? strip(a.CKA_PUBLIC_EXPONENT) : undefined;
    return n !== undefined && e !== undefined && n.equals(Buffer.from(jwk.n ?? '', 'base64url')) && e.equals(Buffer.from(jwk.e ?? '', 'base64url'));
  } catch {
    return false;
  }
}

export { noInput };
