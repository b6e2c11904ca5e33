// Plain data shared by the KMS import modules. Nothing here holds a token handle's meaning or a Buffer, so
// these shapes can cross IPC and be written to the transcript as they are.
import type { KmsWrappingAlgorithm } from '../../hsm/types.js';

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
  kind: 'aws-cli-json' | 'console-zip' | 'console-folder' | 'files';
  /** The path the user chose. */
  path: string;
  /** The file (or zip entry) each part was read from, and how it was encoded. */
  publicKeyFrom: string;
  importTokenFrom: string;
  publicKeyEncoding: 'der' | 'pem' | 'base64';
  importTokenEncoding: 'binary' | 'base64';
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
  importToken: Uint8Array;
  /** ISO 8601, UTC. */
  validTo: string;
  source: ParamsSource;
  /** Things the room must hear before it goes on (little time left, no ARN, base64-decoded files). */
  warnings: string[];
}
