// manifest.json of an export bundle: what it holds and the SHA-256 of every other file. In format 2 the
// audit key signs manifest.json (manifest.json.sig), so that signature covers every file of the bundle.
import { z } from 'zod';
import { HASH_PATTERN, ID_PATTERN, TIME_PATTERN } from './entry.js';

export const BUNDLE_FORMAT = 'keyceremony-transcript-bundle/2' as const;
/** Bundles written before the manifest was signed: only transcript.jsonl is signed. */
export const BUNDLE_FORMAT_1 = 'keyceremony-transcript-bundle/1' as const;

export const FILES = {
  transcript: 'transcript.jsonl',
  signature: 'transcript.jsonl.sig',
  publicKey: 'audit-public-key.pem',
  manifest: 'manifest.json',
  manifestSignature: 'manifest.json.sig',
  verify: 'VERIFY.md',
} as const;

/** The files manifest.json lists, in this order. */
export const DIGESTED_FILES = [FILES.transcript, FILES.signature, FILES.publicKey, FILES.verify] as const;
export const BUNDLE_FILES = [FILES.transcript, FILES.signature, FILES.publicKey, FILES.manifest, FILES.manifestSignature, FILES.verify] as const;
/** What a format-1 bundle holds (no manifest.json.sig). */
export const BUNDLE_FILES_1 = [FILES.transcript, FILES.signature, FILES.publicKey, FILES.manifest, FILES.verify] as const;

const hash = z.string({ error: 'must be 64 lowercase hexadecimal digits (a SHA-256)' }).regex(HASH_PATTERN, { error: 'must be 64 lowercase hexadecimal digits (a SHA-256)' });
const count = z.number({ error: 'must be a non-negative integer' }).int({ error: 'must be a non-negative integer' }).min(0, { error: 'must be a non-negative integer' });
const fileDigest = z.strictObject({ sha256: hash, bytes: count });
const ceremonyId = z.string({ error: 'must be a ceremony id' }).regex(ID_PATTERN, { error: 'must be a ceremony id' });

export const manifestSchema = z.strictObject({
  format: z.enum([BUNDLE_FORMAT, BUNDLE_FORMAT_1], { error: `must be '${BUNDLE_FORMAT}' (or '${BUNDLE_FORMAT_1}' for bundles written before manifest.json was signed)` }),
  ceremony: z.union([ceremonyId, z.null()], { error: 'must be a ceremony id, or null when the bundle spans several' }),
  ceremonyIds: z.array(ceremonyId, { error: 'must be an array of ceremony ids' }).min(1, { error: 'must name at least one ceremony' }),
  entries: z.strictObject({ first: count, last: count, count }),
  prev: hash,
  head: hash,
  auditKey: z.strictObject({
    algorithm: z.literal('ECDSA-P384-SHA384', { error: "must be 'ECDSA-P384-SHA384'" }),
    spkiSha256: hash,
  }),
  appVersion: z.string({ error: 'must be a string' }).min(1, { error: 'must be a non-empty string' }),
  createdAt: z.string({ error: 'must be an ISO 8601 UTC time' }).regex(TIME_PATTERN, { error: 'must be an ISO 8601 UTC time' }),
  files: z.strictObject({
    [FILES.transcript]: fileDigest,
    [FILES.signature]: fileDigest,
    [FILES.publicKey]: fileDigest,
    [FILES.verify]: fileDigest,
  }),
});

export type Manifest = z.infer<typeof manifestSchema>;

export function parseManifest(text: string): { ok: true; value: Manifest } | { ok: false; error: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: 'manifest.json is not valid JSON' };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { ok: false, error: 'manifest.json must hold a JSON object' };
  const r = manifestSchema.safeParse(value);
  if (r.success) return { ok: true, value: r.data };
  const issue = r.error.issues[0];
  if (!issue) return { ok: false, error: 'manifest.json is invalid' };
  const path = issue.path.join('.');
  if (issue.code === 'unrecognized_keys') return { ok: false, error: `manifest.json${path ? `: field '${path}'` : ''} has unknown field ${issue.keys.map((k) => `'${k}'`).join(', ')}` };
  let at: unknown = value;
  for (const key of issue.path) at = at !== null && typeof at === 'object' ? (at as Record<PropertyKey, unknown>)[key as PropertyKey] : undefined;
  const message = at === undefined ? 'is missing' : issue.message.startsWith('Invalid input') ? 'must be a JSON object' : issue.message;
  return { ok: false, error: `manifest.json: field '${path}' ${message}` };
}

/** manifest.json's bytes: indented for people, keys in a fixed order, one trailing newline. */
export function manifestText(manifest: Manifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}
