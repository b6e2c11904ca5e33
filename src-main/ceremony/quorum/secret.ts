// The ceremony secret S: generated once per init-token ceremony, split M-of-N among the custodians with
// the audited `shamir-secret-sharing` library, and rebuilt from M shares whenever the token must be
// unlocked. Nothing here persists S; callers wipe it (see wipe.ts) as soon as the PINs are derived.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { combine, split } from 'shamir-secret-sharing';
import { AppError } from '../../errors.js';
import { checkQuorumShape } from './custodians.js';
import { hkdf, LABELS } from './kdf.js';
import { wipe } from './wipe.js';

export const SECRET_BYTES = 32;
/** A share of a 32-byte secret: 32 bytes of polynomial values and, last, its x-coordinate (1..255). */
export const SHARE_BYTES = SECRET_BYTES + 1;

export interface CustodianShare {
  custodian: string;
  /** 1-based position of the custodian in the enrolment list (not the Shamir x-coordinate, which is random). */
  index: number;
  /** 33 bytes. Secret: wipe after use. */
  share: Uint8Array;
}

export function generateCeremonySecret(): Uint8Array {
  return new Uint8Array(randomBytes(SECRET_BYTES));
}

/** The Shamir x-coordinate of a share: its last byte. Two shares with the same x are the same share. */
export function shareX(share: Uint8Array): number {
  return share[share.length - 1] ?? 0;
}

/** Split S among the named custodians so that any `threshold` of them rebuild it. */
export async function splitSecret(secret: Uint8Array, custodians: readonly string[], threshold: number): Promise<CustodianShare[]> {
  checkSecret(secret);
  checkQuorumShape(custodians, threshold);
  const shares = await split(secret, custodians.length, threshold);
  return shares.map((share, i) => ({ custodian: custodians[i] as string, index: i + 1, share }));
}

/**
 * Rebuild S from at least `threshold` shares. Refuses fewer than the threshold and the same share twice,
 * because the library would silently return a wrong secret for too few shares (any t-1 shares interpolate
 * to some value) and throw a bare Error for duplicates. It cannot tell a wrong share from a right one:
 * a damaged share yields a wrong S. Check each share first (share codes carry checksums; each share's
 * approval key must match its enrolled public key) and compare the result with `secretCheck`.
 */
export async function combineShares(shares: readonly Uint8Array[], threshold: number): Promise<Uint8Array> {
  if (!Number.isInteger(threshold) || threshold < 2) {
    throw new AppError('quorum-threshold', `threshold: ${String(threshold)} must be an integer of at least 2`, 'Pass the enrolled threshold.');
  }
  shares.forEach((s, i) => {
    if (!(s instanceof Uint8Array) || s.length !== SHARE_BYTES || shareX(s) === 0) {
      throw new AppError('quorum-share', `shares[${i}]: not a ${SHARE_BYTES}-byte share`, 'Decode the share from its share code or share file first.');
    }
  });
  const byX = new Map<number, number>();
  shares.forEach((s, i) => {
    const first = byX.get(shareX(s));
    if (first !== undefined) {
      throw new AppError('quorum-duplicate-share', `shares[${i}] is the same share as shares[${first}]`, 'Each custodian presents their own share once; ask another custodian.');
    }
    byX.set(shareX(s), i);
  });
  if (shares.length < threshold) {
    throw new AppError(
      'quorum-too-few',
      `${shares.length} share${shares.length === 1 ? '' : 's'} given; ${threshold} are needed to rebuild the ceremony secret`,
      `Ask ${threshold - shares.length} more custodian${threshold - shares.length === 1 ? '' : 's'} to present their share.`,
    );
  }
  // Copies: the library reads only, but we hand it arrays we own so that callers' buffers stay theirs.
  const copies = shares.map((s) => Uint8Array.from(s));
  try {
    return await combine(copies);
  } finally {
    wipe(...copies);
  }
}

/**
 * A public check value of S for the transcript: HKDF(S, ceremonyId, "keyceremony/v1/secret-check"), 32 bytes
 * hex. S is 256 random bits, so the check reveals nothing usable about it, yet lets the room (and the
 * verifier) see that a rebuilt S is the S the token was initialized from.
 */
export function secretCheck(secret: Uint8Array, ceremonyId: string): string {
  checkSecret(secret);
  const check = hkdf(secret, ceremonyId, LABELS.secretCheck, 32);
  try {
    return check.toString('hex');
  } finally {
    wipe(check);
  }
}

export function secretMatchesCheck(secret: Uint8Array, ceremonyId: string, check: string): boolean {
  const actual = Buffer.from(secretCheck(secret, ceremonyId), 'hex');
  const expected = Buffer.from(check, 'hex');
  return expected.length === actual.length && timingSafeEqual(actual, expected);
}

/** Every k-element subset of 0..n-1, in lexicographic order. */
export function* subsets(n: number, k: number): Generator<number[]> {
  if (k < 0 || k > n) return;
  const idx = Array.from({ length: k }, (_, i) => i);
  for (;;) {
    yield idx.slice();
    let i = k - 1;
    while (i >= 0 && idx[i] === n - k + i) i--;
    if (i < 0) return;
    idx[i] = (idx[i] as number) + 1;
    for (let j = i + 1; j < k; j++) idx[j] = (idx[j - 1] as number) + 1;
  }
}

export function binomial(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return Math.round(r);
}

/** Above this many subsets the proof would take too long in the room; refuse rather than hang. */
export const MAX_SUBSET_PROOFS = 5000;

export interface SubsetProof {
  /** Custodian names of each M-subset, in order, and whether it rebuilt S. */
  subsets: { custodians: string[]; ok: boolean }[];
  allOk: boolean;
}

/**
 * Prove that every M-subset of the shares rebuilds S, without revealing S: each rebuilt secret is compared
 * with the public `check` (see secretCheck) and wiped at once. The result names custodians only.
 */
export async function proveSubsets(shares: readonly CustodianShare[], threshold: number, ceremonyId: string, check: string): Promise<SubsetProof> {
  const count = binomial(shares.length, threshold);
  if (count > MAX_SUBSET_PROOFS) {
    throw new AppError(
      'quorum-too-many-subsets',
      `${shares.length} custodians with threshold ${threshold} have ${count} subsets; at most ${MAX_SUBSET_PROOFS} can be proved`,
      'Skip the exhaustive proof for this quorum size, or prove a sample of subsets.',
    );
  }
  const result: SubsetProof = { subsets: [], allOk: true };
  for (const pick of subsets(shares.length, threshold)) {
    const chosen = pick.map((i) => shares[i] as CustodianShare);
    const s = await combineShares(chosen.map((c) => c.share), threshold);
    const ok = secretMatchesCheck(s, ceremonyId, check);
    wipe(s);
    result.subsets.push({ custodians: chosen.map((c) => c.custodian), ok });
    if (!ok) result.allOk = false;
  }
  return result;
}

function checkSecret(secret: Uint8Array): void {
  if (!(secret instanceof Uint8Array) || secret.length !== SECRET_BYTES) {
    throw new AppError('quorum-secret', `secret: expected ${SECRET_BYTES} bytes`, 'Generate it with generateCeremonySecret().');
  }
}
