// The YubiHSM commands the ceremonies need, as typed functions over an authenticated session.
// Payload layouts follow Yubico's protocol documentation (command reference, python-yubihsm objects.py).
import { createHash, type KeyObject } from 'node:crypto';
import { concat, packLabel, Reader, u16, u64, u8, unpackLabel } from './bytes.js';
import { Algorithm, Command, DeviceOption, ListFilter, ObjectType, type ObjectTypeCode } from './constants.js';
import { passwordToKeys, type StaticKeys } from './crypto.js';
import { YubiHsmErrorCodes, protocolError } from './errors.js';
import { badResponse } from './frame.js';
import { publicKeyFromRaw, rawPrivateKey, rawPublicKey } from './keys.js';
import { parseLogData, verifyLogChain, type LogData, type LogEntry } from './log.js';
import type { YubiHsmSession } from './session.js';

export interface ObjectRef {
  id: number;
  type: number;
  sequence: number;
}

export interface ObjectInfo {
  capabilities: bigint;
  id: number;
  size: number;
  domains: number;
  type: number;
  algorithm: number;
  sequence: number;
  origin: number;
  label: string;
  delegatedCapabilities: bigint;
}

/** Common parameters of every command that creates an object. id 0 lets the device choose. */
export interface NewObject {
  id: number;
  label: string;
  domains: number;
  capabilities: bigint;
}

function readId(resp: Uint8Array, what: string): number {
  if (resp.length !== 2) throw badResponse(`${what} answered ${resp.length} bytes instead of an object id`);
  return new Reader(resp).u16();
}

function expectEmpty(resp: Uint8Array, what: string): void {
  if (resp.length !== 0) throw badResponse(`${what} answered ${resp.length} bytes, expected none`);
}

const header = (o: NewObject, algorithm: number) => concat(u16(o.id), packLabel(o.label), u16(o.domains), u64(o.capabilities), u8(algorithm));

export async function getPseudoRandom(s: YubiHsmSession, length: number): Promise<Uint8Array> {
  const r = await s.send(Command.GET_PSEUDO_RANDOM, u16(length));
  if (r.length !== length) throw badResponse(`GET_PSEUDO_RANDOM answered ${r.length} bytes, asked ${length}`);
  return r;
}

export interface ListFilterSpec {
  id?: number;
  type?: number;
  domains?: number;
  capabilities?: bigint;
  algorithm?: number;
  label?: string;
}

export async function listObjects(s: YubiHsmSession, filter: ListFilterSpec = {}): Promise<ObjectRef[]> {
  const parts: Uint8Array[] = [];
  if (filter.id !== undefined) parts.push(u8(ListFilter.ID), u16(filter.id));
  if (filter.type !== undefined) parts.push(u8(ListFilter.TYPE), u8(filter.type));
  if (filter.domains !== undefined) parts.push(u8(ListFilter.DOMAINS), u16(filter.domains));
  if (filter.capabilities !== undefined) parts.push(u8(ListFilter.CAPABILITIES), u64(filter.capabilities));
  if (filter.algorithm !== undefined) parts.push(u8(ListFilter.ALGORITHM), u8(filter.algorithm));
  if (filter.label !== undefined) parts.push(u8(ListFilter.LABEL), packLabel(filter.label));
  const resp = await s.send(Command.LIST_OBJECTS, concat(...parts));
  if (resp.length % 4 !== 0) throw badResponse(`LIST_OBJECTS answered ${resp.length} bytes, not a multiple of 4`);
  const r = new Reader(resp);
  const out: ObjectRef[] = [];
  while (r.remaining > 0) out.push({ id: r.u16(), type: r.u8(), sequence: r.u8() });
  return out;
}

export function parseObjectInfo(resp: Uint8Array): ObjectInfo {
  const r = new Reader(resp);
  const info: ObjectInfo = {
    capabilities: r.u64(),
    id: r.u16(),
    size: r.u16(),
    domains: r.u16(),
    type: r.u8(),
    algorithm: r.u8(),
    sequence: r.u8(),
    origin: r.u8(),
    label: unpackLabel(r.bytes(40)),
    delegatedCapabilities: r.u64(),
  };
  if (r.remaining !== 0) throw badResponse(`GET_OBJECT_INFO answered ${resp.length} bytes, expected 74`);
  return info;
}

export async function getObjectInfo(s: YubiHsmSession, id: number, type: ObjectTypeCode): Promise<ObjectInfo> {
  return parseObjectInfo(await s.send(Command.GET_OBJECT_INFO, concat(u16(id), u8(type))));
}

export async function deleteObject(s: YubiHsmSession, id: number, type: ObjectTypeCode): Promise<void> {
  expectEmpty(await s.send(Command.DELETE_OBJECT, concat(u16(id), u8(type))), 'DELETE_OBJECT');
}

export async function putAuthenticationKey(
  s: YubiHsmSession,
  o: NewObject & { delegatedCapabilities: bigint; credential: string | StaticKeys },
): Promise<number> {
  const keys = typeof o.credential === 'string' ? passwordToKeys(o.credential) : o.credential;
  const payload = concat(header(o, Algorithm.AES128_YUBICO_AUTHENTICATION), u64(o.delegatedCapabilities), keys.encKey, keys.macKey);
  return readId(await s.send(Command.PUT_AUTHENTICATION_KEY, payload), 'PUT_AUTHENTICATION_KEY');
}

export async function changeAuthenticationKey(s: YubiHsmSession, id: number, credential: string | StaticKeys): Promise<void> {
  const keys = typeof credential === 'string' ? passwordToKeys(credential) : credential;
  const got = readId(await s.send(Command.CHANGE_AUTHENTICATION_KEY, concat(u16(id), u8(Algorithm.AES128_YUBICO_AUTHENTICATION), keys.encKey, keys.macKey)), 'CHANGE_AUTHENTICATION_KEY');
  if (got !== id) throw badResponse(`CHANGE_AUTHENTICATION_KEY answered id ${got}, not ${id}`);
}

export const ASYMMETRIC_ALGORITHMS = [Algorithm.RSA_2048, Algorithm.RSA_3072, Algorithm.RSA_4096, Algorithm.EC_P256, Algorithm.EC_P384, Algorithm.EC_P521, Algorithm.EC_K256] as const;

export async function generateAsymmetricKey(s: YubiHsmSession, o: NewObject & { algorithm: number }): Promise<number> {
  return readId(await s.send(Command.GENERATE_ASYMMETRIC_KEY, header(o, o.algorithm)), 'GENERATE_ASYMMETRIC_KEY');
}

/** PUT_ASYMMETRIC_KEY from a node KeyObject (RSA as p || q, EC as the private scalar). */
export async function putAsymmetricKey(s: YubiHsmSession, o: NewObject & { key: KeyObject }): Promise<number> {
  const { algorithm, raw } = rawPrivateKey(o.key);
  return readId(await s.send(Command.PUT_ASYMMETRIC_KEY, concat(header(o, algorithm), raw)), 'PUT_ASYMMETRIC_KEY');
}

/** A wrap key (AES-CCM, for EXPORT/IMPORT_WRAPPED between YubiHSMs). */
export async function generateWrapKey(s: YubiHsmSession, o: NewObject & { algorithm: number; delegatedCapabilities: bigint }): Promise<number> {
  return readId(await s.send(Command.GENERATE_WRAP_KEY, concat(header(o, o.algorithm), u64(o.delegatedCapabilities))), 'GENERATE_WRAP_KEY');
}

/** An AES key object (AES128/192/256): the material KMS SYMMETRIC_DEFAULT imports take. */
export async function generateSymmetricKey(s: YubiHsmSession, o: NewObject & { algorithm: number }): Promise<number> {
  return readId(await s.send(Command.GENERATE_SYMMETRIC_KEY, header(o, o.algorithm)), 'GENERATE_SYMMETRIC_KEY');
}

export async function putSymmetricKey(s: YubiHsmSession, o: NewObject & { algorithm: number; key: Uint8Array }): Promise<number> {
  return readId(await s.send(Command.PUT_SYMMETRIC_KEY, concat(header(o, o.algorithm), o.key)), 'PUT_SYMMETRIC_KEY');
}

/** PUT_OPAQUE: an opaque data object (algorithm OPAQUE_DATA), e.g. a label or a transcript chain head. */
export async function putOpaque(s: YubiHsmSession, o: NewObject & { data: Uint8Array; algorithm?: number }): Promise<number> {
  return readId(await s.send(Command.PUT_OPAQUE, concat(header(o, o.algorithm ?? Algorithm.OPAQUE_DATA), o.data)), 'PUT_OPAQUE');
}

export async function getOpaque(s: YubiHsmSession, id: number): Promise<Uint8Array> {
  return s.send(Command.GET_OPAQUE, u16(id));
}

/** ENCRYPT_ECB (firmware 2.3+) with an AES key object; `data` is a multiple of 16 bytes. */
export async function encryptEcb(s: YubiHsmSession, keyId: number, data: Uint8Array): Promise<Uint8Array> {
  return s.send(Command.ENCRYPT_ECB, concat(u16(keyId), data));
}

export async function generateHmacKey(s: YubiHsmSession, o: NewObject & { algorithm: number }): Promise<number> {
  return readId(await s.send(Command.GENERATE_HMAC_KEY, header(o, o.algorithm)), 'GENERATE_HMAC_KEY');
}

export async function signHmac(s: YubiHsmSession, keyId: number, data: Uint8Array): Promise<Uint8Array> {
  return s.send(Command.SIGN_HMAC, concat(u16(keyId), data));
}

/** ECDSA over a digest the caller computed (left-padded or truncated by the device to the curve size); DER signature. */
export async function signEcdsa(s: YubiHsmSession, keyId: number, digest: Uint8Array): Promise<Uint8Array> {
  return s.send(Command.SIGN_ECDSA, concat(u16(keyId), digest));
}

export interface PublicKeyResult {
  algorithm: number;
  raw: Uint8Array;
  key: KeyObject;
  /** DER SubjectPublicKeyInfo. */
  spki: Uint8Array;
}

/** Public half of an asymmetric key, or (with `type`) of a wrap or public wrap key. */
export async function getPublicKey(s: YubiHsmSession, id: number, type?: ObjectTypeCode): Promise<PublicKeyResult> {
  const resp = await s.send(Command.GET_PUBLIC_KEY, type === undefined ? u16(id) : concat(u16(id), u8(type)));
  if (resp.length < 2) throw badResponse('GET_PUBLIC_KEY answered no key');
  const algorithm = resp[0] as number;
  const raw = resp.slice(1);
  const key = publicKeyFromRaw(algorithm, raw);
  return { algorithm, raw, key, spki: new Uint8Array(key.export({ type: 'spki', format: 'der' })) };
}

/** PUT_PUBLIC_WRAP_KEY (firmware 2.4): an RSA public key (e.g. the KMS wrapping key) the device wraps to. */
export async function putPublicWrapKey(s: YubiHsmSession, o: NewObject & { delegatedCapabilities: bigint; publicKey: KeyObject }): Promise<number> {
  const { algorithm, raw } = rawPublicKey(o.publicKey);
  if (!(algorithm === Algorithm.RSA_2048 || algorithm === Algorithm.RSA_3072 || algorithm === Algorithm.RSA_4096))
    throw protocolError(YubiHsmErrorCodes.INVALID_ARGUMENT, 'A YubiHSM public wrap key must be an RSA 2048, 3072 or 4096 key.', 'Use the KMS wrapping key spec RSA_2048, RSA_3072 or RSA_4096.');
  return readId(await s.send(Command.PUT_PUBLIC_WRAP_KEY, concat(header(o, algorithm), u64(o.delegatedCapabilities), raw)), 'PUT_PUBLIC_WRAP_KEY');
}

export type OaepHash = 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512';
const OAEP: Record<OaepHash, { oaep: number; mgf: number; node: string }> = {
  'SHA-1': { oaep: Algorithm.RSA_OAEP_SHA1, mgf: Algorithm.RSA_MGF1_SHA1, node: 'sha1' },
  'SHA-256': { oaep: Algorithm.RSA_OAEP_SHA256, mgf: Algorithm.RSA_MGF1_SHA256, node: 'sha256' },
  'SHA-384': { oaep: Algorithm.RSA_OAEP_SHA384, mgf: Algorithm.RSA_MGF1_SHA384, node: 'sha384' },
  'SHA-512': { oaep: Algorithm.RSA_OAEP_SHA512, mgf: Algorithm.RSA_MGF1_SHA512, node: 'sha512' },
};

export interface WrapKeyRsaRequest {
  publicWrapKeyId: number;
  objectType: typeof ObjectType.ASYMMETRIC_KEY | typeof ObjectType.SYMMETRIC_KEY;
  objectId: number;
  /** OAEP hash; MGF1 uses the same hash unless `mgfHash` says otherwise. KMS: SHA-1 or SHA-256 for both. */
  hash: OaepHash;
  mgfHash?: OaepHash;
  /** The ephemeral AES key: AES256 for the KMS format. */
  aes?: typeof Algorithm.AES128 | typeof Algorithm.AES192 | typeof Algorithm.AES256;
}

/**
 * WRAP_KEY_RSA (firmware 2.4, "get rsa wrapped key"): the object's raw key material (asymmetric keys as
 * PKCS#8) as RSA-OAEP(ephemeral AES key) || AES-KWP(material): CKM_RSA_AES_KEY_WRAP, which is the KMS
 * RSA_AES_KEY_WRAP_SHA_* format when the hash is SHA-1 or SHA-256 and the AES key is 256 bits.
 */
export async function wrapKeyRsa(s: YubiHsmSession, req: WrapKeyRsaRequest): Promise<Uint8Array> {
  const h = OAEP[req.hash];
  const mgf = OAEP[req.mgfHash ?? req.hash];
  const labelDigest = new Uint8Array(createHash(h.node).update(new Uint8Array(0)).digest());
  const payload = concat(u16(req.publicWrapKeyId), u8(req.objectType), u16(req.objectId), u8(req.aes ?? Algorithm.AES256), u8(h.oaep), u8(mgf.mgf), labelDigest);
  return s.send(Command.WRAP_KEY_RSA, payload);
}

/** RESET_DEVICE: erases every object, restores the factory authentication key; the device reboots, so every session ends. */
export async function resetDevice(s: YubiHsmSession): Promise<void> {
  try {
    expectEmpty(await s.send(Command.RESET_DEVICE), 'RESET_DEVICE');
  } finally {
    s.markClosed();
  }
}

/**
 * GET_LOG_ENTRIES with the digest chain verified from the first entry returned, or from `previous` (an entry
 * already trusted, e.g. the last one a transcript recorded) when given.
 */
export async function getLogEntries(s: YubiHsmSession, previous?: LogEntry): Promise<LogData> {
  const resp = await s.send(Command.GET_LOG_ENTRIES);
  let data: LogData;
  try {
    data = parseLogData(resp);
  } catch (e) {
    throw badResponse(`GET_LOG_ENTRIES: ${(e as Error).message}`);
  }
  verifyLogChain(data.entries, previous);
  return data;
}

/** SET_LOG_INDEX: entries up to and including `index` are consumed and their room freed. */
export async function setLogIndex(s: YubiHsmSession, index: number): Promise<void> {
  expectEmpty(await s.send(Command.SET_LOG_INDEX, u16(index)), 'SET_LOG_INDEX');
}

async function setOption(s: YubiHsmSession, option: number, value: Uint8Array): Promise<void> {
  expectEmpty(await s.send(Command.SET_OPTION, concat(u8(option), u16(value.length), value)), 'SET_OPTION');
}

async function getOption(s: YubiHsmSession, option: number): Promise<Uint8Array> {
  return s.send(Command.GET_OPTION, u8(option));
}

/** Per-command audit settings: 0 off, 1 on, 2 on until reset. */
export async function setCommandAudit(s: YubiHsmSession, settings: ReadonlyMap<number, number>): Promise<void> {
  await setOption(s, DeviceOption.COMMAND_AUDIT, concat(...[...settings].map(([cmd, v]) => Uint8Array.of(cmd, v))));
}

export async function getCommandAudit(s: YubiHsmSession): Promise<Map<number, number>> {
  const v = await getOption(s, DeviceOption.COMMAND_AUDIT);
  const out = new Map<number, number>();
  for (let i = 0; i + 1 < v.length; i += 2) out.set(v[i] as number, v[i + 1] as number);
  return out;
}

export async function setForceAudit(s: YubiHsmSession, value: number): Promise<void> {
  await setOption(s, DeviceOption.FORCE_AUDIT, u8(value));
}

export async function getForceAudit(s: YubiHsmSession): Promise<number> {
  return (await getOption(s, DeviceOption.FORCE_AUDIT))[0] ?? 0;
}
