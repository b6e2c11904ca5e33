// A security domain is the secret one init-token split among the custodians. Every token that joins the
// domain (init-token or enrol-token with M of its shares) opens with the same share files, and the domain's
// backup key moves key material between them. The domain is named by a public fingerprint of the secret:
// it must be the same on every token, so unlike the PINs it is not salted with a ceremony id.
import type { KeyObject } from 'node:crypto';
import { AppError } from '../../errors.js';
import { deterministicRsaKey } from './deterministic-rsa.js';
import { hkdf, LABELS } from './kdf.js';
import { SECRET_BYTES } from './secret.js';
import { wipe } from './wipe.js';

/** The salt every domain-wide derivation uses: constant, so all tokens of the domain derive the same bytes. */
export const DOMAIN_SALT = 'keyceremony/domain';
/** 16 bytes, as 32 lowercase hex characters. */
export const DOMAIN_ID_PATTERN = /^[0-9a-f]{32}$/;

function checkSecret(secret: Uint8Array): void {
  if (!(secret instanceof Uint8Array) || secret.length !== SECRET_BYTES) {
    throw new AppError('quorum-secret', `secret: expected ${SECRET_BYTES} bytes`, 'Rebuild the ceremony secret from the shares first.');
  }
}

/** The domain id recorded in every enrolment of a token of this domain; reveals nothing of the secret. */
export function domainId(secret: Uint8Array): string {
  checkSecret(secret);
  return hkdf(secret, DOMAIN_SALT, LABELS.domainId, 16).toString('hex');
}

/**
 * The domain's AES-256 backup key. The caller imports it into the token as a session object for one quorum
 * step only and wipes this copy at once.
 */
export function domainBackupKey(secret: Uint8Array): Buffer {
  checkSecret(secret);
  return hkdf(secret, DOMAIN_SALT, LABELS.backupKey, 32);
}

/** The AES-256 wrap key a YubiHSM 2 of the domain holds (PUT WRAP KEY) while it exports or imports wrapped. */
export function domainYubihsmWrapKey(secret: Uint8Array): Buffer {
  checkSecret(secret);
  return hkdf(secret, DOMAIN_SALT, LABELS.yubihsmWrapKey, 32);
}

/** Modulus size of the domain RSA wrap key: what a YubiHSM 2 holds as an RSA wrap key (2048, 3072 or 4096). */
export const DOMAIN_RSA_WRAP_KEY_BITS = 3072;

/**
 * The domain's RSA wrap key pair, the same on every host that rebuilds the secret. A PKCS#11 token wraps a
 * backup under its public half with CKM_RSA_AES_KEY_WRAP, and a YubiHSM 2 of the domain holds the private
 * half as an RSA wrap key (for one quorum step) to import it: the one wrapping both sides do inside the
 * device. The caller keeps the private KeyObject only as long as that step.
 */
export function domainRsaWrapKey(secret: Uint8Array): KeyObject {
  checkSecret(secret);
  const seed = hkdf(secret, DOMAIN_SALT, LABELS.rsaWrapKeySeed, 32);
  try {
    return deterministicRsaKey(seed, DOMAIN_RSA_WRAP_KEY_BITS, LABELS.rsaWrapKeySeed);
  } finally {
    wipe(seed);
  }
}
