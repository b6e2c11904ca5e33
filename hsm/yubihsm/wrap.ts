// The device's own wrap commands, for carrying a key between YubiHSMs of one security domain (backup-key /
// restore-key) and for firmware 2.4's RSA-wrapped import. Payload layouts follow Yubico's command reference
// and python-yubihsm's objects.py (WrapKey.put, export_wrapped, import_wrapped, wrap_data, unwrap_data,
// import_raw_key). The key material stays inside the devices: what crosses the host is AES-CCM under the
// wrap key (13-byte nonce || ciphertext || 16-byte MAC) or RSA-OAEP || AES-KWP.
import { createHash, type KeyObject } from 'node:crypto';
import { concat, packLabel, Reader, u16, u64, u8 } from './bytes.js';
import { Algorithm, Command, ObjectType, type ObjectTypeCode } from './constants.js';
import { YubiHsmErrorCodes, protocolError } from './errors.js';
import { badResponse } from './frame.js';
import { rawPrivateKey } from './keys.js';
import type { NewObject, OaepHash } from './commands.js';
import type { YubiHsmSession } from './session.js';

/** Key length of each AES-CCM wrap key algorithm. */
export const CCM_WRAP_KEY_LENGTH: Readonly<Record<number, number>> = {
  [Algorithm.AES128_CCM_WRAP]: 16,
  [Algorithm.AES192_CCM_WRAP]: 24,
  [Algorithm.AES256_CCM_WRAP]: 32,
};

/** The smallest EXPORT_WRAPPED answer: 13-byte nonce, 59-byte object header, 16-byte MAC. */
export const MIN_WRAPPED_OBJECT_LENGTH = 13 + 59 + 16;

export interface ImportedObject {
  type: number;
  id: number;
}

const invalid = (message: string, remedy: string) => protocolError(YubiHsmErrorCodes.INVALID_ARGUMENT, message, remedy);

const header = (o: NewObject, algorithm: number) => concat(u16(o.id), packLabel(o.label), u16(o.domains), u64(o.capabilities), u8(algorithm));

function readImported(resp: Uint8Array, what: string): ImportedObject {
  if (resp.length !== 3) throw badResponse(`${what} answered ${resp.length} bytes instead of an object type and id`);
  const r = new Reader(resp);
  return { type: r.u8(), id: r.u16() };
}

/**
 * PUT_WRAP_KEY: an AES-CCM wrap key from its bytes (16, 24 or 32 for AES128/192/256_CCM_WRAP), e.g. the
 * domain's wrap key, so two devices holding the same bytes can carry objects between them. With an RSA
 * private key instead (firmware 2.4, RSA_2048/3072/4096), the wrap key only imports (UNWRAP_KEY_RSA,
 * IMPORT_WRAPPED_RSA). `delegatedCapabilities` bound what objects it may carry out or bring in.
 */
export async function putWrapKey(
  s: YubiHsmSession,
  o: NewObject & { algorithm: number; delegatedCapabilities: bigint; key: Uint8Array | KeyObject },
): Promise<number> {
  let material: Uint8Array;
  if (o.key instanceof Uint8Array) {
    const length = CCM_WRAP_KEY_LENGTH[o.algorithm];
    if (!length) throw invalid(`Algorithm ${o.algorithm} is not an AES-CCM wrap key algorithm.`, 'Use AES128_CCM_WRAP, AES192_CCM_WRAP or AES256_CCM_WRAP.');
    if (o.key.length !== length) throw invalid(`The wrap key is ${o.key.length} bytes; algorithm ${o.algorithm} takes ${length}.`, 'Pass a key of the length the algorithm names.');
    material = o.key;
  } else {
    const { algorithm, raw } = rawPrivateKey(o.key);
    if (algorithm !== o.algorithm || !(algorithm === Algorithm.RSA_2048 || algorithm === Algorithm.RSA_3072 || algorithm === Algorithm.RSA_4096))
      throw invalid('An RSA wrap key must be an RSA 2048, 3072 or 4096 private key matching the algorithm given.', 'Pass the RSA private key and its RSA_* algorithm.');
    material = raw;
  }
  const resp = await s.send(Command.PUT_WRAP_KEY, concat(header(o, o.algorithm), u64(o.delegatedCapabilities), material));
  if (resp.length !== 2) throw badResponse(`PUT_WRAP_KEY answered ${resp.length} bytes instead of an object id`);
  return new Reader(resp).u16();
}

/**
 * EXPORT_WRAPPED: the object (its metadata and key) encrypted inside the device under the wrap key. The
 * object needs EXPORTABLE_UNDER_WRAP and only capabilities the wrap key was delegated.
 */
export async function exportWrapped(s: YubiHsmSession, wrapKeyId: number, type: ObjectTypeCode, id: number): Promise<Uint8Array> {
  const resp = await s.send(Command.EXPORT_WRAPPED, concat(u16(wrapKeyId), u8(type), u16(id)));
  if (resp.length < MIN_WRAPPED_OBJECT_LENGTH) throw badResponse(`EXPORT_WRAPPED answered ${resp.length} bytes, fewer than a wrapped object holds (${MIN_WRAPPED_OBJECT_LENGTH})`);
  return resp;
}

/** IMPORT_WRAPPED: what EXPORT_WRAPPED made (on this or another device holding the same wrap key) becomes the same object again. */
export async function importWrapped(s: YubiHsmSession, wrapKeyId: number, wrapped: Uint8Array): Promise<ImportedObject> {
  if (wrapped.length < MIN_WRAPPED_OBJECT_LENGTH) throw invalid(`The wrapped object is ${wrapped.length} bytes; a YubiHSM wrapped object holds at least ${MIN_WRAPPED_OBJECT_LENGTH}.`, 'Use the file EXPORT_WRAPPED wrote, whole.');
  return readImported(await s.send(Command.IMPORT_WRAPPED, concat(u16(wrapKeyId), wrapped)), 'IMPORT_WRAPPED');
}

/** WRAP_DATA: arbitrary data under the wrap key (nonce || AES-CCM ciphertext || MAC). */
export async function wrapData(s: YubiHsmSession, wrapKeyId: number, data: Uint8Array): Promise<Uint8Array> {
  return s.send(Command.WRAP_DATA, concat(u16(wrapKeyId), data));
}

export async function unwrapData(s: YubiHsmSession, wrapKeyId: number, wrapped: Uint8Array): Promise<Uint8Array> {
  return s.send(Command.UNWRAP_DATA, concat(u16(wrapKeyId), wrapped));
}

const OAEP_IDS: Record<OaepHash, { oaep: number; mgf: number; node: string }> = {
  'SHA-1': { oaep: Algorithm.RSA_OAEP_SHA1, mgf: Algorithm.RSA_MGF1_SHA1, node: 'sha1' },
  'SHA-256': { oaep: Algorithm.RSA_OAEP_SHA256, mgf: Algorithm.RSA_MGF1_SHA256, node: 'sha256' },
  'SHA-384': { oaep: Algorithm.RSA_OAEP_SHA384, mgf: Algorithm.RSA_MGF1_SHA384, node: 'sha384' },
  'SHA-512': { oaep: Algorithm.RSA_OAEP_SHA512, mgf: Algorithm.RSA_MGF1_SHA512, node: 'sha512' },
};

export interface UnwrapKeyRsaRequest {
  /** An RSA wrap key (PUT_WRAP_KEY with an RSA private key) holding IMPORT_WRAPPED. */
  wrapKeyId: number;
  objectType: typeof ObjectType.ASYMMETRIC_KEY | typeof ObjectType.SYMMETRIC_KEY;
  object: NewObject & { algorithm: number };
  /** RSA-OAEP(AES key) || AES-KWP(material): asymmetric keys as PKCS#8 DER, AES keys as their bytes. */
  wrapped: Uint8Array;
  /** OAEP hash (empty label); MGF1 uses the same hash unless `mgfHash` says otherwise. */
  hash: OaepHash;
  mgfHash?: OaepHash;
}

/**
 * UNWRAP_KEY_RSA (firmware 2.4; python-yubihsm WrapKey.import_raw_key): a key wrapped elsewhere as
 * CKM_RSA_AES_KEY_WRAP to this device's RSA wrap key becomes an object here, with the id, label, domains,
 * capabilities and algorithm given (capabilities bounded by the wrap key's delegated ones).
 */
export async function unwrapKeyRsa(s: YubiHsmSession, req: UnwrapKeyRsaRequest): Promise<ImportedObject> {
  const h = OAEP_IDS[req.hash];
  const mgf = OAEP_IDS[req.mgfHash ?? req.hash];
  const labelDigest = new Uint8Array(createHash(h.node).digest());
  const payload = concat(u16(req.wrapKeyId), u8(req.objectType), header(req.object, req.object.algorithm), u8(h.oaep), u8(mgf.mgf), req.wrapped, labelDigest);
  return readImported(await s.send(Command.UNWRAP_KEY_RSA, payload), 'UNWRAP_KEY_RSA');
}
