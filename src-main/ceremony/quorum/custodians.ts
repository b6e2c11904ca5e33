// Custodian names and the M-of-N threshold: the rules every other quorum module relies on.
import { AppError } from '../../errors.js';

/**
 * A custodian name: it becomes a file name on the custodian's USB stick (`<name>.share`) and a transcript
 * actor, so it is restricted to characters that are safe in both, starting with a letter or digit.
 */
export const CUSTODIAN_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const MAX_CUSTODIANS = 255; // GF(256) Shamir: x-coordinates 1..255

export function custodianNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'must be a non-empty name';
  if (!CUSTODIAN_NAME_PATTERN.test(name)) {
    return 'must be 1-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit';
  }
  return undefined;
}

/**
 * Check a list of custodian names and a threshold: 1 < M <= N <= 255, names valid and unique.
 * Uniqueness ignores case: share files named alice.share and Alice.share collide on a FAT-formatted stick.
 */
export function checkQuorumShape(custodians: readonly string[], threshold: number): void {
  const remedy = 'Name at least two custodians and choose a threshold from 2 up to the number of custodians.';
  if (!Array.isArray(custodians)) throw new AppError('quorum-custodians', 'custodians: expected a list of names', remedy);
  custodians.forEach((name, i) => {
    const problem = custodianNameProblem(name);
    if (problem) throw new AppError('quorum-custodians', `custodians[${i}]: ${problem}`, 'Use short names such as alice or bob-smith.');
  });
  const seen = new Map<string, number>();
  custodians.forEach((name, i) => {
    const key = name.toLowerCase();
    const first = seen.get(key);
    if (first !== undefined) {
      throw new AppError(
        'quorum-custodians',
        `custodians[${i}]: '${name}' is already custodians[${first}] ('${custodians[first]}'); names must be unique (ignoring case)`,
        'Give every custodian a distinct name.',
      );
    }
    seen.set(key, i);
  });
  const n = custodians.length;
  if (n < 2 || n > MAX_CUSTODIANS) {
    throw new AppError('quorum-custodians', `custodians: ${n} named; a quorum needs from 2 to ${MAX_CUSTODIANS} custodians`, remedy);
  }
  if (!Number.isInteger(threshold) || threshold < 2 || threshold > n) {
    throw new AppError(
      'quorum-threshold',
      `threshold: ${String(threshold)} is not allowed with ${n} custodians; it must be an integer from 2 to ${n}`,
      remedy,
    );
  }
}
