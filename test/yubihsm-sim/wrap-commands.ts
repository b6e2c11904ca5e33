// The simulated device's wrap commands: PUT WRAP KEY, EXPORT/IMPORT WRAPPED (AES-CCM), WRAP/UNWRAP DATA,
// and firmware 2.4's RSA forms (UNWRAP_KEY_RSA, EXPORT_WRAPPED_RSA, IMPORT_WRAPPED_RSA). Payload layouts
// as python-yubihsm's objects.py sends them (WrapKey.put/export_wrapped/import_wrapped/wrap_data/
// import_raw_key/import_wrapped_rsa, PublicWrapKey.export_wrapped_rsa); permission rules as Yubico's
// command reference states them and python-yubihsm's tests/device/test_wrap.py checks them.
import { createHash, createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { concat, Reader, u16, u8 } from '../../hsm/yubihsm/bytes.js';
import { Capability, DeviceError, ObjectType, Origin } from '../../hsm/yubihsm/constants.js';
import { RSA_ALGORITHMS, rawPrivateKey } from '../../hsm/yubihsm/keys.js';
import { AES_LENGTH, CCM_WRAP_LENGTH, MGF_HASH, OAEP_HASH } from './algorithms.js';
import type { SimObject } from './device.js';
import { fail } from './failure.js';
import { importPrivate, kwpUnwrap, kwpWrap, oaepDecrypt, oaepEncrypt } from './key-material.js';
import { ccmOpen, ccmSeal, parseObject, serializeObject } from './wrap.js';

/** What a handler may ask of the device for the session it runs in. */
export interface WrapHost {
  /** The session's authentication key, after checking it holds `capability` (else INSUFFICIENT_PERMISSIONS). */
  require(capability: bigint): SimObject;
  /** An object the session may see (shares a domain with its authentication key), else OBJECT_NOT_FOUND. */
  visible(id: number, type: number): SimObject;
  /** Parses and checks the common new-object header (id, label, domains, capabilities, algorithm[, delegated]). */
  newObject(r: Reader, type: number, withDelegated: boolean): { id: number; label: string; domains: number; capabilities: bigint; algorithm: number; delegatedCapabilities: bigint };
  /** Checks an object arriving whole (from a wrap) as newObject would, then stores it. */
  storeImported(o: SimObject): SimObject;
  create(o: Omit<SimObject, 'sequence'>): SimObject;
  version: { major: number; minor: number };
}

export interface WrapResult {
  body: Uint8Array;
  target: number;
  second?: number;
}

const has = (o: SimObject, c: bigint) => (o.capabilities & c) === c;
const atLeast = (v: { major: number; minor: number }, major: number, minor: number) => v.major > major || (v.major === major && v.minor >= minor);

/** The AES (CCM) wrap key `id`, refusing an RSA wrap key (INVALID_DATA: it only imports, under RSA). */
function aesWrapKey(host: WrapHost, id: number): SimObject & { secret: Uint8Array } {
  const w = host.visible(id, ObjectType.WRAP_KEY);
  if (!CCM_WRAP_LENGTH[w.algorithm] || !w.secret) fail(DeviceError.INVALID_DATA);
  return w as SimObject & { secret: Uint8Array };
}

function rsaWrapKey(host: WrapHost, id: number): SimObject & { privateKey: KeyObject } {
  const w = host.visible(id, ObjectType.WRAP_KEY);
  if (!RSA_ALGORITHMS[w.algorithm] || !w.privateKey) fail(DeviceError.INVALID_DATA);
  return w as SimObject & { privateKey: KeyObject };
}

/** The rules every export under a wrap key shares. */
function checkExportable(wrap: SimObject, target: SimObject): void {
  if (!has(wrap, Capability.EXPORT_WRAPPED)) fail(DeviceError.INSUFFICIENT_PERMISSIONS);
  if (!has(target, Capability.EXPORTABLE_UNDER_WRAP)) fail(DeviceError.INSUFFICIENT_PERMISSIONS);
  // A wrap key carries out only objects whose every capability it was delegated.
  if ((target.capabilities & ~wrap.delegatedCapabilities) !== 0n) fail(DeviceError.INSUFFICIENT_PERMISSIONS);
}

/** An object coming in under a wrap key may hold only capabilities the wrap key was delegated. */
function checkImportable(wrap: SimObject, capabilities: bigint): void {
  if (!has(wrap, Capability.IMPORT_WRAPPED)) fail(DeviceError.INSUFFICIENT_PERMISSIONS);
  if ((capabilities & ~wrap.delegatedCapabilities) !== 0n) fail(DeviceError.INSUFFICIENT_PERMISSIONS);
}

export function putWrapKey(host: WrapHost, r: Reader): WrapResult {
  host.require(Capability.PUT_WRAP_KEY);
  const o = host.newObject(r, ObjectType.WRAP_KEY, true);
  const key = r.rest().slice();
  const aes = CCM_WRAP_LENGTH[o.algorithm];
  const bits = RSA_ALGORITHMS[o.algorithm];
  if (aes) {
    if (key.length !== aes) fail(DeviceError.INVALID_DATA);
    host.create({ ...o, type: ObjectType.WRAP_KEY, origin: Origin.IMPORTED, secret: key });
  } else if (bits && atLeast(host.version, 2, 4)) {
    // An RSA wrap key arrives as p || q, like PUT_ASYMMETRIC_KEY.
    const privateKey = importPrivate(o.algorithm, key);
    host.create({ ...o, type: ObjectType.WRAP_KEY, origin: Origin.IMPORTED, privateKey, publicKey: createPublicKey(privateKey) });
  } else fail(DeviceError.INVALID_DATA);
  return { body: u16(o.id), target: o.id };
}

export function exportWrapped(host: WrapHost, r: Reader): WrapResult {
  const wrapId = r.u16();
  const type = r.u8();
  const id = r.u16();
  // Firmware 2.4 takes an optional format byte: 1 asks for an Ed25519 key with its seed.
  const format = r.remaining > 0 ? r.u8() : 0;
  if (r.remaining !== 0) fail(DeviceError.WRONG_LENGTH);
  host.require(Capability.EXPORT_WRAPPED);
  const wrap = aesWrapKey(host, wrapId);
  const target = host.visible(id, type);
  checkExportable(wrap, target);
  if (format > 1) fail(DeviceError.INVALID_DATA);
  return { body: ccmSeal(wrap.secret, serializeObject(wrap.algorithm, target, format === 1)), target: wrapId, second: id };
}

function importObject(host: WrapHost, wrap: SimObject, plain: Uint8Array): WrapResult {
  const { wrapAlgorithm, object } = parseObject(plain);
  if (wrapAlgorithm !== wrap.algorithm) fail(DeviceError.INVALID_DATA);
  checkImportable(wrap, object.capabilities);
  object.origin |= Origin.IMPORTED_WRAPPED;
  const stored = host.storeImported(object);
  return { body: concat(u8(stored.type), u16(stored.id)), target: wrap.id, second: stored.id };
}

export function importWrapped(host: WrapHost, r: Reader): WrapResult {
  const wrapId = r.u16();
  const sealed = r.rest();
  host.require(Capability.IMPORT_WRAPPED);
  const wrap = aesWrapKey(host, wrapId);
  if (!has(wrap, Capability.IMPORT_WRAPPED)) fail(DeviceError.INSUFFICIENT_PERMISSIONS);
  return importObject(host, wrap, ccmOpen(wrap.secret, sealed));
}

/** WRAP_DATA / UNWRAP_DATA: arbitrary data under a CCM wrap key. */
export function wrapData(host: WrapHost, r: Reader, unwrap: boolean): WrapResult {
  const capability = unwrap ? Capability.UNWRAP_DATA : Capability.WRAP_DATA;
  const id = r.u16();
  const data = r.rest();
  host.require(capability);
  const wrap = aesWrapKey(host, id);
  // The firmware's answer changed in 2.5 (python-yubihsm test_wrap_data_many): INVALID_DATA before.
  if (!has(wrap, capability)) fail(atLeast(host.version, 2, 5) ? DeviceError.INSUFFICIENT_PERMISSIONS : DeviceError.INVALID_DATA);
  if (data.length === 0) fail(DeviceError.INVALID_DATA);
  return { body: unwrap ? ccmOpen(wrap.secret, data) : ccmSeal(wrap.secret, data), target: id };
}

/** The OAEP hash, MGF1 hash and the label digest's length, from the two algorithm bytes. */
function oaepParameters(oaepAlgorithm: number, mgfAlgorithm: number): { mgf: string; hLen: number } {
  const oaep = OAEP_HASH[oaepAlgorithm] ?? fail(DeviceError.INVALID_DATA);
  const mgf = MGF_HASH[mgfAlgorithm] ?? fail(DeviceError.INVALID_DATA);
  return { mgf, hLen: createHash(oaep).digest().length };
}

/** RSA-OAEP(AES key) || AES-KWP(material), opened with an RSA wrap key: CKM_RSA_AES_KEY_WRAP. */
function rsaAesUnwrap(wrap: SimObject & { privateKey: KeyObject }, wrapped: Uint8Array, mgf: string, labelDigest: Uint8Array): Uint8Array {
  const k = (RSA_ALGORITHMS[wrap.algorithm] as number) / 8;
  if (wrapped.length <= k) fail(DeviceError.INVALID_DATA);
  const aesKey = oaepDecrypt(wrap.privateKey, wrapped.subarray(0, k), mgf, labelDigest);
  if (![16, 24, 32].includes(aesKey.length)) fail(DeviceError.INVALID_DATA);
  return kwpUnwrap(aesKey, wrapped.subarray(k));
}

/** Length of the one DER element at the start of `der`, or -1. */
function derLength(der: Uint8Array): number {
  if (der.length < 2) return -1;
  const first = der[1] as number;
  if (first < 0x80) return 2 + first;
  const n = first & 0x7f;
  if (n === 0 || n > 4 || der.length < 2 + n) return -1;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + (der[2 + i] as number);
  return 2 + n + len;
}

/** UNWRAP_KEY_RSA (firmware 2.4): a raw key (PKCS#8 or AES bytes) under CKM_RSA_AES_KEY_WRAP becomes an object. */
export function unwrapKeyRsa(host: WrapHost, r: Reader): WrapResult {
  if (!atLeast(host.version, 2, 4)) fail(DeviceError.INVALID_COMMAND);
  const wrapId = r.u16();
  const type = r.u8();
  const o = host.newObject(new Reader(r.bytes(2 + 40 + 2 + 8 + 1)), type, false);
  const { mgf, hLen } = oaepParameters(r.u8(), r.u8());
  const rest = r.rest();
  if (rest.length <= hLen) fail(DeviceError.WRONG_LENGTH);
  host.require(Capability.IMPORT_WRAPPED);
  const wrap = rsaWrapKey(host, wrapId);
  checkImportable(wrap, o.capabilities);
  const material = rsaAesUnwrap(wrap, rest.subarray(0, rest.length - hLen), mgf, rest.subarray(rest.length - hLen));
  const origin = Origin.IMPORTED_WRAPPED | Origin.IMPORTED;
  if (type === ObjectType.ASYMMETRIC_KEY) {
    // MODEL: exactly one DER PKCS#8 structure, nothing after it (zero padding is refused).
    if (material[0] !== 0x30 || derLength(material) !== material.length) fail(DeviceError.INVALID_DATA);
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey({ key: Buffer.from(material), format: 'der', type: 'pkcs8' });
    } catch {
      return fail(DeviceError.INVALID_DATA);
    }
    let algorithm = -1;
    try {
      algorithm = rawPrivateKey(privateKey).algorithm;
    } catch {
      fail(DeviceError.INVALID_DATA);
    }
    if (algorithm !== o.algorithm) fail(DeviceError.INVALID_DATA);
    host.create({ ...o, type, origin, privateKey, publicKey: createPublicKey(privateKey) });
  } else if (type === ObjectType.SYMMETRIC_KEY) {
    if (material.length !== AES_LENGTH[o.algorithm]) fail(DeviceError.INVALID_DATA);
    host.create({ ...o, type, origin, secret: material });
  } else fail(DeviceError.INVALID_DATA);
  return { body: concat(u8(type), u16(o.id)), target: wrapId, second: o.id };
}

/** EXPORT_WRAPPED_RSA (firmware 2.4): a whole object under a public wrap key. */
export function exportWrappedRsa(host: WrapHost, r: Reader): WrapResult {
  if (!atLeast(host.version, 2, 4)) fail(DeviceError.INVALID_COMMAND);
  const wrapId = r.u16();
  const type = r.u8();
  const id = r.u16();
  const aesLength = AES_LENGTH[r.u8()] ?? fail(DeviceError.INVALID_DATA);
  const { mgf, hLen } = oaepParameters(r.u8(), r.u8());
  const labelDigest = r.rest();
  if (labelDigest.length !== hLen) fail(DeviceError.INVALID_DATA);
  host.require(Capability.EXPORT_WRAPPED);
  const wrap = host.visible(wrapId, ObjectType.PUBLIC_WRAP_KEY);
  const target = host.visible(id, type);
  checkExportable(wrap, target);
  const aesKey = new Uint8Array(randomBytes(aesLength));
  // MODEL: the plaintext is the same header-and-body the CCM export carries (Yubico documents no other).
  const plain = serializeObject(wrap.algorithm, target);
  return { body: concat(oaepEncrypt(wrap.publicKey as KeyObject, aesKey, mgf, labelDigest), kwpWrap(aesKey, plain)), target: wrapId, second: id };
}

/** IMPORT_WRAPPED_RSA (firmware 2.4): what EXPORT_WRAPPED_RSA made, opened with the RSA wrap key. */
export function importWrappedRsa(host: WrapHost, r: Reader): WrapResult {
  if (!atLeast(host.version, 2, 4)) fail(DeviceError.INVALID_COMMAND);
  const wrapId = r.u16();
  const { mgf, hLen } = oaepParameters(r.u8(), r.u8());
  const rest = r.rest();
  if (rest.length <= hLen) fail(DeviceError.WRONG_LENGTH);
  host.require(Capability.IMPORT_WRAPPED);
  const wrap = rsaWrapKey(host, wrapId);
  if (!has(wrap, Capability.IMPORT_WRAPPED)) fail(DeviceError.INSUFFICIENT_PERMISSIONS);
  const plain = rsaAesUnwrap(wrap, rest.subarray(0, rest.length - hLen), mgf, rest.subarray(rest.length - hLen));
  return importObject(host, wrap, plain);
}
