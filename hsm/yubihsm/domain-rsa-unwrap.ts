// Restoring a PKCS#11 token's backup onto a YubiHSM 2 (firmware 2.4): the backup's wrapped-key-rsa.bin is
// CKM_RSA_AES_KEY_WRAP (RSA-OAEP SHA-1 || RFC 5649) under the domain RSA wrap key, which the device cannot
// take as an AES wrap but can as an RSA wrap key (PUT_WRAP_KEY with an RSA private key). The key goes in for
// one UNWRAP_KEY_RSA only, able to import and nothing else, delegated exactly the capabilities the restored
// object gets, and is deleted again whatever happened. The material is unwrapped inside the device.
import { createPrivateKey } from 'node:crypto';
import { Algorithm, Capability, ObjectType } from './constants.js';
import * as cmd from './commands.js';
import { DOMAINS, RSA_ALGORITHM } from './token-layer-map.js';
import type { YubiHsmSession } from './session.js';
import { deleteLeftoverWrapKeys } from './domain-wrap.js';
import { putWrapKey, unwrapKeyRsa, type ImportedObject } from './wrap.js';

/** The label the temporary RSA wrap key carries, so an audit can name one left behind by a crash. */
export const DOMAIN_RSA_WRAP_KEY_LABEL = 'keyceremony-domain-rsa-wrap';

export interface RsaWrappedAesKey {
  /** 0 lets the device choose. */
  id: number;
  label: string;
  capabilities: bigint;
}

/** An AES-256 key from `wrapped` (RSA-OAEP SHA-1 of an AES key || RFC 5649 of the 32 key bytes) under `rsaWrapKey`. */
export async function importAesUnderDomainRsaWrapKey(yh: YubiHsmSession, wrapped: Uint8Array, rsaWrapKeyPkcs8: Uint8Array, object: RsaWrappedAesKey): Promise<ImportedObject> {
  const rsaWrapKey = createPrivateKey({ key: Buffer.from(rsaWrapKeyPkcs8), format: 'der', type: 'pkcs8' });
  const bits = rsaWrapKey.asymmetricKeyDetails?.modulusLength ?? 0;
  const algorithm = RSA_ALGORITHM[bits];
  if (rsaWrapKey.asymmetricKeyType !== 'rsa' || rsaWrapKey.type !== 'private' || algorithm === undefined) throw new RangeError(`the domain RSA wrap key must be an RSA 2048/3072/4096 private key (got ${rsaWrapKey.asymmetricKeyType} ${bits})`);
  await deleteLeftoverWrapKeys(yh, DOMAIN_RSA_WRAP_KEY_LABEL);
  const wrapId = await putWrapKey(yh, {
    id: 0,
    label: DOMAIN_RSA_WRAP_KEY_LABEL,
    domains: DOMAINS,
    capabilities: Capability.IMPORT_WRAPPED,
    algorithm,
    delegatedCapabilities: object.capabilities,
    key: rsaWrapKey,
  });
  try {
    return await unwrapKeyRsa(yh, {
      wrapKeyId: wrapId,
      objectType: ObjectType.SYMMETRIC_KEY,
      object: { id: object.id, label: object.label, domains: DOMAINS, capabilities: object.capabilities, algorithm: Algorithm.AES256 },
      wrapped,
      hash: 'SHA-1',
    });
  } finally {
    await cmd.deleteObject(yh, wrapId, ObjectType.WRAP_KEY);
  }
}
