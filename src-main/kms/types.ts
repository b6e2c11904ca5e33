// Plain data shared by the KMS import modules. Nothing here holds a token handle's meaning or a Buffer, so
// these shapes can cross IPC and be written to the transcript as they are.
import type { KmsWrappingAlgorithm } from '../../hsm/types.js';
import type { CloudTarget } from './clouds/types.js';

export type { KmsWrappingAlgorithm } from '../../hsm/types.js';
export { KMS_WRAPPING_ALGORITHMS } from '../../hsm/types.js';

/** The AWS KMS key specs whose material this app can generate in a token and import (KMS CreateKey KeySpec). */
export const KMS_KEY_SPECS = [
  'SYMMETRIC_DEFAULT',
  'HMAC_224',
  'HMAC_256',
  'HMAC_384',
  'HMAC_512',
  'RSA_2048',
  'RSA_3072',
  'RSA_4096',
  'ECC_NIST_P256',
  'ECC_NIST_P384',
  'ECC_NIST_P521',
  'ECC_SECG_P256K1',
] as const;
export type KmsKeySpec = (typeof KMS_KEY_SPECS)[number];

/** The RSA sizes AWS offers for the wrapping key (GetParametersForImport WrappingKeySpec; SM2 is not supported here). */
export type WrappingKeySpec = 'RSA_2048' | 'RSA_3072' | 'RSA_4096';

/** Where the parameters came from, for the room and the transcript. */
export interface ParamsSource {
  kind: 'aws-cli-json' | 'console-zip' | 'console-folder' | 'files' | 'gcp-import-job-json' | 'gcp-public-key-pem' | 'azure-key-json' | 'azure-kek-pem' | 'vault-wrapping-key-json' | 'vault-public-key-pem';
  /** The path the user chose. */
  path: string;
  /** The file (or zip entry) each part was read from, and how it was encoded. */
  publicKeyFrom: string;
  /** AWS only: the other clouds take no import token. */
  importTokenFrom?: string;
  publicKeyEncoding: 'der' | 'pem' | 'base64' | 'jwk';
  importTokenEncoding?: 'binary' | 'base64';
}

export interface ImportParameters {
  /** The key ARN when the input names one (the AWS CLI prints it as KeyId). */
  keyArn?: string;
  /** The key id (a UUID for AWS); from the ARN, or given bare. */
  keyId: string;
  partition?: string;
  region?: string;
  account?: string;
  wrappingAlgorithm: KmsWrappingAlgorithm;
  wrappingKeySpec: WrappingKeySpec;
  /** DER SubjectPublicKeyInfo of the KMS wrapping key. */
  publicKeySpkiDer: Uint8Array;
  /** AWS's import token; empty for the other clouds, which take none. */
  importToken: Uint8Array;
  /** ISO 8601, UTC: until when the parameters (GCP: the import job; Azure: the KEK) can be used, when known. */
  validTo?: string;
  source: ParamsSource;
  /** Things the room must hear before it goes on (little time left, no ARN, base64-decoded files). */
  warnings: string[];
  /** Which cloud and where in it; absent means AWS as read by readImportParameters (kms/params/index.ts). */
  cloud?: CloudTarget;
}
