// The AWS KMS rules that tie a wrapping algorithm to a wrapping key size and to the key spec being imported
// (AWS ImportKeyMaterial / GetParametersForImport documentation, FACTS.md). Pure, so each rule has a
// table-driven unit test, and called before any token is touched.
import { AppError } from '../errors.js';
import { KMS_KEY_SPECS, KMS_WRAPPING_ALGORITHMS, type KmsKeySpec, type KmsWrappingAlgorithm, type WrappingKeySpec } from './types.js';

export const KMS_RULE_ERROR = 'KMS_RULE';

/**
 * The wrapping algorithm the user says they requested. The GetParametersForImport response does not name
 * it, so it is typed or chosen in the room; retired and unsupported names get their own sentence.
 */
export function parseWrappingAlgorithm(value: unknown, field = 'wrappingAlgorithm'): KmsWrappingAlgorithm {
  if (typeof value === 'string' && (KMS_WRAPPING_ALGORITHMS as readonly string[]).includes(value)) return value as KmsWrappingAlgorithm;
  if (value === 'RSAES_PKCS1_V1_5') {
    throw new AppError(
      KMS_RULE_ERROR,
      `${field} RSAES_PKCS1_V1_5 is retired: AWS KMS no longer accepts it for importing key material.`,
      `Request new import parameters with one of ${KMS_WRAPPING_ALGORITHMS.join(', ')}.`,
    );
  }
  if (value === 'SM2PKE') {
    throw new AppError(
      KMS_RULE_ERROR,
      `${field} SM2PKE (China Regions only) is not supported by this application.`,
      `Request new import parameters with one of ${KMS_WRAPPING_ALGORITHMS.join(', ')}.`,
    );
  }
  throw new AppError(KMS_RULE_ERROR, `${field} ${JSON.stringify(value)} is not an AWS KMS wrapping algorithm.`, `Use one of ${KMS_WRAPPING_ALGORITHMS.join(', ')}.`);
}

export function parseKeySpec(value: unknown, field = 'keySpec'): KmsKeySpec {
  if (typeof value === 'string' && (KMS_KEY_SPECS as readonly string[]).includes(value)) return value as KmsKeySpec;
  throw new AppError(KMS_RULE_ERROR, `${field} ${JSON.stringify(value)} is not a key spec this application can import.`, `Use one of ${KMS_KEY_SPECS.join(', ')}.`);
}

export function isAsymmetric(spec: KmsKeySpec): boolean {
  return spec.startsWith('RSA_') || spec.startsWith('ECC_');
}

/**
 * Refuse combinations AWS KMS refuses, before anything is generated: RSA private keys only with
 * RSA_AES_KEY_WRAP_* (a PKCS#8 RSA key is far larger than one OAEP block), and ECC_NIST_P521 not with
 * RSAES_OAEP_* under an RSA_2048 wrapping key (its PKCS#8 does not fit in one OAEP block of 2048 bits).
 */
export function checkAlgorithmForKeySpec(keySpec: KmsKeySpec, algorithm: KmsWrappingAlgorithm, wrappingKeySpec: WrappingKeySpec): void {
  const oaep = algorithm.startsWith('RSAES_OAEP');
  if (keySpec.startsWith('RSA_') && oaep) {
    throw new AppError(
      KMS_RULE_ERROR,
      `wrappingAlgorithm ${algorithm} cannot carry key spec ${keySpec}: AWS KMS imports RSA private keys only with RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256.`,
      'Request new import parameters with RSA_AES_KEY_WRAP_SHA_256 (or RSA_AES_KEY_WRAP_SHA_1).',
    );
  }
  if (keySpec === 'ECC_NIST_P521' && oaep && wrappingKeySpec === 'RSA_2048') {
    throw new AppError(
      KMS_RULE_ERROR,
      `wrappingAlgorithm ${algorithm} with wrapping key spec RSA_2048 cannot carry key spec ECC_NIST_P521: AWS KMS does not allow this combination.`,
      'Request new import parameters with an RSA_3072 or RSA_4096 wrapping key, or with RSA_AES_KEY_WRAP_SHA_256.',
    );
  }
}
