// Proof, before any real key exists, that what this token exports for (key spec, wrapping path) is exactly
// what a strict receiver expects (DESIGN principle 9). A throw-away key of the same spec is wrapped by the
// very path the real key will take (wrapForKms), under a throw-away RSA wrapping key whose private half only
// this process holds, so node:crypto recovers the ephemeral AES key and unwraps the RFC 5649 part itself;
// the material is then judged by checkMaterial (strict-material.ts). No real key's plaintext is involved.
//
// Padding must not pass by luck. SoftHSM 2.6.1 zero-pads a private key's PKCS#8 to a multiple of 8 before
// RFC 5649 (FACTS.md): a sample whose DER length is already a multiple of 8 cannot show that. Such a sample
// decides only for a spec whose encoding has a fixed length (EC: every key is that length, so every export
// is as exact as the sample); for RSA, whose length varies, more samples are taken until one is not a
// multiple of 8, and that one decides.
import { constants, createDecipheriv, generateKeyPairSync, privateDecrypt, type KeyObject } from 'node:crypto';
import { AppError } from '../errors.js';
import { CodedError, SESSION_LOST_CODES, TokenError } from '../../hsm/errors.js';
import type { TokenLayer } from '../../hsm/token.js';
import type { KmsCapability, ObjectHandle, SessionHandle, SlotRef, TokenInfo } from '../../hsm/types.js';
import { KEY_SPECS } from './keyspecs.js';
import { checkMaterial, type MaterialVerdict } from './strict-material.js';
import { tokenWords } from './token-words.js';
import type { KmsKeySpec } from './types.js';
import { wrapForKms } from './wrap.js';

export const EXPORT_NOT_EXACT = 'KMS_EXPORT_NOT_EXACT';

/** RSA samples taken at most before giving up on telling whether the token pads (see the header). */
const MAX_RSA_SAMPLES = 6;

export interface ExportProbeSample {
  /** Bytes node:crypto unwrapped, and the length the outer DER SEQUENCE claims (private keys). */
  unwrapped: number;
  derLength?: number;
  exact: boolean;
  reason?: string;
}

/** What the transcript records: the probe ran (and passed), or why it has to wait for the login. */
export type ExportProbe =
  | { ran: true; keySpec: KmsKeySpec; algorithm: string; method: string; samples: ExportProbeSample[]; conclusion: string }
  | { ran: false; keySpec: KmsKeySpec; algorithm: string; deferred: string };

const wrappingKeys = new Map<number, { spki: Uint8Array; privateKey: KeyObject }>();

/** One throw-away RSA wrapping key per size and process, the size of the real one (the same RSA-OAEP block). */
function throwAwayWrappingKey(bits: number): { spki: Uint8Array; privateKey: KeyObject } {
  let k = wrappingKeys.get(bits);
  if (!k) {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: bits, publicExponent: 0x10001 });
    k = { spki: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' })), privateKey };
    wrappingKeys.set(bits, k);
  }
  return k;
}

/** EncryptedKeyMaterial back to the material, as the KMS does it: RSA-OAEP, then RFC 5649 (node:crypto). */
function unwrapLikeKms(privateKey: KeyObject, bits: number, algorithm: string, encrypted: Uint8Array): Buffer {
  const oaepHash = algorithm.endsWith('SHA_1') ? 'sha1' : 'sha256';
  const decrypt = (b: Uint8Array) => privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, b);
  if (algorithm.startsWith('RSAES_OAEP')) return decrypt(encrypted);
  const aesKey = decrypt(encrypted.subarray(0, bits / 8));
  if (aesKey.length !== 32) throw new Error(`the RSA part decrypted to ${aesKey.length} bytes, not an AES-256 key`);
  const d = createDecipheriv('id-aes256-wrap-pad', aesKey, Buffer.from('A65959A6', 'hex'));
  return Buffer.concat([d.update(encrypted.subarray(bits / 8)), d.final()]);
}

const probeLabel = 'kc-probe-export';

async function throwAwayKey(layer: TokenLayer, session: SessionHandle, keySpec: KmsKeySpec): Promise<ObjectHandle[]> {
  const info = KEY_SPECS[keySpec];
  const id = new Uint8Array();
  // Public session objects: no login needed (the probe runs at the parameters step), nothing outlives it.
  if (info.kind === 'aes' || info.kind === 'hmac') {
    const h = await layer.generateSecretKey(session, info.kind === 'aes' ? { type: 'AES', bits: 256 } : { type: 'GENERIC_SECRET', bytes: info.bytes }, {
      label: probeLabel, id, token: false, private: false, sensitive: true, extractable: true,
      encrypt: false, decrypt: false, sign: false, verify: false, wrap: false, unwrap: false, derive: false,
    });
    return [h];
  }
  const pair = await layer.generateKeyPair(
    session,
    info.kind === 'rsa' ? { type: 'RSA', bits: info.bits } : { type: 'EC', curve: info.curve },
    { label: probeLabel, id, token: false, encrypt: false, verify: false, wrap: false },
    { label: probeLabel, id, token: false, private: false, sensitive: true, extractable: true, decrypt: false, sign: false, unwrap: false, derive: false },
  );
  return [pair.privateKey, pair.publicKey];
}

/** `The token "LABEL" (slot N, SoftHSM project SoftHSM v2)`: the quirk belongs to the make as much as to this token. */
async function tokenName(layer: TokenLayer, slot: SlotRef, info?: TokenInfo): Promise<string> {
  const make = info ? [info.manufacturer, info.model].filter((x) => x && x.trim() !== '').join(' ') : '';
  if (!info) {
    const listed = await layer.listSlots(slot.moduleId).then((l) => l.find((s) => s.slotId === slot.slotId)?.token, () => undefined);
    if (listed) return tokenName(layer, slot, listed);
  }
  const words = await tokenWords(layer, slot, info);
  return make === '' ? words : words.replace(/\)$/, `, ${make})`);
}

/** Trailing zero bytes after the DER, filling it up to a multiple of 8: the padding quirk, in words. */
function quirk(v: MaterialVerdict): string | undefined {
  if (v.derLength === undefined || !v.trailingZero || v.bytes % 8 !== 0 || v.bytes - v.derLength > 7) return undefined;
  return `pads the PKCS#8 of a private key with zero bytes to a multiple of 8 before its RFC 5649 wrap (a throw-away key of this spec came back as ${v.derLength} bytes of DER + ${v.bytes - v.derLength} zero bytes = ${v.bytes})`;
}

function refusal(name: string, keySpec: KmsKeySpec, algorithm: string, v: MaterialVerdict): AppError {
  const asym = KEY_SPECS[keySpec].kind === 'rsa' || KEY_SPECS[keySpec].kind === 'ec';
  const q = quirk(v);
  const what = q
    ? `${name} ${q}.`
    : `${name} exported a throw-away ${keySpec} key with ${algorithm} that a strict receiver rejects: ${v.reason ?? 'not exact'}.`;
  return new AppError(
    EXPORT_NOT_EXACT,
    `${what} AWS KMS (and Python cryptography, Go) reject such material, so nothing was generated: ${keySpec} cannot be exported exactly from this token with ${algorithm}.`,
    asym
      ? `Use a token that wraps private keys exactly (for example NSS softoken, or a YubiHSM 2)${keySpec.startsWith('ECC_') ? ', or RSAES_OAEP_SHA_256 / RSAES_OAEP_SHA_1 parameters if this token can RSA-OAEP-wrap private keys' : ''}.`
      : 'Request new import parameters with RSAES_OAEP_SHA_256 or RSAES_OAEP_SHA_1 (the material is RSA-OAEP-wrapped directly), or use another token.',
  );
}

/**
 * Wrap throw-away keys of `keySpec` by the path `capability` names and judge the unwrapped material
 * strictly. Throws EXPORT_NOT_EXACT (before anything real is generated) when a strict receiver would reject
 * it. `session`: a logged-in one (after the quorum login); without it a fresh session is opened, and a
 * token that allows nothing before login (a YubiHSM) answers `ran: false` with the reason, for the caller
 * to run the probe again after the login.
 */
export async function proveExactExport(
  layer: TokenLayer,
  slot: SlotRef,
  args: { capability: KmsCapability; keySpec: KmsKeySpec; wrappingKeyBits: number; session?: SessionHandle; tokenInfo?: TokenInfo },
): Promise<ExportProbe> {
  const { capability, keySpec } = args;
  const algorithm = capability.algorithm;
  const beforeLogin = args.session === undefined;
  let session = args.session;
  let info = args.tokenInfo;
  if (session === undefined) {
    try {
      const opened = await layer.openSession(slot, { readWrite: true });
      session = opened.session;
      info = opened.token;
    } catch (e) {
      return { ran: false, keySpec, algorithm, deferred: `no session could be opened before the login (${e instanceof TokenError ? e.code : String(e)})` };
    }
  }
  const name = await tokenName(layer, slot, info);
  const { privateKey, spki } = throwAwayWrappingKey(args.wrappingKeyBits);
  const samples: ExportProbeSample[] = [];
  const sample = async (): Promise<MaterialVerdict> => {
    const made: ObjectHandle[] = [];
    try {
      made.push(...(await throwAwayKey(layer, session as SessionHandle, keySpec)));
      const wrap = await wrapForKms(layer, session as SessionHandle, { capability, wrappingPublicKeySpkiDer: spki, key: made[0] as ObjectHandle, beforeLogin });
      const v = checkMaterial(keySpec, unwrapLikeKms(privateKey, args.wrappingKeyBits, algorithm, wrap.encryptedKeyMaterial));
      samples.push({ unwrapped: v.bytes, ...(v.derLength !== undefined ? { derLength: v.derLength } : {}), exact: v.ok, ...(v.reason ? { reason: v.reason } : {}) });
      return v;
    } finally {
      for (const h of made) await layer.destroyObject(session as SessionHandle, h).catch(() => undefined);
    }
  };
  try {
    const kind = KEY_SPECS[keySpec].kind;
    let v: MaterialVerdict;
    try {
      v = await sample();
    } catch (e) {
      if (beforeLogin && e instanceof TokenError && e.code === 'CKR_USER_NOT_LOGGED_IN') {
        return { ran: false, keySpec, algorithm, deferred: `the token makes no throw-away ${keySpec} key before the login (CKR_USER_NOT_LOGGED_IN): probed again after the quorum login, before anything is generated` };
      }
      // A session that died under the probe is not something the token cannot do: the caller stops or resumes.
      if (!beforeLogin && e instanceof CodedError && SESSION_LOST_CODES.has(e.code)) throw e;
      const why = e instanceof TokenError || e instanceof AppError ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e);
      throw new AppError(
        EXPORT_NOT_EXACT,
        `${name} could not wrap a throw-away ${keySpec} key with ${algorithm} (${why}), so nothing was generated.`,
        'Request new import parameters with another wrapping algorithm, or use another token; the step can be run again.',
      );
    }
    const done = (conclusion: string): ExportProbe => ({ ran: true, keySpec, algorithm, method: capability.method ?? algorithm, samples, conclusion });
    if (!v.ok) throw refusal(name, keySpec, algorithm, v);
    if (kind === 'aes' || kind === 'hmac') return done(`a throw-away ${keySpec} key unwrapped to exactly ${v.bytes} bytes`);
    if ((v.derLength as number) % 8 !== 0) return done(`a throw-away ${keySpec} key unwrapped to exactly its ${v.derLength}-byte PKCS#8 (not a multiple of 8, so the token does not pad)`);
    if (v.fixedLength) return done(`every ${keySpec} PKCS#8 from this token is ${v.derLength} bytes, a multiple of 8, and the throw-away one unwrapped exactly: exact whether or not the token pads other lengths`);
    // RSA at a length that cannot show padding: sample until one can.
    while (samples.length < MAX_RSA_SAMPLES) {
      v = await sample();
      if (!v.ok) throw refusal(name, keySpec, algorithm, v);
      if ((v.derLength as number) % 8 !== 0) return done(`throw-away ${keySpec} keys unwrapped exactly; one of ${v.derLength} bytes (not a multiple of 8) shows the token does not pad`);
    }
    throw new AppError(
      EXPORT_NOT_EXACT,
      `${name}: ${samples.length} throw-away ${keySpec} keys all encoded to a multiple of 8 bytes, so whether the token pads PKCS#8 before its RFC 5649 wrap could not be told; nothing was generated.`,
      'Run the step again (another set of throw-away keys will tell), or use a token known to wrap exactly (NSS softoken, a YubiHSM 2).',
    );
  } finally {
    if (args.session === undefined) await layer.closeSession(session as SessionHandle).catch(() => undefined);
  }
}

/** For errors and the transcript: a deferred probe must run before generation; a refused one never returns. */
export function probeRecord(p: ExportProbe): Record<string, unknown> {
  return p.ran ? { ran: true, method: p.method, samples: p.samples.map((s) => ({ ...s })), conclusion: p.conclusion } : { ran: false, deferred: p.deferred };
}

