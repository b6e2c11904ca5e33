// restore-key's quorum step on a YubiHSM 2: the backup folder holds the object a YubiHSM of the same domain
// exported under the domain wrap key (EXPORT WRAPPED, AES-CCM); this device imports it (IMPORT WRAPPED) under
// the same wrap key, which the driver puts into the device for that one command and deletes again. The object
// comes back with the id, label and capabilities it had, so the proof is what the device computes now: the
// check value (AES-CMAC / HMAC of a zero block inside the device, or the SHA-256 of the public key the device
// reports) must be the recorded one and the object must be the one named by the backup's label and CKA_ID;
// anything else and the imported object is deleted and the ceremony fails. No key material is on the host.
import { AppError } from '../../errors.js';
import { TokenError } from '../../../hsm/errors.js';
import { findKmsKey, keyRecord, KEY_SPECS } from '../../kms/index.js';
import type { BackupFolder } from '../../backup/folder.js';
import type { YubiHsmWrapMechanism } from '../../backup/mechanism.js';
import type { JsonObject } from '../../transcript/json-value.js';
import type { ActionContext, ActionOutcome } from '../engine/types.js';
import { withDomainWrapKey } from './domain-secret.js';
import { destroyLeftover, findLeftover } from './restore-leftover.js';

export async function restoreWrappedObject(ctx: ActionContext, session: string, folder: BackupFolder, mechanism: YubiHsmWrapMechanism): Promise<ActionOutcome> {
  const m = folder.manifest;
  const layer = ctx.deps.layer;
  const importWrapped = layer.importUnderDomainWrapKey?.bind(layer);
  if (!importWrapped) throw new AppError('backup-driver', `step '${ctx.step.id}': this YubiHSM driver cannot import under a wrap key`, 'Use a version of the app whose YubiHSM driver drives IMPORT WRAPPED. Nothing was changed.');
  let recovered: string | undefined;
  const secretClass = ['rsa', 'ec'].includes(KEY_SPECS[m.key.keySpec].kind) ? 'PRIVATE_KEY' : 'SECRET_KEY';
  const { result: handle, step } = await withDomainWrapKey(ctx, m.domainId, async (wrapKey) => {
    const { leftover, foreign } = await findLeftover(ctx, session, m, secretClass);
    if (foreign > 0) throw new AppError('restore-label-taken', `step '${ctx.step.id}': the device now holds ${foreign} object${foreign === 1 ? '' : 's'} with the label '${m.key.label}' or the object id ${m.key.id} that this restore did not make`, 'Find out who created it; delete it in a recorded ceremony, then restore again. Nothing was changed.');
    if (leftover) {
      // Left by the interrupted attempt: the same proof as a fresh import (the check value the device computes now).
      const only = leftover.keys.length === 1 ? leftover.keys[0] : undefined;
      const found = only === undefined ? undefined : await findKmsKey(layer, session, m.key.keySpec, m.key.label, m.key.checkValue).catch(() => undefined);
      if (only !== undefined && found?.key.handle === only && found.key.idHex === m.key.id) {
        recovered = 'found in the device, left by the interrupted attempt of this step; its check value, computed in the device now, is the recorded one';
        return only;
      }
      await destroyLeftover(ctx, session, m, leftover, 'left by the interrupted attempt of this step and not proved to be the backup\'s key; imported afresh');
    }
    try {
      return await importWrapped(session, folder.wrapped, wrapKey);
    } catch (error) {
      const code = error instanceof TokenError ? error.code : String((error as Error)?.message ?? error);
      throw new AppError(
        'restore-unwrap-refused',
        `step '${ctx.step.id}': the device refused to import the backup (${code}): ${code === 'YUBIHSM_OBJECT_EXISTS' ? 'it already holds an object with the backup\'s object id' : 'it does not open under this domain\'s wrap key, so it was changed or damaged'}`,
        code === 'YUBIHSM_OBJECT_EXISTS' ? 'Destroy the other object in a recorded ceremony first, or restore onto another device. Nothing was created in the device.' : 'Use another copy of the backup. Nothing was created in the device.',
      );
    }
  });
  try {
    const found = await findKmsKey(layer, session, m.key.keySpec, m.key.label, m.key.checkValue);
    if (found.key.handle !== handle || found.key.idHex !== m.key.id) {
      throw new AppError('restore-check-mismatch', `the imported object is not the one found by the label '${m.key.label}' and CKA_ID ${m.key.id}`, 'Deleted.');
    }
    return {
      done: true,
      data: {
        key: { ...keyRecord(found.key), keySpec: m.key.keySpec, label: m.key.label, id: found.key.idHex } as JsonObject,
        checkValue: { value: found.checkValue.value, method: found.checkValue.method, description: found.checkValue.description, recordedInBackup: m.key.checkValue.value, matches: true },
        rewrappedToBackupBytes: false,
        ...(recovered ? { recovered } : {}),
        proof: 'the device imported the object under the domain wrap key (AES-CCM authenticates it) and recomputed its check value, equal to the recorded one',
        restoredFrom: { backupCeremonyId: m.ceremonyId, manifestSha256: folder.manifestSha256, wrappedSha256: m.files['wrapped-key.bin'].sha256, generatedBy: { ...m.key.generatedBy }, sourceToken: m.sourceToken as unknown as JsonObject },
        domainId: step.domainId,
        custodians: step.custodians,
        mechanism: mechanism.name,
        backupKey: 'the domain wrap key, derived from the domain secret, put into the device (PUT WRAP KEY) for this IMPORT WRAPPED only, then deleted; every host copy wiped',
      },
    };
  } catch (error) {
    await layer.destroyObject(session, handle).catch(() => undefined);
    const e = error as { message?: string };
    await ctx.record('restored-object-destroyed', { label: m.key.label, id: m.key.id, why: e.message ?? String(error) });
    throw new AppError('restore-check-mismatch', `step '${ctx.step.id}': the restored key failed its check in the device (${e.message ?? String(error)}); the restored object was deleted`, 'Do not use this backup: compare it with the backup-key transcript, or use another copy.');
  }
}
