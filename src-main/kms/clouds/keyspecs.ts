// Our key specs (AWS's names, what the token generates) and each cloud's own names for the same material.
// The material is the same bytes whatever the name: 32 raw bytes for a symmetric key, the HMAC key's raw
// bytes, PKCS#8 DER for RSA and EC. A spec a cloud does not take is refused here, before any key exists.
import { AppError } from '../../errors.js';
import { KMS_KEY_SPECS, type KmsKeySpec } from '../types.js';
import { CLOUD_NAMES, type Cloud } from './types.js';

export const CLOUD_KEYSPEC_ERROR = 'KMS_CLOUD_KEY_SPEC';

/** Per cloud: for each key spec it takes, its own names (the first is the one used when none is given). */
type Names = Partial<Record<KmsKeySpec, readonly string[]>>;

const rsaGcp = (bits: number): string[] => [
  `RSA_SIGN_PKCS1_${bits}_SHA256`,
  `RSA_SIGN_PSS_${bits}_SHA256`,
  `RSA_DECRYPT_OAEP_${bits}_SHA256`,
  `RSA_DECRYPT_OAEP_${bits}_SHA1`,
  `RSA_SIGN_RAW_PKCS1_${bits}`,
  ...(bits === 4096 ? ['RSA_SIGN_PKCS1_4096_SHA512', 'RSA_SIGN_PSS_4096_SHA512', 'RSA_DECRYPT_OAEP_4096_SHA512'] : []),
];

export const CLOUD_KEY_NAMES: Record<Cloud, Names> = {
  aws: Object.fromEntries(KMS_KEY_SPECS.map((s) => [s, [s]])) as Names,
  // CryptoKeyVersionAlgorithm. Cloud KMS has no P-521.
  gcp: {
    SYMMETRIC_DEFAULT: ['GOOGLE_SYMMETRIC_ENCRYPTION', 'AES_256_GCM', 'AES_256_CBC', 'AES_256_CTR'],
    HMAC_224: ['HMAC_SHA224'],
    HMAC_256: ['HMAC_SHA256'],
    HMAC_384: ['HMAC_SHA384'],
    HMAC_512: ['HMAC_SHA512'],
    RSA_2048: rsaGcp(2048),
    RSA_3072: rsaGcp(3072),
    RSA_4096: rsaGcp(4096),
    ECC_NIST_P256: ['EC_SIGN_P256_SHA256'],
    ECC_NIST_P384: ['EC_SIGN_P384_SHA384'],
    ECC_SECG_P256K1: ['EC_SIGN_SECP256K1_SHA256'],
  },
  // kty and size/curve as `az keyvault key import` takes them (--kty, --curve). No HMAC keys; oct only in a Managed HSM.
  azure: {
    SYMMETRIC_DEFAULT: ['oct-256'],
    RSA_2048: ['RSA-2048'],
    RSA_3072: ['RSA-3072'],
    RSA_4096: ['RSA-4096'],
    ECC_NIST_P256: ['EC-P-256'],
    ECC_NIST_P384: ['EC-P-384'],
    ECC_NIST_P521: ['EC-P-521'],
    ECC_SECG_P256K1: ['EC-P-256K'],
  },
  // Transit key types that take imported material. No secp256k1; HMAC keys of 32 to 512 bytes.
  vault: {
    SYMMETRIC_DEFAULT: ['aes256-gcm96', 'chacha20-poly1305'],
    HMAC_256: ['hmac'],
    HMAC_384: ['hmac'],
    HMAC_512: ['hmac'],
    RSA_2048: ['rsa-2048'],
    RSA_3072: ['rsa-3072'],
    RSA_4096: ['rsa-4096'],
    ECC_NIST_P256: ['ecdsa-p256'],
    ECC_NIST_P384: ['ecdsa-p384'],
    ECC_NIST_P521: ['ecdsa-p521'],
  },
};

/** Every name the cloud takes, ours first. */
export function cloudKeySpecNames(cloud: Cloud): string[] {
  const names = CLOUD_KEY_NAMES[cloud];
  const ours = KMS_KEY_SPECS.filter((s) => names[s]);
  const own = [...new Set(ours.flatMap((s) => names[s] ?? []))].filter((n) => !(ours as readonly string[]).includes(n));
  return [...ours, ...own];
}

function refuse(cloud: Cloud, field: string, value: string, why: string): never {
  throw new AppError(CLOUD_KEYSPEC_ERROR, `${field} ${JSON.stringify(value)} ${why}`, `For ${CLOUD_NAMES[cloud]} use one of ${cloudKeySpecNames(cloud).join(', ')}.`);
}

/**
 * gcloud prints and takes Google's algorithm names in lower case with dashes (ec-sign-p384-sha384): a room that
 * copies one from gcloud's help means the API's EC_SIGN_P384_SHA384. Any other value is returned unchanged.
 */
export function fromGcloudSpelling(cloud: Cloud, value: string): string {
  if (cloud !== 'gcp' || !/^[a-z0-9]+(?:-[a-z0-9]+)+$/.test(value)) return value;
  const api = value.toUpperCase().replace(/-/g, '_');
  return Object.values(CLOUD_KEY_NAMES.gcp).some((n) => n?.includes(api)) ? api : value;
}

/**
 * Our spec and the cloud's name for it, from either name (for Google also gcloud's spelling). An HMAC spec for
 * Vault keeps our name (Vault's "hmac" does not say the size). Refuses a spec the cloud does not take.
 */
export function resolveCloudKeySpec(cloud: Cloud, given: string, field = '--key-spec'): { keySpec: KmsKeySpec; algorithm: string } {
  const value = fromGcloudSpelling(cloud, given);
  const names = CLOUD_KEY_NAMES[cloud];
  if ((KMS_KEY_SPECS as readonly string[]).includes(value)) {
    const spec = value as KmsKeySpec;
    const own = names[spec];
    if (!own) refuse(cloud, field, value, `is a key spec ${CLOUD_NAMES[cloud]} cannot import.`);
    return { keySpec: spec, algorithm: own[0] as string };
  }
  const specs = KMS_KEY_SPECS.filter((s) => names[s]?.includes(value));
  if (specs.length === 1) return { keySpec: specs[0] as KmsKeySpec, algorithm: value };
  if (specs.length > 1) refuse(cloud, field, value, `names more than one key size (${specs.join(', ')}); give the size with our name.`);
  const elsewhere = (Object.keys(CLOUD_KEY_NAMES) as Cloud[]).filter((c) => c !== cloud && KMS_KEY_SPECS.some((s) => CLOUD_KEY_NAMES[c][s]?.includes(value)));
  refuse(cloud, field, value, elsewhere.length > 0 ? `is ${CLOUD_NAMES[elsewhere[0] as Cloud]}'s name, not ${CLOUD_NAMES[cloud]}'s.` : 'is not a key spec this application can import.');
}

/** The cloud's own name for `keySpec`: `algorithm` when given (checked to be that spec), else the default. */
export function cloudAlgorithmFor(cloud: Cloud, keySpec: KmsKeySpec, algorithm: string | undefined, field = 'targetAlgorithm'): string {
  // A name shared by several sizes (Vault's "hmac") is this spec's when the spec is known.
  if (algorithm !== undefined && CLOUD_KEY_NAMES[cloud][keySpec]?.includes(algorithm)) return algorithm;
  const r = resolveCloudKeySpec(cloud, algorithm ?? keySpec, field);
  if (r.keySpec !== keySpec) {
    throw new AppError(CLOUD_KEYSPEC_ERROR, `${field} ${JSON.stringify(algorithm)} is ${r.keySpec} material, but this ceremony makes ${keySpec}.`, `Give a ${CLOUD_NAMES[cloud]} name for ${keySpec}: ${(CLOUD_KEY_NAMES[cloud][keySpec] ?? []).join(', ')}.`);
  }
  return r.algorithm;
}
