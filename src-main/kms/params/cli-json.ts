// The JSON printed by `aws kms get-parameters-for-import --output json`:
//   { "KeyId": "arn:aws:kms:…:key/…", "ImportToken": "<base64>", "PublicKey": "<base64 DER SPKI>",
//     "ParametersValidTo": 1700000000.0 (CLI v1, epoch seconds) | "2026-11-30T03:00:00+00:00" (CLI v2) }
import { AppError } from '../../errors.js';
import { findDuplicateMember } from '../../util/json-duplicates.js';
import { KMS_PARAMS_ERROR } from './arn.js';
import { decodeBase64Strict } from './encoding.js';
import type { RawImportParameters } from './raw.js';

const KNOWN = new Set(['KeyId', 'ImportToken', 'PublicKey', 'ParametersValidTo']);
const REMEDY = 'Run `aws kms get-parameters-for-import --key-id <key ARN> --wrapping-algorithm <algorithm> --wrapping-key-spec RSA_4096 --output json > params.json` again and bring that file unchanged.';

const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(?:Z|([+-])(\d{2}):?(\d{2}))$/;
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** Date.parse rolls 30 February over to 2 March and takes 24:00; a time AWS printed never needs either. */
function impossibility(y: number, mo: number, d: number, h: number, mi: number, s: number, sign: string | undefined, oh: number, om: number): string | undefined {
  if (mo < 1 || mo > 12) return `there is no month ${String(mo).padStart(2, '0')}`;
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1] as number;
  if (d < 1 || d > days) return `${MONTHS[mo - 1]} ${y} has ${days} days, not ${d}`;
  if (h > 23) return `there is no hour ${h} (hours run from 00 to 23)`;
  if (mi > 59) return `there is no minute ${mi}`;
  if (s > 59) return `there is no second ${s}`;
  if (sign !== undefined && (om > 59 || oh * 60 + om > (sign === '-' ? 12 * 60 : 14 * 60))) return `the time zone offset ${sign}${String(oh).padStart(2, '0')}:${String(om).padStart(2, '0')} does not exist (offsets run from -12:00 to +14:00)`;
  return undefined;
}

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
    const m = ISO_TIME.exec(s);
    if (m) {
      const [y, mo, d, h, mi, sec, oh, om] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? '0', m[9] ?? '0', m[10] ?? '0'].map(Number) as [number, number, number, number, number, number, number, number];
      const sign = m[8];
      const problem = impossibility(y, mo, d, h, mi, sec, sign, oh, om);
      if (problem) throw new AppError(KMS_PARAMS_ERROR, `${field} ${JSON.stringify(value)} is not a real time: ${problem}.`, REMEDY);
      const t = new Date(0);
      t.setUTCFullYear(y, mo - 1, d);
      t.setUTCHours(h, mi, sec, Number((m[7] ?? '.').slice(1, 4).padEnd(3, '0')));
      const offsetMinutes = sign === undefined ? 0 : (sign === '-' ? -1 : 1) * (oh * 60 + om);
      return new Date(t.getTime() - offsetMinutes * 60_000).toISOString();
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
  // JSON.parse kept the last of two KeyId members; the room must not confirm one key while another is used.
  const twice = findDuplicateMember(text);
  if (twice) {
    throw new AppError(KMS_PARAMS_ERROR, `${file} has the member ${JSON.stringify(twice.name)} twice${twice.where ? ` in ${twice.where}` : ''}; it must say one thing.`, REMEDY);
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
