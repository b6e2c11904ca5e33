// Transcript entries: the shape, strict validation with errors that name the field, and the hash.
import { z } from 'zod';
import { canonicalJson, GENESIS_PREV, sha256Hex } from './canonical.js';
import { jsonProblem, type JsonObject } from './json-value.js';

export const TIME_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
export const HASH_PATTERN = /^[0-9a-f]{64}$/;
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
export const KIND_PATTERN = /^[a-z][a-z0-9.-]{0,63}$/;

/** Entry kinds with a fixed meaning. Other kinds (matching KIND_PATTERN) are allowed for ceremony steps. */
export const KINDS = {
  /** seq 0 only: the token and the audit key that anchor this chain. */
  genesis: 'genesis',
  /** Written before an action touches the token. */
  intent: 'intent',
  /** Written after it, with what the token returned. */
  result: 'result',
  /** A custodian's signed approval of the transcript state; checked by src-main/ceremony/verify-approvals.ts. */
  approval: 'approval',
} as const;

export interface Entry {
  seq: number;
  time: string;
  ceremonyId: string;
  step: string;
  kind: string;
  actor: string;
  data: JsonObject;
  prev: string;
  hash: string;
}

/** An entry before it is hashed. */
export type EntryBody = Omit<Entry, 'hash'>;

/** What a caller supplies to append: the store adds seq, time, prev and hash. */
export type EntryInput = Pick<Entry, 'ceremonyId' | 'step' | 'kind' | 'actor' | 'data'>;

/** The genesis entry's data: the token whose lifetime this chain covers and the audit key that signs it. */
export interface GenesisData {
  format: typeof TRANSCRIPT_FORMAT;
  token: { manufacturer: string; model: string; serial: string; label: string };
  auditKey: { algorithm: 'ECDSA-P384-SHA384'; spki: string };
  [key: string]: unknown;
}

export const TRANSCRIPT_FORMAT = 'keyceremony-transcript/1';

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const num = (s: string, from: number, to: number) => Number(s.slice(from, to));

/** YYYY-MM-DDTHH:MM:SS.mmmZ naming a real instant (what Date#toISOString produces for years 0-9999). */
function isValidTime(value: string): boolean {
  if (!TIME_PATTERN.test(value)) return false;
  const y = num(value, 0, 4);
  const m = num(value, 5, 7);
  const d = num(value, 8, 10);
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = m === 2 && leap ? 29 : (DAYS[m - 1] ?? 0);
  return m >= 1 && m <= 12 && d >= 1 && d <= days && num(value, 11, 13) <= 23 && num(value, 14, 16) <= 59 && num(value, 17, 19) <= 59;
}

const missing = (iss: { input?: unknown }, otherwise: string) => (iss.input === undefined ? 'is missing' : otherwise);

const str = (what: string, pattern: RegExp) =>
  z
    .string({ error: (iss) => missing(iss, `must be ${what}`) })
    .regex(pattern, { error: `must be ${what}` });

const dataSchema = z
  .custom<JsonObject>((v) => v !== null && typeof v === 'object' && !Array.isArray(v), {
    error: (iss) => missing(iss, 'must be a JSON object'),
  })
  .superRefine((value, ctx) => {
    const problem = jsonProblem(value, 'data');
    if (problem) ctx.addIssue({ code: 'custom', message: `__raw__${problem}` });
  });

const bodyShape = {
  seq: z
    .number({ error: (iss) => missing(iss, 'must be a non-negative integer') })
    .int({ error: 'must be a non-negative integer' })
    .min(0, { error: 'must be a non-negative integer' })
    .max(Number.MAX_SAFE_INTEGER, { error: 'must be a non-negative integer' }),
  time: z
    .string({ error: (iss) => missing(iss, 'must be an ISO 8601 UTC time like 2026-01-31T12:00:00.000Z') })
    .refine(isValidTime, { error: 'must be an ISO 8601 UTC time like 2026-01-31T12:00:00.000Z' }),
  ceremonyId: str('1-128 characters of A-Z a-z 0-9 . _ : - starting with a letter or digit', ID_PATTERN),
  step: str('1-128 characters of A-Z a-z 0-9 . _ : - starting with a letter or digit', ID_PATTERN),
  kind: str('1-64 characters of a-z 0-9 . - starting with a letter', KIND_PATTERN),
  actor: z
    .string({ error: (iss) => missing(iss, 'must be a non-empty string of at most 256 characters') })
    .min(1, { error: 'must be a non-empty string of at most 256 characters' })
    .max(256, { error: 'must be a non-empty string of at most 256 characters' }),
  data: dataSchema,
  prev: str('64 lowercase hexadecimal digits (a SHA-256)', HASH_PATTERN),
};

const entrySchema = z.strictObject({ ...bodyShape, hash: str('64 lowercase hexadecimal digits (a SHA-256)', HASH_PATTERN) });
const bodySchema = z.strictObject(bodyShape);

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'is invalid';
  if (issue.code === 'unrecognized_keys') {
    const where = issue.path.length > 0 ? `field '${issue.path.join('.')}' has ` : '';
    return `${where}unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
  }
  if (issue.path.length === 0) return issue.message === 'is missing' ? 'is missing' : 'must be a JSON object';
  if (issue.message.startsWith('__raw__')) return `field ${issue.message.slice('__raw__'.length)}`;
  return `field '${issue.path.join('.')}' ${issue.message}`;
}

function parseWith<T>(schema: z.ZodType, value: unknown): ParseResult<T> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { ok: false, error: 'must be a JSON object' };
  const r = schema.safeParse(value);
  if (!r.success) return { ok: false, error: firstIssue(r.error) };
  return { ok: true, value: r.data as T };
}

const ENTRY_KEYS = ['actor', 'ceremonyId', 'data', 'hash', 'kind', 'prev', 'seq', 'step', 'time'];

/**
 * A fast check that accepts only what entrySchema accepts (the verifier's hot path: a 100,000-entry
 * transcript). Anything it does not accept goes through zod, which is the authority and names the field.
 */
function fastValid(value: unknown): value is Entry {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  const keys = Object.keys(v);
  if (keys.length !== ENTRY_KEYS.length) return false;
  for (const k of ENTRY_KEYS) if (!Object.hasOwn(v, k)) return false;
  const { seq, time, ceremonyId, step, kind, actor, data, prev, hash } = v;
  return (
    typeof seq === 'number' &&
    Number.isSafeInteger(seq) &&
    seq >= 0 &&
    typeof time === 'string' &&
    isValidTime(time) &&
    typeof ceremonyId === 'string' &&
    ID_PATTERN.test(ceremonyId) &&
    typeof step === 'string' &&
    ID_PATTERN.test(step) &&
    typeof kind === 'string' &&
    KIND_PATTERN.test(kind) &&
    typeof actor === 'string' &&
    actor.length >= 1 &&
    actor.length <= 256 &&
    typeof prev === 'string' &&
    HASH_PATTERN.test(prev) &&
    typeof hash === 'string' &&
    HASH_PATTERN.test(hash) &&
    data !== null &&
    typeof data === 'object' &&
    !Array.isArray(data) &&
    jsonProblem(data, 'data') === undefined
  );
}

/** Strictly validate the shape of an entry (not its hash or chain). The error names the field. */
export function parseEntry(value: unknown): ParseResult<Entry> {
  if (fastValid(value)) return { ok: true, value };
  return parseWith<Entry>(entrySchema, value);
}

/** For tests: whether the fast path alone accepts a value. */
export const fastEntryCheckForTests = fastValid;

export function parseEntryBody(value: unknown): ParseResult<EntryBody> {
  return parseWith<EntryBody>(bodySchema, value);
}

/** The canonical JSON of an entry without its hash: the bytes its hash covers. */
export function hashedText(body: EntryBody | Entry): string {
  const { hash: _ignored, ...rest } = body as Entry;
  return canonicalJson(rest);
}

export function computeEntryHash(body: EntryBody | Entry): string {
  return sha256Hex(hashedText(body));
}

/** The one line an entry occupies in a journal or transcript.jsonl: its canonical JSON and a newline. */
export function entryLine(entry: Entry): string {
  return `${canonicalJson(entry)}\n`;
}

export function sealEntry(body: EntryBody): Entry {
  return { ...body, hash: computeEntryHash(body) };
}

const genesisSchema = z.looseObject({
  format: z.literal(TRANSCRIPT_FORMAT, { error: `must be '${TRANSCRIPT_FORMAT}'` }),
  token: z.strictObject({
    manufacturer: z.string({ error: 'must be a string' }),
    model: z.string({ error: 'must be a string' }),
    serial: z.string({ error: 'must be a string' }),
    label: z.string({ error: 'must be a string' }),
  }),
  auditKey: z.strictObject({
    algorithm: z.literal('ECDSA-P384-SHA384', { error: "must be 'ECDSA-P384-SHA384'" }),
    spki: z.base64({ error: 'must be the DER SubjectPublicKeyInfo in base64' }).min(1, { error: 'must be the DER SubjectPublicKeyInfo in base64' }),
  }),
});

/** Validate the data of a genesis entry. */
export function parseGenesisData(data: unknown): ParseResult<GenesisData> {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return { ok: false, error: 'must be a JSON object' };
  const r = genesisSchema.safeParse(data);
  if (!r.success) {
    const issue = r.error.issues[0];
    if (issue?.code === 'unrecognized_keys') return { ok: false, error: `field 'data.${issue.path.join('.')}' has unknown field ${issue.keys.map((k) => `'${k}'`).join(', ')}` };
    const msg = issue?.code === 'invalid_type' && issue.path.length === 1 ? 'is missing or not an object' : (issue?.message ?? 'is invalid');
    return { ok: false, error: `field 'data.${issue?.path.join('.') ?? ''}' ${msg}` };
  }
  return { ok: true, value: r.data as GenesisData };
}

export function genesisData(token: GenesisData['token'], auditSpkiDer: Uint8Array): GenesisData {
  return {
    format: TRANSCRIPT_FORMAT,
    token: { manufacturer: token.manufacturer, model: token.model, serial: token.serial, label: token.label },
    auditKey: { algorithm: 'ECDSA-P384-SHA384', spki: Buffer.from(auditSpkiDer).toString('base64') },
  };
}

export { GENESIS_PREV };
