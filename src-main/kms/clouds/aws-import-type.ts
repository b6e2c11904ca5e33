// AWS imported-key rotation (June 2025): ImportKeyMaterial's ImportType, KeyMaterialDescription and
// KeyMaterialId, for symmetric encryption keys only. NEW_KEY_MATERIAL brings new material into a key (then
// rotate-key-on-demand makes it current); EXISTING_KEY_MATERIAL re-imports material the key already knows
// (a multi-Region replica, or material whose import expired). Asymmetric and HMAC keys keep the material of
// their first import forever, so these options are refused for them.
import { AppError } from '../../errors.js';
import type { KmsKeySpec } from '../types.js';
import { AWS_IMPORT_TYPES, type AwsImportType } from './types.js';

export const AWS_IMPORT_TYPE_ERROR = 'KMS_AWS_IMPORT_TYPE';
// AWS documents ^[a-zA-Z0-9:/_\s.-]+$ in Java's regex dialect, where \s is only ASCII white space; JavaScript's
// \s also takes no-break and other Unicode spaces AWS refuses. Plain spaces only: the description also goes
// into the one-line command IMPORT.md prints, where a tab or line break would not survive copying.
const DESCRIPTION = /^[a-zA-Z0-9:/_ .-]+$/;
const MATERIAL_ID = /^[0-9a-f]{64}$/;

export interface AwsImportOptions {
  importType?: AwsImportType;
  keyMaterialDescription?: string;
  keyMaterialId?: string;
}

export function parseAwsImportOptions(keySpec: KmsKeySpec, o: { importType?: unknown; keyMaterialDescription?: unknown; keyMaterialId?: unknown }): AwsImportOptions {
  const out: AwsImportOptions = {};
  const any = o.importType !== undefined || o.keyMaterialDescription !== undefined || o.keyMaterialId !== undefined;
  if (!any) return out;
  if (keySpec !== 'SYMMETRIC_DEFAULT') {
    throw new AppError(AWS_IMPORT_TYPE_ERROR, `importType: key spec ${keySpec} cannot take new key material: AWS KMS rotates imported material only for symmetric encryption keys (SYMMETRIC_DEFAULT); asymmetric and HMAC keys keep the material of their first import.`, 'Leave out --import-type, --key-material-description and --key-material-id for this key spec.');
  }
  if (o.importType === undefined) throw new AppError(AWS_IMPORT_TYPE_ERROR, 'importType is missing: --key-material-description and --key-material-id go with an import type.', `Give --import-type ${AWS_IMPORT_TYPES.join(' or ')}.`);
  if (typeof o.importType !== 'string' || !(AWS_IMPORT_TYPES as readonly string[]).includes(o.importType)) {
    throw new AppError(AWS_IMPORT_TYPE_ERROR, `importType ${JSON.stringify(o.importType)} is not an AWS KMS import type.`, `Use NEW_KEY_MATERIAL (new material for the key: its first import, or a rotation) or EXISTING_KEY_MATERIAL (material the key already has: a replica, or re-importing expired material).`);
  }
  out.importType = o.importType as AwsImportType;
  if (o.keyMaterialDescription !== undefined) {
    const d = o.keyMaterialDescription;
    if (typeof d !== 'string' || d.length > 256 || (d.length > 0 && !DESCRIPTION.test(d))) {
      throw new AppError(AWS_IMPORT_TYPE_ERROR, `keyMaterialDescription ${JSON.stringify(d)} is not allowed: AWS KMS takes 0 to 256 characters of letters, digits, spaces and : / _ . - (plain spaces: no tabs, line breaks or other spaces).`, 'Shorten it, or replace the other characters (e.g. "ceremony 2026-12-07 rotation").');
    }
    if (d !== '') out.keyMaterialDescription = d;
  }
  if (o.keyMaterialId !== undefined) {
    if (out.importType === 'NEW_KEY_MATERIAL') throw new AppError(AWS_IMPORT_TYPE_ERROR, 'keyMaterialId is not allowed with NEW_KEY_MATERIAL: AWS KMS computes the id of new material.', 'Leave out --key-material-id, or use --import-type EXISTING_KEY_MATERIAL to re-import known material.');
    if (typeof o.keyMaterialId !== 'string' || !MATERIAL_ID.test(o.keyMaterialId)) {
      throw new AppError(AWS_IMPORT_TYPE_ERROR, `keyMaterialId ${JSON.stringify(o.keyMaterialId)} is not a key material id (64 lowercase hex digits).`, 'Copy it from `aws kms list-key-rotations --key-id ARN --include-key-material ALL_KEY_MATERIAL` (KeyMaterialId).');
    }
    out.keyMaterialId = o.keyMaterialId;
  }
  return out;
}
