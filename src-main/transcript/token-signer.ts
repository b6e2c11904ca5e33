// The audit key inside the token: ECDSA P-384, generated there, sign only, sensitive, never extractable.
// Signing hashes with SHA-384 on the host (a public computation) and has the token sign the digest with raw
// CKM_ECDSA; the r||s result is converted to DER and checked with node:crypto before it is used.
import { createHash } from 'node:crypto';
import { AUDIT_KEY_PRIVATE_REQUIREMENTS, AUDIT_KEY_SPEC, auditKeyTemplates, type AuditKeyWaivers } from '../../hsm/pkcs11/audit-key-probe.js';

export type { AuditKeyWaivers } from '../../hsm/pkcs11/audit-key-probe.js';
import type { TokenLayer } from '../../hsm/token.js';
import type { AttributeName, AttributeValue, ObjectHandle, SessionHandle } from '../../hsm/types.js';
import { TranscriptError, TranscriptErrorCodes } from './errors.js';
import { P384_EC_PARAMS, p384SpkiFromEcPoint, rawToDer } from './ecdsa.js';
import { sameBytes } from './public-key.js';
import { verifyAuditSignature, type AuditSigner } from './signer.js';

export const AUDIT_KEY_LABEL = 'keyceremony-audit';

/** What the private audit key's attributes must be, re-read from the token after generation and on every open. */
const PRIVATE_REQUIREMENTS = AUDIT_KEY_PRIVATE_REQUIREMENTS;

function refuse(message: string, remedy: string): never {
  throw new TranscriptError(TranscriptErrorCodes.AUDIT_KEY_REFUSED, message, remedy);
}

export class TokenAuditSigner implements AuditSigner {
  private constructor(
    private readonly layer: TokenLayer,
    private readonly session: SessionHandle,
    readonly privateKey: ObjectHandle,
    private readonly spki: Uint8Array,
  ) {}

  /**
   * Generate the audit key pair in the token (logged-in read-write session), then re-read and check its
   * attributes; a key that fails a check is destroyed and refused.
   */
  static async generate(layer: TokenLayer, session: SessionHandle, waivers: AuditKeyWaivers = {}): Promise<TokenAuditSigner> {
    const existing = await layer.findAll(session, { label: AUDIT_KEY_LABEL });
    if (existing.length > 0)
      refuse(`The token already holds ${existing.length} object(s) labelled '${AUDIT_KEY_LABEL}'; a token has one audit key for its lifetime.`, 'Open the existing audit key instead of generating another.');
    return TokenAuditSigner.generateLabelled(layer, session, AUDIT_KEY_LABEL, waivers);
  }

  private static async generateLabelled(layer: TokenLayer, session: SessionHandle, label: string, waivers: AuditKeyWaivers): Promise<TokenAuditSigner> {
    const id = await layer.random(session, 16);
    // One template for the key and for probeAuditKeyTemplate, which asks a token about it beforehand.
    const { publicTemplate, privateTemplate } = auditKeyTemplates(label, id);
    const { publicKey, privateKey } = await layer.generateKeyPair(session, AUDIT_KEY_SPEC, publicTemplate, privateTemplate);
    try {
      return await TokenAuditSigner.check(layer, session, publicKey, privateKey, waivers);
    } catch (error) {
      await layer.destroyObject(session, privateKey).catch(() => undefined);
      await layer.destroyObject(session, publicKey).catch(() => undefined);
      throw error;
    }
  }

  /** Open the token's existing audit key (exactly one key pair labelled keyceremony-audit) and check it. */
  static async open(layer: TokenLayer, session: SessionHandle, waivers: AuditKeyWaivers = {}): Promise<TokenAuditSigner> {
    const privateKey = await layer.findOne(session, { class: 'PRIVATE_KEY', label: AUDIT_KEY_LABEL });
    const publicKey = await layer.findOne(session, { class: 'PUBLIC_KEY', label: AUDIT_KEY_LABEL });
    return TokenAuditSigner.check(layer, session, publicKey, privateKey, waivers);
  }

  private static async check(layer: TokenLayer, session: SessionHandle, publicKey: ObjectHandle, privateKey: ObjectHandle, waivers: AuditKeyWaivers): Promise<TokenAuditSigner> {
    const attrs: Record<AttributeName, AttributeValue> = await layer.getAttributes(session, privateKey, PRIVATE_REQUIREMENTS.map(([n]) => n));
    if (waivers.CKA_LOCAL !== undefined && waivers.CKA_LOCAL.trim() === '') refuse('waivers.CKA_LOCAL needs a reason.', 'Say why this token does not report CKA_LOCAL.');
    const waived = (name: AttributeName) => name === 'CKA_LOCAL' && waivers.CKA_LOCAL !== undefined;
    const wrong = PRIVATE_REQUIREMENTS.filter(([name, want]) => attrs[name] !== want && !waived(name)).map(([name, want, why]) => `${name} is ${String(attrs[name])}, expected ${want}: ${why}`);
    if (wrong.length > 0) refuse(`The audit key in the token is not acceptable: ${wrong.join('; ')}.`, 'Use a token that keeps generated keys sensitive and non-extractable; the key was not used.');
    const pub = await layer.getAttributes(session, publicKey, ['CKA_EC_PARAMS', 'CKA_EC_POINT', 'CKA_ID', 'CKA_LOCAL']);
    const privId = (await layer.getAttributes(session, privateKey, ['CKA_ID'])).CKA_ID;
    if (!(pub.CKA_EC_PARAMS instanceof Uint8Array) || !sameBytes(pub.CKA_EC_PARAMS, P384_EC_PARAMS)) refuse('The audit public key in the token is not on curve P-384.', 'Generate the audit key again on this token.');
    if (!(pub.CKA_ID instanceof Uint8Array) || !(privId instanceof Uint8Array) || !sameBytes(pub.CKA_ID, privId)) refuse('The audit public and private keys in the token have different CKA_ID values.', 'Remove the stray key objects labelled keyceremony-audit.');
    if (pub.CKA_LOCAL !== true && !waived('CKA_LOCAL')) refuse('The audit public key in the token is not marked CKA_LOCAL (generated in the token).', 'Generate the audit key on this token.');
    if (!(pub.CKA_EC_POINT instanceof Uint8Array)) refuse('The token did not reveal the audit public key (CKA_EC_POINT).', 'Check the token.');
    let spki: Uint8Array;
    try {
      spki = p384SpkiFromEcPoint(pub.CKA_EC_POINT);
    } catch (error) {
      refuse(`The audit public key in the token is unusable: ${(error as Error).message}.`, 'Check the token.');
    }
    const signer = new TokenAuditSigner(layer, session, privateKey, spki);
    // Prove the pair belongs together before anything relies on it.
    await signer.sign(Buffer.from('keyceremony audit key self-test'));
    return signer;
  }

  spkiDer(): Uint8Array {
    return this.spki;
  }

  async sign(data: Uint8Array): Promise<Uint8Array> {
    const digest = createHash('sha384').update(data).digest();
    const raw = await this.layer.sign(this.session, { name: 'ECDSA' }, this.privateKey, digest);
    if (raw.length !== 96) refuse(`The token returned a ${raw.length}-byte ECDSA signature; P-384 gives 96 bytes (r||s).`, 'Check the token.');
    const der = rawToDer(raw);
    if (!verifyAuditSignature(this.spki, data, der)) refuse('The token returned an ECDSA signature that does not verify with the audit public key.', 'Check the token; nothing was signed.');
    return der;
  }
}
