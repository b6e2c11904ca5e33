// The JSON printed by `aws kms get-parameters-for-import --output json`:
//   { "KeyId": "arn:aws:kms:…:key/…", "ImportToken": "<base64>", "PublicKey": "<base64 DER SPKI>",
//     "ParametersValidTo": 1700000000.0 (CLI v1, epoch seconds) | "2026-11-30T03:00:00+00:00" (CLI v2) }
import { AppError } from '../../errors.js';
import { KMS_PARAMS_ERROR } from './arn.js';
import { decodeBase64Strict } from './encoding.js';
import type { RawImportParameters } from './raw.js';

const KNOWN = new Set(['KeyId', 'ImportToken', 'PublicKey', 'ParametersValidTo']);
const REMEDY = 'Run `aws kms get-parameters-for-import --key-id <key ARN> --wrapping-algorithm <algorithm> --wrapping-key-spec RSA_4096 --output json > params.json` again and bring that file unchanged.';

/** ParametersValidTo: epoch seconds (CLI v1) or an ISO 8601 string with a zone (CLI v2). */
export function parseValidTo(value: unknown, field: string): string {
  if (typeof value === 'number') {
    // Seconds since 1970; a value this large is milliseconds, which no AWS CLI prints.
    if (!Number.isFinite(value) || value <= 0 || value > 1e11) {
      throw new AppError(KMS_PARAMS_ERROR, `${field} ${value} is not a time in seconds since 1970.`, REMEDY);
    }
    return new Date(Math.round(value * 1000)).toISOString();
  }
  if (typeof value === 'string') {
    const s = value.trim();
    // A zone is required: a time without one would be read in the laptop's zone.
    if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(s)) {
      const t = Date.parse(s.replace(' ', 'T'));
      if (!Number.isNaN(t)) return new Date(t).toISOString();
    }
    if (/^\d+(\.\d+)?$/.test(s)) return parseValidTo(Number(s), field);
    throw new AppError(KMS_PARAMS_ERROR, `${field} ${JSON.stringify(value)} is not an ISO 8601 time with a time zone.`, REMEDY);
  }
  throw new AppError(KMS_PARAMS_ERROR, `${field} is ${value === undefined ? 'missing' : `a ${typeof value}`}; expected epoch seconds or an ISO 8601 time.`, REMEDY);
}

export function parseCliJson(text: string, file: string, path = file): RawImportParameters {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new AppError(KMS_PARAMS_ERROR, `${file} is not valid JSON (${e instanceof Error ? e.message : String(e)}).`, REMEDY);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new AppError(KMS_PARAMS_ERROR, `${file} is not a JSON object.`, REMEDY);
  }
  const o = doc as Record<string, unknown>;
  const notes: string[] = [];
  const unknown = Object.keys(o).filter((k) => !KNOWN.has(k));
  // Not an error: a newer CLI may print more; but the room hears about it.
  if (unknown.length > 0) notes.push(`${file} has fields this application does not use: ${unknown.join(', ')}.`);
  for (const k of ['KeyId', 'PublicKey', 'ImportToken'] as const) {
    if (typeof o[k] !== 'string') {
      throw new AppError(KMS_PARAMS_ERROR, `${k} in ${file} is ${o[k] === undefined ? 'missing' : `a ${typeof o[k]}, not a string`}.`, REMEDY);
    }
  }
  return {
    kind: 'aws-cli-json',
    path,
    keyRef: { value: o.KeyId as string, from: `KeyId in ${file}` },
    publicKey: { der: decodeBase64Strict(o.PublicKey as string, `PublicKey in ${file}`), encoding: 'base64', from: `PublicKey in ${file}` },
    importToken: { token: decodeBase64Strict(o.ImportToken as string, `ImportToken in ${file}`), encoding: 'base64', from: `ImportToken in ${file}` },
    validTo: { iso: parseValidTo(o.ParametersValidTo, `ParametersValidTo in ${file}`), from: `ParametersValidTo in ${file}` },
    notes,
  };
}
