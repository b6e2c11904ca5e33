// The key the parameters belong to, split into the parts the room reads aloud and confirms. AWS prints the
// key ARN as KeyId; the console download names only the key id, so a bare id is accepted and flagged.
import { AppError } from '../../errors.js';

export const KMS_PARAMS_ERROR = 'KMS_PARAMS_INVALID';

export interface ParsedKeyRef {
  keyArn?: string;
  keyId: string;
  partition?: string;
  region?: string;
  account?: string;
  /** True when only a key id was given: the room must confirm account and region some other way. */
  bare: boolean;
}

// A single-Region key id is a UUID; a multi-Region key id is mrk- and 32 hex digits.
const KEY_ID = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/;
const ARN = /^arn:(aws(?:-[a-z]+)*):kms:([a-z]{2}(?:-[a-z]+)+-\d+):(\d{12}):key\/(.+)$/;

export function isKeyId(s: string): boolean {
  return KEY_ID.test(s);
}

/** `field` names where the value came from (e.g. `KeyId in params.json`). */
export function parseKeyRef(value: unknown, field: string): ParsedKeyRef {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new AppError(KMS_PARAMS_ERROR, `${field} is missing.`, 'Give the key ARN printed by get-parameters-for-import (KeyId), e.g. arn:aws:kms:eu-west-1:111122223333:key/<key id>.');
  }
  const s = value.trim();
  if (isKeyId(s)) return { keyId: s, bare: true };
  if (s.startsWith('alias/') || /^arn:[^:]*:kms:[^:]*:[^:]*:alias\//.test(s)) {
    throw new AppError(KMS_PARAMS_ERROR, `${field} ${JSON.stringify(s)} is an alias, not a key.`, 'Give the key ARN (…:key/<key id>), so the room confirms the exact key the material goes into.');
  }
  const m = ARN.exec(s);
  if (!m) {
    throw new AppError(
      KMS_PARAMS_ERROR,
      `${field} ${JSON.stringify(s)} is neither a KMS key ARN nor a key id.`,
      'Give the key ARN as arn:<partition>:kms:<region>:<12-digit account>:key/<key id>, or the bare key id (a UUID or mrk-…).',
    );
  }
  const [, partition, region, account, keyId] = m as unknown as [string, string, string, string, string];
  if (!isKeyId(keyId)) {
    throw new AppError(KMS_PARAMS_ERROR, `${field} ${JSON.stringify(s)} ends in ${JSON.stringify(keyId)}, which is not a KMS key id.`, 'Copy the key ARN again from the KMS console or the AWS CLI output.');
  }
  return { keyArn: s, keyId, partition, region, account, bare: false };
}
