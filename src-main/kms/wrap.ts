// Wrapping inside the token, in the four AWS KMS formats. The plaintext never exists outside the token:
//   RSAES_OAEP_SHA_1/_256: C_WrapKey(CKM_RSA_PKCS_OAEP, MGF1 over the same hash, empty label) under the
//     KMS wrapping key, imported as a session object from its SPKI.
//   RSA_AES_KEY_WRAP_SHA_1/_256: composed in the token (pkcs11js cannot pass CKM_RSA_AES_KEY_WRAP's
//     parameters): a fresh AES-256 session key wraps the material with the token's RFC 5649 mechanism, then
//     RSA-OAEP wraps that AES key; the output is the RSA part followed by the AES part.
//   A device that does the whole RSA_AES_KEY_WRAP format in one command (the YubiHSM 2's WRAP_KEY_RSA)
//     says so with a capability method starting with RSA_AES_KEY_WRAP: one wrapKey({ name:
//     'RSA_AES_KEY_WRAP', hash }) under the imported KMS wrapping key, no ephemeral key in between.
// Which RFC 5649 mechanism comes from probeKmsCapabilities' method (it checked the output), never from a
// mechanism's name: CKM_AES_KEY_WRAP_PAD is RFC 5649 on SoftHSM and RFC 3394 + PKCS#7 on NSS.
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { AppError } from '../errors.js';
import { SESSION_LOST_CODES, TokenError } from '../../hsm/errors.js';
import { probeKmsCapabilities } from '../../hsm/capabilities.js';
import type { TokenLayer } from '../../hsm/token.js';
import { isAsymmetric } from './rules.js';
import { tokenWords } from './token-words.js';
import type { KmsKeySpec } from './types.js';
import type { KmsCapability, KmsWrappingAlgorithm, ObjectHandle, SessionHandle, SlotRef, WrapMechanism } from '../../hsm/types.js';

export const WRAP_ERROR = 'KMS_WRAP';
/** ImportKeyMaterial's EncryptedKeyMaterial is at most 6144 bytes. */
export const ENCRYPTED_KEY_MATERIAL_MAX = 6144;

function describe(c: KmsCapability): string {
  return `${c.algorithm} (${c.method ?? 'supported'})`;
}

/**
 * Ask the token, before any key is generated, whether it can do `algorithm`; the ceremony calls this
 * first. Returns the capability (its method says how); throws an error listing what the token can do.
 */
export async function checkTokenCanWrap(layer: TokenLayer, slot: SlotRef, algorithm: KmsWrappingAlgorithm, keySpec?: KmsKeySpec, probed?: KmsCapability[]): Promise<KmsCapability> {
  const caps = probed ?? (await probeKmsCapabilities(layer, slot));
  const cap = caps.find((c) => c.algorithm === algorithm);
  if (cap?.supported) {
    if (keySpec && isAsymmetric(keySpec) && !algorithm.startsWith('RSA_AES')) await probeOaepOfPrivateKey(layer, slot, algorithm, keySpec);
    return cap;
  }
  const can = caps.filter((c) => c.supported);
  throw new AppError(
    WRAP_ERROR,
    `${await tokenWords(layer, slot)} cannot wrap with ${algorithm}: ${cap?.reason ?? 'unknown algorithm'} ` +
      (can.length > 0 ? `It can do: ${can.map(describe).join('; ')}.` : 'It can do none of the four AWS KMS wrapping algorithms.'),
    can.length > 0
      ? `Request new import parameters with ${can.map((c) => c.algorithm).join(' or ')}, or use a token that can do ${algorithm}.`
      : 'Use a token that can do RSA-OAEP wrapping inside itself (e.g. one that offers CKM_RSA_PKCS_OAEP and CKM_AES_KEY_WRAP_KWP).',
  );
}

/**
 * probeKmsCapabilities wraps a secret key; some tokens RSA-OAEP-wrap only secret keys (SoftHSM), so for a
 * private key under RSAES_OAEP_* we try a throw-away session P-256 pair before the real key exists.
 */
async function probeOaepOfPrivateKey(layer: TokenLayer, slot: SlotRef, algorithm: KmsWrappingAlgorithm, keySpec: KmsKeySpec): Promise<void> {
  const hash = algorithm.endsWith('SHA_1') ? 'SHA-1' : 'SHA-256';
  const { session } = await layer.openSession(slot, { readWrite: true });
  const made: ObjectHandle[] = [];
  try {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'der', type: 'spki' });
    const pub = await layer.createPublicKeyFromSpki(session, new Uint8Array(rsa), { label: 'kc-probe-oaep', token: false, encrypt: true, wrap: true, verify: false });
    made.push(pub);
    const pair = await layer.generateKeyPair(
      session,
      { type: 'EC', curve: 'P-256' },
      { label: 'kc-probe-oaep-ec', id: new Uint8Array(), token: false, encrypt: false, verify: false, wrap: false },
      { label: 'kc-probe-oaep-ec', id: new Uint8Array(), token: false, private: false, sensitive: true, extractable: true, decrypt: false, sign: false, unwrap: false, derive: false },
    );
    made.push(pair.privateKey, pair.publicKey);
    await layer.wrapKey(session, { name: 'RSA_PKCS_OAEP', hash }, pub, pair.privateKey);
  } catch (e) {
    throw new AppError(
      WRAP_ERROR,
      `${await tokenWords(layer, slot)} cannot wrap a private key with ${algorithm} (it refused a probe: ${e instanceof TokenError ? e.code : String(e)}), so it cannot export ${keySpec} that way.`,
      'Request new import parameters with RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256 (if the token can do it), or use another token.',
    );
  } finally {
    for (const h of made.reverse()) await layer.destroyObject(session, h).catch(() => undefined);
    await layer.closeSession(session).catch(() => undefined);
  }
}

/** The capability's method says the token does RSA_AES_KEY_WRAP_* in one wrapKey call (e.g. a YubiHSM 2). */
export function isOneStepRsaAes(cap: KmsCapability): boolean {
  return (cap.method ?? '').startsWith('RSA_AES_KEY_WRAP');
}

/** The RFC 5649 mechanism the capability's probe found. */
export function rfc5649Mechanism(cap: KmsCapability): WrapMechanism {
  const m = cap.method ?? '';
  if (m.includes('CKM_AES_KEY_WRAP_KWP')) return { name: 'AES_KEY_WRAP_KWP' };
  if (m.includes('CKM_AES_KEY_WRAP_PAD')) return { name: 'AES_KEY_WRAP_PAD' };
  throw new AppError(WRAP_ERROR, `The capability for ${cap.algorithm} names no RFC 5649 mechanism (${m || 'no method'}).`, 'Run checkTokenCanWrap for this algorithm again.');
}

export interface WrapResult {
  encryptedKeyMaterial: Uint8Array;
  algorithm: KmsWrappingAlgorithm;
  /** How, for the transcript: the capability's method. */
  method: string;
  /** Length of the RSA-OAEP part (the modulus length) and, for the composed formats, of the RFC 5649 part. */
  rsaPartLength: number;
  aesPartLength?: number;
}

async function step<T>(what: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    // A session that died (unplugged, host gone, login lost) is not a wrap failure: the engine stops or resumes on it.
    if (e instanceof TokenError && !SESSION_LOST_CODES.has(e.code)) {
      throw new AppError(WRAP_ERROR, `${what} failed in the token: ${e.code}: ${e.message}`, e.remedy ?? 'Check the token and the parameters, then try the wrap again; the key material is unchanged.');
    }
    throw e;
  }
}

/**
 * Wrap `key` (a secret key or a private key handle in `session`) for AWS KMS. Every object made here is a
 * session object and is destroyed before returning, on failure too.
 */
export async function wrapForKms(
  layer: TokenLayer,
  session: SessionHandle,
  args: {
    capability: KmsCapability;
    wrappingPublicKeySpkiDer: Uint8Array;
    key: ObjectHandle;
    /**
     * The exactness probe (exactness.ts) runs before any login: its ephemeral AES key must then be a public
     * session object. A real wrap keeps it private (readable by no session before login).
     */
    beforeLogin?: boolean;
  },
): Promise<WrapResult> {
  const cap = args.capability;
  if (!cap.supported) throw new AppError(WRAP_ERROR, `${cap.algorithm} is not supported by this token: ${cap.reason}`, 'Call checkTokenCanWrap before generating the key.');
  const algorithm = cap.algorithm;
  const hash = algorithm.endsWith('SHA_1') ? 'SHA-1' : 'SHA-256';
  const modulusBytes = Math.ceil((createPublicKey({ key: Buffer.from(args.wrappingPublicKeySpkiDer), format: 'der', type: 'spki' }).asymmetricKeyDetails?.modulusLength ?? 0) / 8);
  const rsaAes = algorithm.startsWith('RSA_AES');
  const oneStep = rsaAes && isOneStepRsaAes(cap);
  const composed = rsaAes && !oneStep;
  const aesMech = composed ? rfc5649Mechanism(cap) : undefined;

  const made: ObjectHandle[] = [];
  try {
    const kmsKey = await step('Importing the KMS wrapping public key', () =>
      layer.createPublicKeyFromSpki(session, args.wrappingPublicKeySpkiDer, { label: 'kms-wrapping-key', token: false, encrypt: true, wrap: true, verify: false }),
    );
    made.push(kmsKey);
    let out: Uint8Array;
    let aesPartLength: number | undefined;
    if (oneStep) {
      out = await step(`Wrapping with RSA_AES_KEY_WRAP (${hash}) in one step`, () => layer.wrapKey(session, { name: 'RSA_AES_KEY_WRAP', hash }, kmsKey, args.key));
      const aesPart = out.length - modulusBytes;
      if (aesPart < 16 || aesPart % 8 !== 0) {
        throw new AppError(WRAP_ERROR, `The token's RSA_AES_KEY_WRAP output is ${out.length} bytes: not the modulus length ${modulusBytes} followed by an RFC 5649 part (a multiple of 8 of at least 16).`, 'Do not use this output; report the token model.');
      }
      aesPartLength = aesPart;
    } else if (!composed) {
      out = await step(`C_WrapKey with CKM_RSA_PKCS_OAEP (${hash})`, () => layer.wrapKey(session, { name: 'RSA_PKCS_OAEP', hash }, kmsKey, args.key));
      if (out.length !== modulusBytes) throw new AppError(WRAP_ERROR, `The token's RSA-OAEP output is ${out.length} bytes, not the modulus length ${modulusBytes}.`, 'Do not use this output; report the token model.');
    } else {
      const ephemeral = await step('Generating the ephemeral AES-256 key', () =>
        layer.generateSecretKey(
          session,
          { type: 'AES', bits: 256 },
          { label: 'kms-ephemeral-aes', id: new Uint8Array(), token: false, private: args.beforeLogin !== true, sensitive: true, extractable: true, encrypt: false, decrypt: false, sign: false, verify: false, wrap: true, unwrap: false, derive: false },
        ),
      );
      made.push(ephemeral);
      const aesPart = await step(`C_WrapKey with ${aesMech?.name === 'AES_KEY_WRAP_KWP' ? 'CKM_AES_KEY_WRAP_KWP' : 'CKM_AES_KEY_WRAP_PAD'}`, () =>
        layer.wrapKey(session, aesMech as WrapMechanism, ephemeral, args.key),
      );
      const rsaPart = await step(`C_WrapKey of the ephemeral key with CKM_RSA_PKCS_OAEP (${hash})`, () => layer.wrapKey(session, { name: 'RSA_PKCS_OAEP', hash }, kmsKey, ephemeral));
      if (rsaPart.length !== modulusBytes) throw new AppError(WRAP_ERROR, `The token's RSA-OAEP output is ${rsaPart.length} bytes, not the modulus length ${modulusBytes}.`, 'Do not use this output; report the token model.');
      if (aesPart.length < 16 || aesPart.length % 8 !== 0) throw new AppError(WRAP_ERROR, `The token's RFC 5649 output is ${aesPart.length} bytes, not a multiple of 8 of at least 16.`, 'Do not use this output; report the token model.');
      out = new Uint8Array(rsaPart.length + aesPart.length);
      out.set(rsaPart, 0);
      out.set(aesPart, rsaPart.length);
      aesPartLength = aesPart.length;
    }
    if (out.length > ENCRYPTED_KEY_MATERIAL_MAX) {
      throw new AppError(WRAP_ERROR, `The wrapped key material is ${out.length} bytes; AWS KMS accepts at most ${ENCRYPTED_KEY_MATERIAL_MAX}.`, 'Use a smaller key spec.');
    }
    return { encryptedKeyMaterial: out, algorithm, method: cap.method ?? algorithm, rsaPartLength: modulusBytes, ...(aesPartLength !== undefined ? { aesPartLength } : {}) };
  } finally {
    for (const h of made.reverse()) {
      // Session objects vanish with the session anyway; destroy them now so nothing outlives the wrap.
      await layer.destroyObject(session, h).catch(() => undefined);
    }
  }
}
