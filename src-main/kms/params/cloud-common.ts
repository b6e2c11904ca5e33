// What the Google, Azure and Vault parameter readers share: the bounded read of one small file, strict JSON
// (a member twice is refused: the room must not confirm one thing while another is used), a PEM public
// key, an RSA wrapping key of the sizes a cloud offers, and an ISO 8601 time with a zone.
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { AppError } from '../../errors.js';
import { FILE_CAPS, readBounded, type FileKind } from '../../files/read-bounded.js';
import { findDuplicateMember } from '../../util/json-duplicates.js';
import type { WrappingKeySpec } from '../types.js';
import { KMS_PARAMS_ERROR } from './arn.js';
import { parseValidTo } from './cli-json.js';
import { decodeBase64Strict } from './encoding.js';

export async function readParamsText(path: string, what: string, remedy: string): Promise<string> {
  const kind: FileKind = { what, cap: FILE_CAPS.importParametersJson, remedy, code: KMS_PARAMS_ERROR };
  const data = await readBounded(path, kind);
  // PowerShell 5's `>` writes UTF-16 with a byte order mark: say so, instead of "not UTF-8".
  if ((data[0] === 0xff && data[1] === 0xfe) || (data[0] === 0xfe && data[1] === 0xff)) {
    throw new AppError(KMS_PARAMS_ERROR, `${path} is UTF-16 text (as PowerShell's \`>\` writes it), not UTF-8.`, `Save it as UTF-8 (in PowerShell: \`... | Out-File -Encoding utf8 FILE\`, or run the command in a POSIX shell), then bring it. ${remedy}`.trim());
  }
  const text = data.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(data)) throw new AppError(KMS_PARAMS_ERROR, `${path} is not UTF-8 text.`, remedy);
  // A UTF-8 byte order mark (Out-File -Encoding utf8 on Windows writes one) says nothing: JSON.parse would trip on it.
  return text.startsWith('\ufeff') ? text.slice(1) : text;
}

export function parseJsonObject(text: string, file: string, remedy: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new AppError(KMS_PARAMS_ERROR, `${file} is not valid JSON (${e instanceof Error ? e.message : String(e)}).`, remedy);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new AppError(KMS_PARAMS_ERROR, `${file} is not a JSON object.`, remedy);
  const twice = findDuplicateMember(text);
  if (twice) throw new AppError(KMS_PARAMS_ERROR, `${file} has the member ${JSON.stringify(twice.name)} twice${twice.where ? ` in ${twice.where}` : ''}; it must say one thing.`, remedy);
  return doc as Record<string, unknown>;
}

export function member(o: Record<string, unknown> | undefined, name: string): unknown {
  return o && Object.hasOwn(o, name) ? o[name] : undefined;
}

export function asObject(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** Exactly one PEM "PUBLIC KEY" block (nothing else but blank space around it) to DER. */
export function pemPublicKey(text: string, field: string, remedy: string): Uint8Array {
  const blocks = [...text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g)];
  if (blocks.length !== 1) throw new AppError(KMS_PARAMS_ERROR, `${field} holds ${blocks.length === 0 ? 'no PEM block' : `${blocks.length} PEM blocks`}; expected one "PUBLIC KEY".`, remedy);
  const b = blocks[0] as RegExpMatchArray;
  if (b[1] !== 'PUBLIC KEY') throw new AppError(KMS_PARAMS_ERROR, `${field} is a PEM "${b[1]}", not a "PUBLIC KEY".`, remedy);
  if (text.replace(b[0], '').trim() !== '') throw new AppError(KMS_PARAMS_ERROR, `${field} has text outside its PEM block.`, remedy);
  try {
    return decodeBase64Strict(b[2] as string, field);
  } catch (e) {
    if (e instanceof AppError) throw new AppError(KMS_PARAMS_ERROR, e.message, remedy);
    throw e;
  }
}

/** Strict base64url (or standard base64, which some tools print): decodes and re-encodes to the same text. */
export function decodeBase64UrlStrict(value: unknown, field: string, remedy: string): Uint8Array {
  if (typeof value !== 'string' || value === '') throw new AppError(KMS_PARAMS_ERROR, `${field} is ${value === undefined ? 'missing' : 'not a base64url string'}.`, remedy);
  const url = /^[A-Za-z0-9_-]+$/.test(value);
  if (url) {
    const bytes = Buffer.from(value, 'base64url');
    if (bytes.toString('base64url') !== value) throw new AppError(KMS_PARAMS_ERROR, `${field} is not valid base64url (it does not decode cleanly).`, remedy);
    return new Uint8Array(bytes);
  }
  try {
    return decodeBase64Strict(value, field);
  } catch (e) {
    // decodeBase64Strict's remedy speaks of the AWS CLI; this value came from another cloud's download.
    if (e instanceof AppError) throw new AppError(KMS_PARAMS_ERROR, e.message, remedy);
    throw e;
  }
}

export interface RsaWrappingKey {
  spki: Uint8Array;
  bits: number;
  wrappingKeySpec: WrappingKeySpec;
}

/** An RSA public key (SPKI DER or a JWK's n and e) of one of `sizes`, with e = 65537, re-encoded exactly. */
export function rsaWrappingKey(key: { der: Uint8Array } | { jwk: JsonWebKey }, field: string, sizes: readonly number[], who: string, remedy: string): RsaWrappingKey {
  let k;
  try {
    k = 'der' in key ? createPublicKey({ key: Buffer.from(key.der), format: 'der', type: 'spki' }) : createPublicKey({ key: key.jwk, format: 'jwk' });
  } catch {
    throw new AppError(KMS_PARAMS_ERROR, `${field} is not a public key (truncated or damaged).`, remedy);
  }
  if (k.asymmetricKeyType !== 'rsa') {
    const type = String(k.asymmetricKeyType).toUpperCase();
    throw new AppError(KMS_PARAMS_ERROR, `${field} holds ${/^[AEIOU]/.test(type) ? 'an' : 'a'} ${type} key; ${who} wrapping keys are RSA.`, remedy);
  }
  const bits = k.asymmetricKeyDetails?.modulusLength ?? 0;
  if (!sizes.includes(bits)) throw new AppError(KMS_PARAMS_ERROR, `${field} is RSA-${bits}; ${who} wrapping keys are ${sizes.map((s) => `RSA-${s}`).join(', ')}.`, remedy);
  if (k.asymmetricKeyDetails?.publicExponent !== 65537n) throw new AppError(KMS_PARAMS_ERROR, `${field} has public exponent ${String(k.asymmetricKeyDetails?.publicExponent)}; ${who} wrapping keys use 65537.`, remedy);
  const spki = new Uint8Array(k.export({ format: 'der', type: 'spki' }));
  if ('der' in key && !Buffer.from(spki).equals(Buffer.from(key.der))) throw new AppError(KMS_PARAMS_ERROR, `${field} has bytes after (or around) the SubjectPublicKeyInfo, or a non-canonical encoding.`, remedy);
  return { spki, bits, wrappingKeySpec: `RSA_${bits}` as WrappingKeySpec };
}

/** An ISO 8601 time with a zone, to ISO UTC; the error names the field and says what to bring instead. */
export function isoTime(value: unknown, field: string, remedy: string): string {
  if (typeof value !== 'string') throw new AppError(KMS_PARAMS_ERROR, `${field} is ${value === undefined ? 'missing' : `a ${typeof value}`}; expected an ISO 8601 time.`, remedy);
  // Google prints nanoseconds (2026-12-07T10:00:00.123456789Z): keep milliseconds.
  const trimmed = value.replace(/(\.\d{3})\d+/, '$1');
  try {
    return parseValidTo(trimmed, field);
  } catch (e) {
    if (e instanceof AppError) throw new AppError(KMS_PARAMS_ERROR, e.message, remedy);
    throw e;
  }
}

export function hhmm(ms: number): string {
  const m = Math.floor(ms / 60000);
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}
