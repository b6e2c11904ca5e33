// Carrying a key between YubiHSMs of one security domain: the domain's wrap key (derived from the domain
// secret, src-main/ceremony/quorum/domain.ts domainYubihsmWrapKey) is put into the device for one step only,
// the key goes out (EXPORT_WRAPPED) or comes in (IMPORT_WRAPPED) under it, and the wrap key is deleted again
// whatever happened, so it never outlives the quorum step that rebuilt the secret.
import { Algorithm, Capability, ObjectType, type ObjectTypeCode } from './constants.js';
import * as cmd from './commands.js';
import { DOMAINS, OBJECT_CAPABILITIES } from './token-layer-map.js';
import type { YubiHsmSession } from './session.js';
import { exportWrapped, importWrapped, putWrapKey, type ImportedObject } from './wrap.js';

/** The label the temporary wrap key carries, so an audit can name one left behind by a crash. */
export const DOMAIN_WRAP_KEY_LABEL = 'keyceremony-domain-wrap';

/** Object types a domain backup carries: the key kinds the ceremonies make. */
const CARRIED_TYPES: ReadonlySet<number> = new Set([ObjectType.ASYMMETRIC_KEY, ObjectType.SYMMETRIC_KEY, ObjectType.HMAC_KEY]);

/**
 * A temporary wrap key a crash left behind (put, then the process died before its delete) is deleted before a
 * new one is put: it must not outlive the quorum step that put it, and the next step with the domain secret is
 * the first chance to take it away. Only wrap keys with our label are touched.
 */
export async function deleteLeftoverWrapKeys(yh: YubiHsmSession, label: string): Promise<number> {
  const left = await cmd.listObjects(yh, { type: ObjectType.WRAP_KEY, label });
  for (const o of left) await cmd.deleteObject(yh, o.id, ObjectType.WRAP_KEY);
  return left.length;
}

async function withWrapKey<T>(yh: YubiHsmSession, wrapKey: Uint8Array, capability: bigint, fn: (wrapId: number) => Promise<T>): Promise<T> {
  await deleteLeftoverWrapKeys(yh, DOMAIN_WRAP_KEY_LABEL);
  const wrapId = await putWrapKey(yh, {
    id: 0,
    label: DOMAIN_WRAP_KEY_LABEL,
    domains: DOMAINS,
    capabilities: capability,
    algorithm: Algorithm.AES256_CCM_WRAP,
    delegatedCapabilities: OBJECT_CAPABILITIES,
    key: wrapKey,
  });
  try {
    return await fn(wrapId);
  } finally {
    await cmd.deleteObject(yh, wrapId, ObjectType.WRAP_KEY);
  }
}

/** The object (its metadata and key) under the domain wrap key: 13-byte nonce || AES-CCM || 16-byte MAC. */
export async function exportUnderDomainWrapKey(yh: YubiHsmSession, type: number, id: number, wrapKey: Uint8Array): Promise<Uint8Array> {
  if (!CARRIED_TYPES.has(type)) throw new RangeError(`object type ${type} is not a key a domain backup carries`);
  return withWrapKey(yh, wrapKey, Capability.EXPORT_WRAPPED, (wrapId) => exportWrapped(yh, wrapId, type as ObjectTypeCode, id));
}

/** What exportUnderDomainWrapKey made on a device of the same domain becomes the same object here (same id). */
export async function importUnderDomainWrapKey(yh: YubiHsmSession, wrapped: Uint8Array, wrapKey: Uint8Array): Promise<ImportedObject> {
  return withWrapKey(yh, wrapKey, Capability.IMPORT_WRAPPED, (wrapId) => importWrapped(yh, wrapId, wrapped));
}
