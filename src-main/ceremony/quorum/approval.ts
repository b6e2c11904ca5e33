// A custodian's approval: an Ed25519 signature, with a key derived from their share, over the exact
// transcript state a quorum step is about to act on. The public key is enrolled in the transcript at
// init-token, so the verifier needs nothing from us to check who approved what.
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import canonicalize from 'canonicalize';
import { AppError } from '../../errors.js';
import { CEREMONY_ID_PATTERN, CEREMONY_ID_RULE } from '../ids.js';
import { CUSTODIAN_NAME_PATTERN } from './custodians.js';
import { hkdf, LABELS } from './kdf.js';
import { SHARE_BYTES } from './secret.js';
import { wipe } from './wipe.js';

/** PKCS#8 DER prefix of an Ed25519 private key (RFC 8410); the 32-byte seed follows. */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
/** SPKI DER prefix of an Ed25519 public key; the 32 raw bytes follow. */
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
export const HEAD_HASH_PATTERN = /^[0-9a-f]{64}$/;
export const APPROVAL_ALGORITHM = 'Ed25519';

export interface ApprovalKey {
  /** Node holds the seed inside OpenSSL; it cannot be zeroed from JS. Drop the reference after signing. */
  privateKey: KeyObject;
  /** The 32-byte raw public key, base64: what the transcript enrols. */
  publicKey: string;
}

/** What an approval says: this custodian approves this step of this ceremony at this transcript head. */
export interface ApprovalFields {
  /** The ceremony being run now (for a later ceremony, its own id, not the init-token id). */
  ceremonyId: string;
  step: string;
  /** The transcript head hash (64 lowercase hex) at the moment of approval. */
  headHash: string;
  custodian: string;
}

export interface Approval extends ApprovalFields {
  type: 'approval';
  /** base64 of the 64-byte Ed25519 signature over approvalMessage(). */
  signature: string;
}

/**
 * Derive a custodian's approval key from their share: HKDF-SHA-256(ikm = the 33-byte share,
 * salt = the init-token ceremony id, info = "keyceremony/v1/approval-key") gives the 32-byte Ed25519 seed.
 * Deterministic, so presenting the same share again gives the same enrolled key; a different share (or the
 * same share bound to another ceremony) gives an unrelated key.
 */
export function deriveApprovalKey(share: Uint8Array, enrolmentCeremonyId: string): ApprovalKey {
  if (!(share instanceof Uint8Array) || share.length !== SHARE_BYTES) {
    throw new AppError('approval-share', `share: expected ${SHARE_BYTES} bytes`, 'Decode the share from its share code or share file first.');
  }
  const seed = hkdf(share, enrolmentCeremonyId, LABELS.approvalKey, 32);
  const der = Buffer.concat([PKCS8_ED25519_PREFIX, seed]);
  try {
    const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
    return { privateKey, publicKey: spki.subarray(SPKI_ED25519_PREFIX.length).toString('base64') };
  } finally {
    wipe(seed, der);
  }
}

function rawPublicKey(publicKey: string | Uint8Array): Buffer {
  const raw = typeof publicKey === 'string' ? Buffer.from(publicKey, 'base64') : Buffer.from(publicKey);
  if (raw.length !== 32 || (typeof publicKey === 'string' && raw.toString('base64') !== publicKey)) {
    throw new AppError('approval-public-key', 'publicKey: expected the base64 of a 32-byte Ed25519 public key', 'Use the key enrolled in the transcript.');
  }
  return raw;
}

/** An Ed25519 public key object from its raw 32 bytes (or their base64). */
export function approvalPublicKey(publicKey: string | Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, rawPublicKey(publicKey)]), format: 'der', type: 'spki' });
}

/** The SPKI PEM of an enrolled key, for `openssl pkeyutl -verify -pubin -inkey`. */
export function approvalPublicKeyPem(publicKey: string | Uint8Array): string {
  return approvalPublicKey(publicKey).export({ format: 'pem', type: 'spki' }).toString();
}

/** The field that is wrong in an approval's signed fields, or undefined. */
export function approvalFieldsProblem(f: ApprovalFields): string | undefined {
  if (typeof f.ceremonyId !== 'string' || !CEREMONY_ID_PATTERN.test(f.ceremonyId)) return `ceremonyId: must be ${CEREMONY_ID_RULE}`;
  if (typeof f.step !== 'string' || !CEREMONY_ID_PATTERN.test(f.step)) return `step: must be ${CEREMONY_ID_RULE}`;
  if (typeof f.headHash !== 'string' || !HEAD_HASH_PATTERN.test(f.headHash)) return 'headHash: must be 64 lowercase hexadecimal digits (a SHA-256)';
  if (typeof f.custodian !== 'string' || !CUSTODIAN_NAME_PATTERN.test(f.custodian)) return 'custodian: must be an enrolled custodian name';
  return undefined;
}

/** The exact bytes signed: the JCS (RFC 8785) canonical JSON of {type, ceremonyId, step, headHash, custodian}. */
export function approvalMessage(f: ApprovalFields): Buffer {
  const problem = approvalFieldsProblem(f);
  if (problem) throw new AppError('approval-invalid', `approval ${problem}`, 'This is a bug in the caller: pass the ceremony state as recorded.');
  const text = canonicalize({ type: 'approval', ceremonyId: f.ceremonyId, step: f.step, headHash: f.headHash, custodian: f.custodian });
  return Buffer.from(text as string, 'utf8');
}

export function signApproval(key: ApprovalKey, f: ApprovalFields): Approval {
  const signature = sign(null, approvalMessage(f), key.privateKey).toString('base64');
  return { type: 'approval', ceremonyId: f.ceremonyId, step: f.step, headHash: f.headHash, custodian: f.custodian, signature };
}

/** True when `approval` is well-formed and its signature verifies with `publicKey` (raw, base64 or bytes). */
export function verifyApproval(approval: Approval, publicKey: string | Uint8Array): boolean {
  if (approval === null || typeof approval !== 'object' || approval.type !== 'approval') return false;
  if (approvalFieldsProblem(approval) !== undefined) return false;
  if (typeof approval.signature !== 'string') return false;
  const sig = Buffer.from(approval.signature, 'base64');
  if (sig.length !== 64 || sig.toString('base64') !== approval.signature) return false;
  try {
    return verify(null, approvalMessage(approval), approvalPublicKey(publicKey), sig);
  } catch {
    return false;
  }
}
