// HKDF-SHA-256 and the registry of every label derived from the ceremony secret or a share.
// One place for the labels so that no two derivations can share one by accident: a PIN and an approval
// key derived with the same label would be the same bytes.
import { hkdfSync } from 'node:crypto';
import { wipe } from './wipe.js';

/** HKDF `info` labels. Versioned: a new derivation scheme gets new labels, never reuses these. */
export const LABELS = {
  userPin: 'keyceremony/v1/user-pin',
  soPin: 'keyceremony/v1/so-pin',
  yubihsmAuth: 'keyceremony/v1/yubihsm-auth',
  approvalKey: 'keyceremony/v1/approval-key',
  secretCheck: 'keyceremony/v1/secret-check',
  domainId: 'keyceremony/v1/domain-id',
  backupKey: 'keyceremony/v1/backup-key',
  yubihsmWrapKey: 'keyceremony/v1/yubihsm-wrap-key',
  rsaWrapKeySeed: 'keyceremony/v1/rsa-wrap-key-seed',
} as const;

export type Label = (typeof LABELS)[keyof typeof LABELS];

/**
 * HKDF-SHA-256 (RFC 5869). `salt` is the enrolment ceremony id as UTF-8: it binds everything derived to the
 * ceremony that created the secret, so the same secret (or share) in two ceremonies yields unrelated values.
 */
export function hkdf(ikm: Uint8Array, salt: string, info: Label, length: number): Buffer {
  const ab = hkdfSync('sha256', ikm, Buffer.from(salt, 'utf8'), Buffer.from(info, 'utf8'), length);
  const out = Buffer.from(new Uint8Array(ab));
  // hkdfSync hands back a fresh ArrayBuffer; clear it so only the copy we return holds the bytes.
  wipe(new Uint8Array(ab));
  return out;
}
