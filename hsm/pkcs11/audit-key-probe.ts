// Will this token accept the audit key pair and keep it as the transcript needs it? Asked with a throw-away
// key pair made from the same template (src-main/transcript/token-signer.ts generates the real one), so a
// ceremony can refuse a token before anything it cannot undo. The probe needs a logged-in read-write user
// session: the private key is CKA_PRIVATE, and it must be a token object like the real one (tpm2-pkcs11
// refuses session objects, so a session-object probe would say nothing about the real template).
//
// tpm2-pkcs11 1.9 shows why a probe is needed: it makes every EC key a TPM key that both signs and decrypts,
// refuses a template that says CKA_ENCRYPT/CKA_DECRYPT false ("attr mismatch"), and with those left out sets
// CKA_DECRYPT true on the private key; the audit key must be sign-only, so that token is refused here.
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { TokenLayer } from '../token.js';
import type { AttributeName, Bytes, KeyPairSpec, ObjectHandle, PrivateKeyTemplate, PublicKeyTemplate, SessionHandle } from '../types.js';
import { TokenError } from '../errors.js';
import { EC_CURVE_OID } from './templates.js';

export const AUDIT_KEY_SPEC: KeyPairSpec = { type: 'EC', curve: 'P-384' };

/** The audit key pair's templates: sign-only, sensitive, never extractable, public key readable without login. */
export function auditKeyTemplates(label: string, id: Bytes): { publicTemplate: PublicKeyTemplate; privateTemplate: PrivateKeyTemplate } {
  return {
    publicTemplate: { label, id, token: true, encrypt: false, verify: true, wrap: false },
    privateTemplate: { label, id, token: true, private: true, sensitive: true, extractable: false, decrypt: false, sign: true, unwrap: false, derive: false },
  };
}

/** What the private audit key's attributes must read back as, and why. */
export const AUDIT_KEY_PRIVATE_REQUIREMENTS: readonly (readonly [AttributeName, boolean, string])[] = [
  ['CKA_TOKEN', true, 'it must be a token object'],
  ['CKA_PRIVATE', true, 'it must be a private object'],
  ['CKA_LOCAL', true, 'it must have been generated inside the token'],
  ['CKA_SENSITIVE', true, 'it must be sensitive'],
  ['CKA_ALWAYS_SENSITIVE', true, 'it must always have been sensitive'],
  ['CKA_EXTRACTABLE', false, 'it must not be extractable'],
  ['CKA_NEVER_EXTRACTABLE', true, 'it must never have been extractable'],
  ['CKA_SIGN', true, 'it must be able to sign'],
  ['CKA_DECRYPT', false, 'it must not decrypt'],
  ['CKA_UNWRAP', false, 'it must not unwrap'],
  ['CKA_DERIVE', false, 'it must not derive'],
];

export const AUDIT_PROBE_LABEL = 'keyceremony-audit-probe';
/** What the probe key signs (hashed with SHA-384 on the host, as the audit key's signatures are). */
const PROBE_MESSAGE = Buffer.from('keyceremony audit key template probe');

/**
 * Checks a caller may waive for a token that cannot report them, each with the reason (NSS softoken answers
 * CKA_LOCAL false even for keys it just generated). Only CKA_LOCAL can be waived; the waiver is the
 * caller's to record.
 */
export interface AuditKeyWaivers {
  CKA_LOCAL?: string;
}

export type AuditTemplateProbe =
  | { usable: true }
  | {
      usable: false;
      /** Which call refused, or which attributes read back wrong. */
      stage: 'generate' | 'attributes' | 'sign';
      message: string;
      remedy: string;
      /** Probe objects the token would not destroy (their label is AUDIT_PROBE_LABEL). */
      leftOver?: number;
    };

const why = (error: unknown) => (error instanceof TokenError ? `${error.code}: ${error.message}` : (error as Error).message);

/**
 * Generate a throw-away key pair with the audit key template, read its attributes back (private and public
 * key, as the audit key is checked; `waivers` as for the audit key itself), sign one digest, and destroy it.
 * Never throws for what the token refuses: the answer says what and why. Probe objects a crash left behind
 * are removed first.
 */
export async function probeAuditKeyTemplate(layer: TokenLayer, session: SessionHandle, waivers: AuditKeyWaivers = {}): Promise<AuditTemplateProbe> {
  await leftOver(layer, session);
  const waived = (name: AttributeName) => name === 'CKA_LOCAL' && (waivers.CKA_LOCAL ?? '').trim() !== '';
  const id = await layer.random(session, 16);
  const { publicTemplate, privateTemplate } = auditKeyTemplates(AUDIT_PROBE_LABEL, id);
  let pair: { publicKey: ObjectHandle; privateKey: ObjectHandle };
  try {
    pair = await layer.generateKeyPair(session, AUDIT_KEY_SPEC, publicTemplate, privateTemplate);
  } catch (error) {
    return {
      usable: false,
      stage: 'generate',
      message: `The token refused to generate the audit key pair (ECDSA P-384, sign-only, CKA_ENCRYPT/CKA_DECRYPT false): ${why(error)}.`,
      remedy: 'Use another token for this ceremony (see docs/tokens.md); nothing was created on this one.',
      ...(await leftOver(layer, session)),
    };
  }
  try {
    const attrs = await layer.getAttributes(session, pair.privateKey, AUDIT_KEY_PRIVATE_REQUIREMENTS.map(([n]) => n));
    const wrong = AUDIT_KEY_PRIVATE_REQUIREMENTS.filter(([name, want]) => attrs[name] !== want && !waived(name)).map(([name, want, because]) => `${name} is ${String(attrs[name])}, expected ${want}: ${because}`);
    const pub = await layer.getAttributes(session, pair.publicKey, ['CKA_LOCAL', 'CKA_EC_PARAMS', 'CKA_EC_POINT', 'CKA_ID']);
    const privId = (await layer.getAttributes(session, pair.privateKey, ['CKA_ID'])).CKA_ID;
    if (pub.CKA_LOCAL !== true && !waived('CKA_LOCAL')) wrong.push(`the public key's CKA_LOCAL is ${String(pub.CKA_LOCAL)}, expected true: it must have been generated inside the token`);
    if (!(pub.CKA_EC_PARAMS instanceof Uint8Array) || !Buffer.from(pub.CKA_EC_PARAMS).equals(EC_CURVE_OID['P-384'])) wrong.push('the public key is not on curve P-384 (CKA_EC_PARAMS)');
    if (!(pub.CKA_ID instanceof Uint8Array) || !(privId instanceof Uint8Array) || !Buffer.from(pub.CKA_ID).equals(Buffer.from(privId))) wrong.push('the public and private keys have different CKA_ID values');
    const publicKey = pub.CKA_EC_POINT instanceof Uint8Array ? p384PublicKey(pub.CKA_EC_POINT) : undefined;
    if (!publicKey) wrong.push('the token does not reveal the public key as an uncompressed P-384 point (CKA_EC_POINT)');
    if (wrong.length > 0) {
      return {
        usable: false,
        stage: 'attributes',
        message: `The token accepted the audit key template but the key it made is not acceptable: ${wrong.join('; ')}.`,
        remedy: 'Use another token for this ceremony (see docs/tokens.md); the probe key was destroyed.',
      };
    }
    const digest = createHash('sha384').update(PROBE_MESSAGE).digest();
    let signature: Bytes;
    try {
      signature = await layer.sign(session, { name: 'ECDSA' }, pair.privateKey, digest);
    } catch (error) {
      return { usable: false, stage: 'sign', message: `The token made the audit key pair but cannot sign with it (raw CKM_ECDSA): ${why(error)}.`, remedy: 'Use another token for this ceremony; the probe key was destroyed.' };
    }
    if (signature.length !== 96) {
      return { usable: false, stage: 'sign', message: `The token returned a ${signature.length}-byte ECDSA P-384 signature; r||s is 96 bytes.`, remedy: 'Use another token for this ceremony; the probe key was destroyed.' };
    }
    if (!verify('sha384', PROBE_MESSAGE, { key: publicKey as KeyObject, dsaEncoding: 'ieee-p1363' }, signature)) {
      return { usable: false, stage: 'sign', message: 'The token returned an ECDSA signature that does not verify with the public key it made.', remedy: 'Use another token for this ceremony; the probe key was destroyed.' };
    }
    return { usable: true };
  } finally {
    await layer.destroyObject(session, pair.privateKey).catch(() => undefined);
    await layer.destroyObject(session, pair.publicKey).catch(() => undefined);
  }
}

/** The probe's public key from CKA_EC_POINT (a DER OCTET STRING around the uncompressed point, or the bare point). */
function p384PublicKey(ecPoint: Uint8Array): KeyObject | undefined {
  const point = ecPoint.length === 99 && ecPoint[0] === 0x04 && ecPoint[1] === 0x61 ? ecPoint.subarray(2) : ecPoint;
  if (point.length !== 97 || point[0] !== 0x04) return undefined;
  const b64url = (b: Uint8Array) => Buffer.from(b).toString('base64url');
  try {
    return createPublicKey({ key: { kty: 'EC', crv: 'P-384', x: b64url(point.subarray(1, 49)), y: b64url(point.subarray(49)) }, format: 'jwk' });
  } catch {
    return undefined;
  }
}

/** Probe objects a refused generation may have left (a token that made the public half before failing). */
async function leftOver(layer: TokenLayer, session: SessionHandle): Promise<{ leftOver?: number }> {
  const found = await layer.findAll(session, { label: AUDIT_PROBE_LABEL }).catch(() => []);
  for (const o of found) await layer.destroyObject(session, o).catch(() => undefined);
  const still = (await layer.findAll(session, { label: AUDIT_PROBE_LABEL }).catch(() => [])).length;
  return still > 0 ? { leftOver: still } : {};
}
