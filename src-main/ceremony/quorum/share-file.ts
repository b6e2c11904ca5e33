// The share file a custodian carries on their own USB stick: the share payload (see share-code.ts)
// encrypted under a passphrase the custodian chooses. scrypt turns the passphrase into an AES-256-GCM key;
// the header (everything but the ciphertext) is the GCM additional data, so a header edited to claim another
// custodian or ceremony fails to decrypt instead of being believed.
//
// This module only turns shares into bytes and back; writing the file (O_EXCL, fsync, read-back) is the
// export code's job.
import { createCipheriv, createDecipheriv, randomBytes, scrypt as scryptCb, type ScryptOptions } from 'node:crypto';
import canonicalize from 'canonicalize';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import { CEREMONY_ID_PATTERN, CEREMONY_ID_RULE } from '../ids.js';
import { CUSTODIAN_NAME_PATTERN } from './custodians.js';
import { decodeShareCode, decodeSharePayload, encodeShareCode, encodeSharePayload, PAYLOAD_BYTES, type DecodedShare } from './share-code.js';
import { wipe } from './wipe.js';

export const SHARE_FILE_FORMAT = 'keyceremony-share';
export const SHARE_FILE_VERSION = 1;
export const SHARE_FILE_EXTENSION = '.share';
/** Default scrypt cost: N=2^17, r=8, p=1 (128 MiB, about half a second on a laptop). */
export const DEFAULT_SCRYPT = { N: 2 ** 17, r: 8, p: 1 } as const;
/** Passphrases shorter than this are refused when a share file is written. */
export const MIN_PASSPHRASE_LENGTH = 12;
const SALT_BYTES = 16;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
/** Cost limits accepted from a file, so a crafted file cannot make us allocate gigabytes. */
const MIN_LOG_N = 10;
const MAX_LOG_N = 20;
const MAX_SCRYPT_MEMORY = 2 ** 30;

export const PLAIN_WARNING =
  'THIS SHARE FILE IS NOT ENCRYPTED. Anyone who reads it holds this custodian\'s share. It was written with insecurePlain for a rehearsal or a test; never use one for a real token.';

export interface ScryptCost {
  N: number;
  r: number;
  p: number;
}

export interface ShareFileHeader {
  format: typeof SHARE_FILE_FORMAT;
  version: typeof SHARE_FILE_VERSION;
  ceremonyId: string;
  custodian: string;
  index: number;
  threshold: number;
}

export interface EncryptedShareFile extends ShareFileHeader {
  kdf: { name: 'scrypt'; N: number; r: number; p: number; salt: string };
  cipher: { name: 'AES-256-GCM'; iv: string };
  /** base64 of the AES-256-GCM ciphertext of the 45-byte share payload, followed by the 16-byte tag. */
  ciphertext: string;
}

export interface PlainShareFile extends ShareFileHeader {
  insecurePlain: true;
  warning: string;
  shareCode: string;
}

export type ShareFile = EncryptedShareFile | PlainShareFile;

export interface ShareForFile {
  ceremonyId: string;
  custodian: string;
  index: number;
  threshold: number;
  /** 33 bytes; not wiped by this module (the caller owns it). */
  share: Uint8Array;
}

export type WriteOptions = { passphrase: string; scrypt?: ScryptCost } | { insecurePlain: true };

/** An opened share file: the decoded share (the caller wipes `share.share`) and who it belongs to. */
export interface OpenedShare extends DecodedShare {
  ceremonyId: string;
  custodian: string;
}

const NOT_SHARE_REMEDY = 'Choose the .share file the ceremony wrote to this custodian\'s USB stick.';

function normalisePassphrase(passphrase: string): string {
  // NFC so that the same passphrase typed on two systems (composed or decomposed accents) gives one key.
  return passphrase.normalize('NFC');
}

export function passphraseProblem(passphrase: unknown): string | undefined {
  if (typeof passphrase !== 'string' || passphrase.length === 0) return 'passphrase: nothing was entered';
  const length = [...normalisePassphrase(passphrase)].length;
  if (length < MIN_PASSPHRASE_LENGTH) return `passphrase: ${length} character${length === 1 ? '' : 's'}; a share passphrase needs at least ${MIN_PASSPHRASE_LENGTH}`;
  return undefined;
}

function checkCost(cost: ScryptCost, where: string): string | undefined {
  const { N, r, p } = cost;
  const logN = Math.log2(N);
  if (!Number.isInteger(logN) || logN < MIN_LOG_N || logN > MAX_LOG_N) return `${where}.N must be a power of two from 2^${MIN_LOG_N} to 2^${MAX_LOG_N}`;
  if (!Number.isInteger(r) || r < 1 || r > 32) return `${where}.r must be an integer from 1 to 32`;
  if (!Number.isInteger(p) || p < 1 || p > 16) return `${where}.p must be an integer from 1 to 16`;
  if (128 * N * r > MAX_SCRYPT_MEMORY) return `${where}: N*r needs more than 1 GiB`;
  return undefined;
}

function deriveKey(passphrase: string, salt: Buffer, cost: ScryptCost): Promise<Buffer> {
  const options: ScryptOptions = { N: cost.N, r: cost.r, p: cost.p, maxmem: 128 * cost.N * cost.r + 128 * cost.r * cost.p + 2 ** 20 };
  // The async form runs on libuv's thread pool: half a second of scrypt must not freeze the main process.
  return new Promise((resolve, reject) =>
    scryptCb(Buffer.from(normalisePassphrase(passphrase), 'utf8'), salt, KEY_BYTES, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

function headerOf(file: ShareFile): Record<string, unknown> {
  const { ciphertext: _c, ...rest } = file as EncryptedShareFile;
  return rest;
}

/** The GCM additional data: the JCS canonical JSON of every field except the ciphertext. */
export function shareFileAad(file: ShareFile): Buffer {
  const text = canonicalize(headerOf(file));
  if (text === undefined) throw new TypeError('share file header has no JSON form');
  return Buffer.from(text, 'utf8');
}

function checkShareForFile(s: ShareForFile): void {
  if (typeof s.ceremonyId !== 'string' || !CEREMONY_ID_PATTERN.test(s.ceremonyId)) {
    throw new AppError('share-file-input', `ceremonyId: must be ${CEREMONY_ID_RULE}`, 'Pass the init-token ceremony id.');
  }
  if (typeof s.custodian !== 'string' || !CUSTODIAN_NAME_PATTERN.test(s.custodian)) {
    throw new AppError('share-file-input', 'custodian: must be 1-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit', 'Pass the enrolled custodian name.');
  }
}

/** Build a share file (as an object) for one custodian. Encrypted unless `insecurePlain: true` is given. */
export async function createShareFile(s: ShareForFile, options: WriteOptions): Promise<ShareFile> {
  checkShareForFile(s);
  const header: ShareFileHeader = {
    format: SHARE_FILE_FORMAT,
    version: SHARE_FILE_VERSION,
    ceremonyId: s.ceremonyId,
    custodian: s.custodian,
    index: s.index,
    threshold: s.threshold,
  };
  if ('insecurePlain' in options) {
    if (options.insecurePlain !== true) throw new AppError('share-file-input', 'insecurePlain: must be exactly true', 'Give a passphrase instead.');
    return { ...header, insecurePlain: true, warning: PLAIN_WARNING, shareCode: encodeShareCode(s) };
  }
  const problem = passphraseProblem(options.passphrase);
  if (problem) throw new AppError('share-passphrase', problem, `Choose a passphrase of at least ${MIN_PASSPHRASE_LENGTH} characters that only ${s.custodian} knows; a short sentence works well.`);
  const cost = options.scrypt ?? DEFAULT_SCRYPT;
  const costProblem = checkCost(cost, 'scrypt');
  if (costProblem) throw new AppError('share-file-input', costProblem, 'Use the default scrypt cost.');
  const salt = randomBytes(SALT_BYTES);
  const iv = randomBytes(IV_BYTES);
  const file: EncryptedShareFile = {
    ...header,
    kdf: { name: 'scrypt', N: cost.N, r: cost.r, p: cost.p, salt: salt.toString('base64') },
    cipher: { name: 'AES-256-GCM', iv: iv.toString('base64') },
    ciphertext: '',
  };
  const payload = encodeSharePayload(s);
  const key = await deriveKey(options.passphrase, salt, cost);
  try {
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(shareFileAad(file));
    const ct = Buffer.concat([cipher.update(payload), cipher.final(), cipher.getAuthTag()]);
    file.ciphertext = ct.toString('base64');
    return file;
  } finally {
    wipe(key, payload);
  }
}

/** The file's bytes: pretty JSON (people open these files to see whose they are) and a final newline. */
export function serializeShareFile(file: ShareFile): Uint8Array {
  return Buffer.from(`${JSON.stringify(file, null, 2)}\n`, 'utf8');
}

export async function writeShareFileBytes(s: ShareForFile, options: WriteOptions): Promise<Uint8Array> {
  return serializeShareFile(await createShareFile(s, options));
}

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const b64Of = (bytes: number) =>
  z.string().regex(B64).refine((v) => Buffer.from(v, 'base64').length === bytes, { message: `must be base64 of ${bytes} bytes` });

const headerShape = {
  format: z.literal(SHARE_FILE_FORMAT),
  version: z.literal(SHARE_FILE_VERSION),
  ceremonyId: z.string().regex(CEREMONY_ID_PATTERN, { message: `must be ${CEREMONY_ID_RULE}` }),
  custodian: z.string().regex(CUSTODIAN_NAME_PATTERN, { message: 'must be a custodian name' }),
  index: z.number().int().min(1).max(255),
  threshold: z.number().int().min(2).max(255),
};

const encryptedSchema = z.strictObject({
  ...headerShape,
  kdf: z.strictObject({ name: z.literal('scrypt'), N: z.number().int(), r: z.number().int(), p: z.number().int(), salt: b64Of(SALT_BYTES) }),
  cipher: z.strictObject({ name: z.literal('AES-256-GCM'), iv: b64Of(IV_BYTES) }),
  ciphertext: b64Of(PAYLOAD_BYTES + TAG_BYTES),
});

const plainSchema = z.strictObject({
  ...headerShape,
  insecurePlain: z.literal(true),
  warning: z.string(),
  shareCode: z.string(),
});

function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${path ? `${path}.` : ''}${k}'`).join(', ')}`;
  if (issue.code === 'invalid_type' && issue.input === undefined) return `field '${path}' is missing`;
  if (issue.code === 'invalid_value' && issue.values.length === 1) return `field '${path}' must be ${JSON.stringify(issue.values[0])}`;
  if (issue.code === 'custom' || issue.message.startsWith('must')) return `field '${path}' ${issue.message}`;
  return `field '${path}' is not valid (${issue.message})`;
}

/** Parse share file bytes without decrypting: enough to show whose share it is before asking the passphrase. */
export function parseShareFile(bytes: Uint8Array, expected?: { ceremonyId: string }): ShareFile {
  const notShare = (why: string) => new AppError('share-file-invalid', `not a share file: ${why}`, NOT_SHARE_REMEDY);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw notShare('it is not JSON text');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw notShare('it is not a JSON object');
  const v = value as Record<string, unknown>;
  if (v.format !== SHARE_FILE_FORMAT) throw notShare(`field 'format' must be "${SHARE_FILE_FORMAT}"`);
  if (v.version !== SHARE_FILE_VERSION) {
    throw new AppError('share-file-version', `share file version ${JSON.stringify(v.version)} is not supported (this app reads version ${SHARE_FILE_VERSION})`, 'Open it with the version of the app that wrote it.');
  }
  const plain = 'insecurePlain' in v;
  const r = (plain ? plainSchema : encryptedSchema).safeParse(value, { reportInput: true });
  if (!r.success) throw notShare(describeIssue(r.error.issues[0] as z.core.$ZodIssue));
  const file = r.data as ShareFile;
  if (!plain) {
    const costProblem = checkCost((file as EncryptedShareFile).kdf, 'kdf');
    if (costProblem) throw notShare(`field ${costProblem}`);
  }
  if (expected) checkShareFileCeremony(file, expected.ceremonyId);
  return file;
}

/** A share file made for another ceremony; it names that ceremony, so the engine can say more (a replaced enrolment). */
export class ShareOtherCeremonyError extends AppError {
  constructor(
    readonly shareCeremonyId: string,
    readonly custodian: string,
    message: string,
    remedy: string,
  ) {
    super('share-other-ceremony', message, remedy);
  }
}

/** Refuse a share file made for another ceremony, before anyone types a passphrase. */
export function checkShareFileCeremony(file: ShareFileHeader, ceremonyId: string): void {
  if (file.ceremonyId !== ceremonyId) {
    throw new ShareOtherCeremonyError(
      file.ceremonyId,
      file.custodian,
      `share file for another ceremony: this file holds ${file.custodian}'s share for ceremony ${file.ceremonyId}; this ceremony is ${ceremonyId}`,
      'Each custodian must present the share made for this token; look for the file with this ceremony id.',
    );
  }
}

export function isPlainShareFile(file: ShareFile): file is PlainShareFile {
  return 'insecurePlain' in file && file.insecurePlain === true;
}

/**
 * Decrypt a share file (bytes, or the result of parseShareFile) with the custodian's passphrase.
 * A GCM tag failure cannot tell a wrong passphrase from a damaged file or an edited header, so the message
 * says both. A plain file needs no passphrase (pass undefined).
 */
export async function openShareFile(input: Uint8Array | ShareFile, passphrase: string | undefined, expected?: { ceremonyId: string }): Promise<OpenedShare> {
  const file = input instanceof Uint8Array ? parseShareFile(input, expected) : input;
  if (expected) checkShareFileCeremony(file, expected.ceremonyId);
  const binding = { ceremonyId: file.ceremonyId };
  let decoded: DecodedShare;
  if (isPlainShareFile(file)) {
    decoded = decodeShareCode(file.shareCode, binding);
  } else {
    if (typeof passphrase !== 'string' || passphrase.length === 0) {
      throw new AppError('share-passphrase', 'passphrase: nothing was entered', `${file.custodian} types the passphrase chosen when the share was written.`);
    }
    const key = await deriveKey(passphrase, Buffer.from(file.kdf.salt, 'base64'), file.kdf);
    const ct = Buffer.from(file.ciphertext, 'base64');
    let payload: Buffer | undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(file.cipher.iv, 'base64'), { authTagLength: TAG_BYTES });
      decipher.setAAD(shareFileAad(file));
      decipher.setAuthTag(ct.subarray(ct.length - TAG_BYTES));
      payload = Buffer.concat([decipher.update(ct.subarray(0, ct.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new AppError(
        'share-file-decrypt',
        `wrong passphrase or damaged file: ${file.custodian}'s share file could not be decrypted`,
        `${file.custodian} types the passphrase again (it is case-sensitive); if it still fails the file is damaged: use the printed share sheet instead.`,
      );
    } finally {
      wipe(key);
    }
    try {
      decoded = decodeSharePayload(payload, binding);
    } finally {
      wipe(payload);
    }
  }
  if (decoded.index !== file.index || decoded.threshold !== file.threshold) {
    wipe(decoded.share);
    throw new AppError('share-file-invalid', 'not a share file: its header does not match the share inside', NOT_SHARE_REMEDY);
  }
  return { ...decoded, ceremonyId: file.ceremonyId, custodian: file.custodian };
}
