// restore-key's quorum step on a YubiHSM 2 from a PKCS#11 token's backup: wrapped-key-rsa.bin is the AES key
// wrapped in the source token as CKM_RSA_AES_KEY_WRAP (OAEP SHA-1) under the domain RSA wrap key. The key
// pair is derived from the rebuilt domain secret; the driver puts its private half into the device as an RSA
// wrap key (import only, delegated only the restored key's capabilities) for one UNWRAP_KEY_RSA and deletes
// it again. The device then computes the key's check value, which must be the recorded one; anything else and
// the object is deleted and the ceremony fails. The device's object ids are 16 bits, so a longer CKA_ID (as
// SoftHSM's 16 random bytes) cannot be kept: the device chooses the id, and the result records it.
import { AppError } from '../../errors.js';
import { TokenError } from '../../../hsm/errors.js';
import { findKmsKey, keyRecord } from '../../kms/index.js';
import { WRAPPED_RSA_FILE, type BackupFolder, type BackupManifest } from '../../backup/folder.js';
import type { YubiHsmRsaUnwrapMechanism } from '../../backup/mechanism.js';
import type { TokenLayer } from '../../../hsm/token.js';
import type { JsonObject } from '../../transcript/json-value.js';
import type { ActionContext, ActionOutcome } from '../engine/types.js';
import { withDomainRsaWrapKey } from './domain-secret.js';
import { destroyLeftover, findLeftover } from './restore-leftover.js';

const step = (ctx: ActionContext) => `step '${ctx.step.id}'`;

/** check-backup: whether this YubiHSM can take the backup's RSA-wrapped copy, refused in words when not. */
export function rsaUnwrapMechanism(ctx: ActionContext, folder: BackupFolder, layer: TokenLayer): YubiHsmRsaUnwrapMechanism {
  const m = folder.manifest;
  if (m.key.keySpec !== 'SYMMETRIC_DEFAULT' || !folder.wrappedRsa) {
    throw new AppError('restore-other-model', `${step(ctx)}: the backup in ${folder.dir} holds no ${WRAPPED_RSA_FILE} for its ${m.key.keySpec} key, so a YubiHSM 2 cannot import it`, `Restore it onto a PKCS#11 token of domain ${m.domainId}. Nothing was changed.`);
  }
  if (Buffer.byteLength(m.key.label, 'utf8') > 40) {
    throw new AppError('restore-other-model', `${step(ctx)}: the key's label '${m.key.label}' is ${Buffer.byteLength(m.key.label, 'utf8')} bytes, and a YubiHSM 2 object label holds at most 40`, `Restore it onto a PKCS#11 token of domain ${m.domainId}. Nothing was changed.`);
  }
  if (!layer.importAesUnderDomainRsaWrapKey) {
    throw new AppError('backup-driver', `${step(ctx)}: this YubiHSM driver cannot import an RSA-wrapped key`, 'Use a version of the app whose YubiHSM driver drives UNWRAP_KEY_RSA. Nothing was changed.');
  }
  return {
    format: 'yubihsm-rsa-unwrap',
    name: 'YUBIHSM_UNWRAP_KEY_RSA',
    proof: `the device imports ${WRAPPED_RSA_FILE} (CKM_RSA_AES_KEY_WRAP, OAEP SHA-1) under the domain RSA wrap key, which is in it only for that one command; the check value recomputed in it decides`,
    refused: [],
  };
}

/** The manifest as the device can hold it: a CKA_ID that is not 2 bytes cannot be an object id, so only the label names it. */
export function asOnDevice(m: BackupManifest): BackupManifest {
  return m.key.id.length === 4 ? m : { ...m, key: { ...m.key, id: '' } };
}

export async function restoreRsaWrappedAes(ctx: ActionContext, session: string, folder: BackupFolder, mechanism: YubiHsmRsaUnwrapMechanism): Promise<ActionOutcome> {
  const m = folder.manifest;
  const here = asOnDevice(m);
  const layer = ctx.deps.layer;
  const importRsa = layer.importAesUnderDomainRsaWrapKey?.bind(layer);
  const wrapped = folder.wrappedRsa;
  if (!importRsa || !wrapped) throw new AppError('backup-driver', `${step(ctx)}: no RSA-wrapped copy or no driver to import it`, 'Run check-backup first. Nothing was changed.');
  let recovered: string | undefined;
  const { result: handle, step: domainStep } = await withDomainRsaWrapKey(ctx, m.domainId, async (rsaKey) => {
    const { leftover, foreign } = await findLeftover(ctx, session, here, 'SECRET_KEY');
    if (foreign > 0) throw new AppError('restore-label-taken', `${step(ctx)}: the device now holds ${foreign} object${foreign === 1 ? '' : 's'} with the label '${m.key.label}' that this restore did not make`, 'Find out who created it; delete it in a recorded ceremony, then restore again. Nothing was changed.');
    if (leftover && leftover.keys.length > 0) {
      const only = leftover.keys.length === 1 ? leftover.keys[0] : undefined;
      const found = only === undefined ? undefined : await findKmsKey(layer, session, m.key.keySpec, m.key.label, m.key.checkValue).catch(() => undefined);
      if (only !== undefined && found?.key.handle === only) {
        recovered = 'found in the device, left by the interrupted attempt of this step; its check value, computed in the device now, is the recorded one';
        return only;
      }
      await destroyLeftover(ctx, session, here, leftover, 'left by the interrupted attempt of this step and not proved to be the backup\'s key; imported afresh');
    }
    try {
      return await importRsa(session, wrapped, rsaKey, {
        label: m.key.label,
        id: Buffer.from(here.key.id, 'hex'),
        // As restore-key makes it on a PKCS#11 token: persistent, sensitive, extractable only to be wrapped again.
        token: true,
        private: true,
        sensitive: true,
        extractable: true,
        encrypt: m.key.checkValue.method === 'AES-ECB-ZERO-BLOCK',
        decrypt: false,
        sign: true,
        verify: false,
        wrap: false,
        unwrap: false,
        derive: false,
      });
    } catch (error) {
      if (error instanceof TokenError && error.code === 'CKR_MECHANISM_INVALID') throw new AppError('restore-other-model', `${step(ctx)}: ${error.message}`, error.remedy ?? 'Restore onto a YubiHSM 2 with firmware 2.4 or later. Nothing was created in the device.');
      const code = error instanceof TokenError ? error.code : String((error as Error)?.message ?? error);
      throw new AppError('restore-unwrap-refused', `${step(ctx)}: the device refused to import ${WRAPPED_RSA_FILE} (${code}): it does not open under this domain's RSA wrap key, or the label or id is taken`, 'Use another copy of the backup, or free the label. Nothing was created in the device.');
    }
  });
  try {
    const found = await findKmsKey(layer, session, m.key.keySpec, m.key.label, m.key.checkValue);
    if (found.key.handle !== handle) throw new AppError('restore-check-mismatch', `the imported object is not the one found by the label '${m.key.label}'`, 'Deleted.');
    return {
      done: true,
      data: {
        key: { ...keyRecord(found.key), keySpec: m.key.keySpec, label: m.key.label, id: found.key.idHex } as JsonObject,
        checkValue: { value: found.checkValue.value, method: found.checkValue.method, description: found.checkValue.description, recordedInBackup: m.key.checkValue.value, matches: true },
        rewrappedToBackupBytes: false,
        ...(found.key.idHex !== m.key.id ? { idOnDevice: `the device's object ids are 16 bits: the backup's CKA_ID ${m.key.id || '(none)'} became object id ${found.key.idHex}` } : {}),
        ...(recovered ? { recovered } : {}),
        proof: `the device imported ${WRAPPED_RSA_FILE} under the domain RSA wrap key (UNWRAP_KEY_RSA: RSA-OAEP, then RFC 5649 whose integrity check authenticates it) and recomputed its check value, equal to the recorded one`,
        restoredFrom: { backupCeremonyId: m.ceremonyId, manifestSha256: folder.manifestSha256, wrappedSha256: m.files[WRAPPED_RSA_FILE]?.sha256 ?? '', generatedBy: { ...m.key.generatedBy }, sourceToken: m.sourceToken as unknown as JsonObject },
        domainId: domainStep.domainId,
        custodians: domainStep.custodians,
        mechanism: mechanism.name,
        backupKey: 'the domain RSA wrap key, derived from the domain secret, put into the device (PUT WRAP KEY, import only, delegated the restored key\'s capabilities) for this UNWRAP_KEY_RSA only, then deleted',
      },
    };
  } catch (error) {
    await layer.destroyObject(session, handle).catch(() => undefined);
    const e = error as { message?: string };
    await ctx.record('restored-object-destroyed', { label: m.key.label, id: m.key.id, why: e.message ?? String(error) });
    throw new AppError('restore-check-mismatch', `${step(ctx)}: the restored key failed its check in the device (${e.message ?? String(error)}); the restored object was deleted`, 'Do not use this backup: compare it with the backup-key transcript, or use another copy.');
  }
}
