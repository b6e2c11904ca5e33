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
const ARN = /^arn:([a-z0-9-]+):kms:([a-z0-9-]+):(\d{12}):key\/(.+)$/;

/**
 * The AWS partitions and the shape of their Region names, as AWS publishes them in its SDKs' partition data
 * (botocore data/partitions.json `regionRegex`; aws-eusc is the AWS European Sovereign Cloud, eusc-de-east-1).
 * An ARN of any other partition, or with a Region of another partition, is not a key anyone can import into.
 */
export const AWS_PARTITIONS: Readonly<Record<string, { regions: RegExp; shape: string }>> = {
  aws: { regions: /^(?:us|eu|ap|sa|ca|me|af|il|mx)-[a-z]+-\d+$/, shape: 'us-east-1, eu-west-1, ap-southeast-2, ...' },
  'aws-cn': { regions: /^cn-[a-z]+-\d+$/, shape: 'cn-north-1, cn-northwest-1' },
  'aws-us-gov': { regions: /^us-gov-[a-z]+-\d+$/, shape: 'us-gov-west-1, us-gov-east-1' },
  'aws-iso': { regions: /^us-iso-[a-z]+-\d+$/, shape: 'us-iso-east-1, us-iso-west-1' },
  'aws-iso-b': { regions: /^us-isob-[a-z]+-\d+$/, shape: 'us-isob-east-1' },
  'aws-iso-e': { regions: /^eu-isoe-[a-z]+-\d+$/, shape: 'eu-isoe-west-1' },
  'aws-iso-f': { regions: /^us-isof-[a-z]+-\d+$/, shape: 'us-isof-east-1, us-isof-south-1' },
  'aws-eusc': { regions: /^eusc-de-[a-z]+-\d+$/, shape: 'eusc-de-east-1' },
};
const COPY_AGAIN = 'Copy the key ARN again from the KMS console or the AWS CLI output.';

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
  const known = Object.hasOwn(AWS_PARTITIONS, partition) ? AWS_PARTITIONS[partition] : undefined;
  if (!known) {
    throw new AppError(KMS_PARAMS_ERROR, `${field} ${JSON.stringify(s)} names partition ${partition}, which is not an AWS partition (${Object.keys(AWS_PARTITIONS).join(', ')}).`, COPY_AGAIN);
  }
  if (!known.regions.test(region)) {
    throw new AppError(KMS_PARAMS_ERROR, `${field} ${JSON.stringify(s)} names Region ${region}, which is not a Region of partition ${partition} (${known.shape}).`, COPY_AGAIN);
  }
  if (!isKeyId(keyId)) {
    throw new AppError(KMS_PARAMS_ERROR, `${field} ${JSON.stringify(s)} ends in ${JSON.stringify(keyId)}, which is not a KMS key id.`, COPY_AGAIN);
  }
  return { keyArn: s, keyId, partition, region, account, bare: false };
}
