// A share encoded for people: base32 in groups of five, each group ending in a check character, so that a
// custodian typing a share from a sheet learns which group is wrong before anything is combined.
//
// Binary payload (45 bytes):
//   0      version (1)
//   1..8   ceremony binding: the first 8 bytes of SHA-256(UTF-8 ceremonyId) of the init-token ceremony
//   9      custodian index (1..255, position in the enrolment list)
//   10     threshold M (2..255)
//   11..43 the 33-byte Shamir share (32 bytes, then its x-coordinate)
//   44     first byte of SHA-256(bytes 0..43): a whole-code check behind the per-group checks
// 45 bytes = 360 bits = exactly 72 base32 characters (no padding, no spare bits), cut into 18 runs of 4.
// Each run gets a fifth character, its check character, so the code is 18 groups of 5 = 90 characters.
//
// The check character is Damm's scheme over GF(32) (x^5 + x^2 + 1): start from the group number g (1..18),
// fold each character d with c <- 2*c XOR d, and choose the check so the fold of all five ends at 0.
// A change of one character d -> d' changes the fold by 2^k (d XOR d') != 0; swapping neighbours x, y changes
// it by 2^k * 3 * (x XOR y) != 0 when x != y. So every single substitution and every adjacent transposition
// inside a group is caught, and one across a group boundary changes one character of each group, so both
// groups fail. Starting from g means a group typed in the wrong place fails too.
import { createHash } from 'node:crypto';
import { AppError } from '../../errors.js';
import { BASE32_ALPHABET, base32DecodeValues, base32Encode, base32Value } from './base32.js';
import { SHARE_BYTES, shareX } from './secret.js';
import { wipe } from './wipe.js';

export const SHARE_CODE_VERSION = 1;
export const PAYLOAD_BYTES = 45;
export const GROUP_COUNT = 18;
export const GROUP_LENGTH = 5;
export const CODE_LENGTH = GROUP_COUNT * GROUP_LENGTH; // 90
const DATA_PER_GROUP = GROUP_LENGTH - 1;

export interface ShareCodeFields {
  /** The init-token ceremony that created the share. */
  ceremonyId: string;
  index: number;
  threshold: number;
  /** 33 bytes. */
  share: Uint8Array;
}

export interface DecodedShare {
  version: number;
  /** The 8-byte ceremony binding, hex. */
  binding: string;
  index: number;
  threshold: number;
  /** 33 bytes, a fresh copy the caller owns and must wipe. */
  share: Uint8Array;
}

/** A share code or payload that does not decode. `groups` lists the 1-based groups that look wrong, if known. */
export class ShareCodeError extends AppError {
  readonly groups: number[];
  constructor(code: string, message: string, remedy: string, groups: number[] = []) {
    super(code, message, remedy);
    this.name = 'ShareCodeError';
    this.groups = groups;
  }
}

const RETYPE = 'Type the share again from the share sheet, group by group.';

/** The 8 bytes that tie a share to its ceremony. */
export function ceremonyBinding(ceremonyId: string): Buffer {
  return createHash('sha256').update(ceremonyId, 'utf8').digest().subarray(0, 8);
}

const gfDouble = (v: number): number => ((v << 1) ^ (v & 16 ? 0x25 : 0)) & 31;

function groupFold(group: number, values: readonly number[]): number {
  let c = group & 31;
  for (const d of values) c = gfDouble(c) ^ d;
  return c;
}

/** The check character value for the 4 data values of group `group` (1-based). */
export function groupCheck(group: number, data: readonly number[]): number {
  return gfDouble(groupFold(group, data));
}

function checkByte(body: Uint8Array): number {
  return createHash('sha256').update(body).digest()[0] as number;
}

/** The 45-byte payload for a share. */
export function encodeSharePayload(fields: ShareCodeFields): Uint8Array {
  const { ceremonyId, index, threshold, share } = fields;
  if (!(share instanceof Uint8Array) || share.length !== SHARE_BYTES || shareX(share) === 0) {
    throw new AppError('share-code-input', `share: expected a ${SHARE_BYTES}-byte Shamir share`, 'Pass a share from splitSecret().');
  }
  if (!Number.isInteger(index) || index < 1 || index > 255) throw new AppError('share-code-input', `index: ${index} must be 1..255`, 'Pass the custodian position.');
  if (!Number.isInteger(threshold) || threshold < 2 || threshold > 255) {
    throw new AppError('share-code-input', `threshold: ${threshold} must be 2..255`, 'Pass the enrolled threshold.');
  }
  const p = new Uint8Array(PAYLOAD_BYTES);
  p[0] = SHARE_CODE_VERSION;
  p.set(ceremonyBinding(ceremonyId), 1);
  p[9] = index;
  p[10] = threshold;
  p.set(share, 11);
  p[44] = checkByte(p.subarray(0, 44));
  return p;
}

/** The grouped share code: 18 groups of 5 characters separated by '-'. */
export function encodeShareCode(fields: ShareCodeFields): string {
  const payload = encodeSharePayload(fields);
  const data = base32Encode(payload);
  wipe(payload);
  const groups: string[] = [];
  for (let g = 0; g < GROUP_COUNT; g++) {
    const chunk = data.slice(g * DATA_PER_GROUP, (g + 1) * DATA_PER_GROUP);
    const values = [...chunk].map((c) => base32Value(c) as number);
    groups.push(chunk + BASE32_ALPHABET[groupCheck(g + 1, values)]);
  }
  return groups.join('-');
}

/**
 * Read a share code as typed. Forgiving where nothing can be misread: case, spaces and dashes anywhere
 * (only the 90 characters count), and the digit 0 for the letter O (base32 has no 0). Strict otherwise:
 * 1 could be I or L, so it is refused with a question; any other foreign character is refused with its group.
 * Error messages never repeat the characters typed, except a single character that is not part of the
 * alphabet, so they may be shown and recorded.
 */
export function decodeShareCode(code: string, expected?: { ceremonyId: string }): DecodedShare {
  if (typeof code !== 'string' || code.trim() === '') {
    throw new ShareCodeError('share-code-empty', 'share code: nothing was entered', RETYPE);
  }
  const segments = code.trim().split(/[\s-]+/).filter((s) => s !== '');
  const joined = segments.join('');
  const positional = joined.length === CODE_LENGTH || segments.length === 1;
  // The group a character belongs to, as the custodian sees it: by separators if they typed some and the
  // total is off, otherwise by position.
  const groupOf = (segment: number, flat: number) => (positional ? Math.floor(flat / GROUP_LENGTH) + 1 : segment + 1);
  const values: number[] = [];
  let flat = 0;
  for (let s = 0; s < segments.length; s++) {
    const seg = segments[s] as string;
    for (let o = 0; o < seg.length; o++, flat++) {
      const raw = seg[o] as string;
      let c = raw.toUpperCase();
      if (c === '0') c = 'O';
      const v = base32Value(c);
      if (v === undefined) {
        const g = groupOf(s, flat);
        const where = `share code group ${g}, character ${positional ? (flat % GROUP_LENGTH) + 1 : o + 1}`;
        if (raw === '1') {
          throw new ShareCodeError('share-code-character', `${where}: '1' is not used in share codes; it is either the letter I or the letter L`, 'Look at the share sheet and type I or L.', [g]);
        }
        const shown = /^[\x21-\x7e]$/.test(raw) ? `'${raw}'` : `U+${raw.codePointAt(0)?.toString(16).toUpperCase().padStart(4, '0')}`;
        throw new ShareCodeError('share-code-character', `${where}: ${shown} is not used in share codes (only A-Z and 2-7)`, RETYPE, [g]);
      }
      values.push(v);
    }
  }
  if (values.length !== CODE_LENGTH) {
    if (!positional) {
      const bad = segments.findIndex((seg) => seg.length !== GROUP_LENGTH);
      if (bad >= 0) {
        const len = (segments[bad] as string).length;
        throw new ShareCodeError(
          'share-code-length',
          `share code group ${bad + 1}: ${len} character${len === 1 ? '' : 's'}; every group has ${GROUP_LENGTH}`,
          RETYPE,
          [bad + 1],
        );
      }
    }
    throw new ShareCodeError(
      'share-code-length',
      `share code: ${values.length} characters; a share code has ${CODE_LENGTH} (${GROUP_COUNT} groups of ${GROUP_LENGTH})`,
      values.length < CODE_LENGTH ? 'A group is missing or incomplete: compare the groups with the share sheet.' : RETYPE,
    );
  }
  const failing: number[] = [];
  const data: number[] = [];
  for (let g = 0; g < GROUP_COUNT; g++) {
    const group = values.slice(g * GROUP_LENGTH, (g + 1) * GROUP_LENGTH);
    if (groupFold(g + 1, group) !== 0) failing.push(g + 1);
    data.push(...group.slice(0, DATA_PER_GROUP));
  }
  if (failing.length > 0) {
    const list = failing.length === 1 ? `group ${failing[0]} looks` : `groups ${failing.slice(0, -1).join(', ')} and ${failing[failing.length - 1]} look`;
    throw new ShareCodeError(
      'share-code-checksum',
      `share code: ${list} mistyped (the check character does not match)`,
      `Compare ${failing.length === 1 ? 'that group' : 'those groups'} with the share sheet character by character.`,
      failing,
    );
  }
  const payload = base32DecodeValues(data);
  values.fill(0);
  data.fill(0);
  if (!payload || payload.length !== PAYLOAD_BYTES) {
    throw new ShareCodeError('share-code-checksum', 'share code: not a share code', RETYPE);
  }
  try {
    return decodeSharePayload(payload, expected);
  } finally {
    wipe(payload);
  }
}

/** Check and unpack a 45-byte payload (from a share code or a share file). */
export function decodeSharePayload(payload: Uint8Array, expected?: { ceremonyId: string }): DecodedShare {
  if (payload.length !== PAYLOAD_BYTES) {
    throw new ShareCodeError('share-code-payload', `share: expected ${PAYLOAD_BYTES} bytes, got ${payload.length}`, RETYPE);
  }
  if (checkByte(payload.subarray(0, 44)) !== payload[44]) {
    throw new ShareCodeError(
      'share-code-checksum',
      'share code: every group checks but the code as a whole does not; two mistakes in one group can do this',
      RETYPE,
    );
  }
  const version = payload[0] as number;
  if (version !== SHARE_CODE_VERSION) {
    throw new ShareCodeError('share-code-version', `share code: version ${version} is not supported (this app reads version ${SHARE_CODE_VERSION})`, 'Use the version of the app that made the share.');
  }
  const index = payload[9] as number;
  const threshold = payload[10] as number;
  const share = Uint8Array.from(payload.subarray(11, 44));
  if (index < 1 || threshold < 2 || shareX(share) === 0) {
    wipe(share);
    throw new ShareCodeError('share-code-payload', 'share code: the share inside is malformed', RETYPE);
  }
  const binding = Buffer.from(payload.subarray(1, 9)).toString('hex');
  if (expected) {
    const want = ceremonyBinding(expected.ceremonyId).toString('hex');
    if (binding !== want) {
      wipe(share);
      throw new ShareCodeError(
        'share-other-ceremony',
        `share: this share belongs to another ceremony (its ceremony fingerprint is ${binding}; ceremony ${expected.ceremonyId} has ${want})`,
        'Each custodian must present the share made for this token; look for the sheet or file with this ceremony id.',
      );
    }
  }
  return { version, binding, index, threshold, share };
}
