// The four targets one ceremony exports to. Every one of them takes the same in-token wrap (an RSA-OAEP
// wrap of a fresh AES-256 key, then RFC 5649 of the material: CKM_RSA_AES_KEY_WRAP), or for Google's
// direct methods plain RSA-OAEP, so the wrap itself is named in AWS's words (KmsWrappingAlgorithm) and
// each cloud's own name for it is kept beside it for the room and the transcript.
export const CLOUDS = ['aws', 'gcp', 'azure', 'vault'] as const;
export type Cloud = (typeof CLOUDS)[number];

export const CLOUD_NAMES: Record<Cloud, string> = {
  aws: 'AWS KMS',
  gcp: 'Google Cloud KMS',
  azure: 'Azure Key Vault / Managed HSM',
  vault: 'HashiCorp Vault transit',
};

/** Google Cloud KMS import job methods (ImportJob.ImportMethod). */
export const GCP_IMPORT_METHODS = [
  'RSA_OAEP_3072_SHA1_AES_256',
  'RSA_OAEP_4096_SHA1_AES_256',
  'RSA_OAEP_3072_SHA256_AES_256',
  'RSA_OAEP_4096_SHA256_AES_256',
  'RSA_OAEP_3072_SHA256',
  'RSA_OAEP_4096_SHA256',
] as const;
export type GcpImportMethod = (typeof GCP_IMPORT_METHODS)[number];

/** Vault transit's hash_function values this app can produce (Vault also names SHA224/384/512). */
export const VAULT_HASH_FUNCTIONS = ['SHA1', 'SHA256'] as const;
export type VaultHashFunction = (typeof VAULT_HASH_FUNCTIONS)[number];

/** AWS ImportKeyMaterial ImportType (symmetric keys; June 2025). */
export const AWS_IMPORT_TYPES = ['NEW_KEY_MATERIAL', 'EXISTING_KEY_MATERIAL'] as const;
export type AwsImportType = (typeof AWS_IMPORT_TYPES)[number];

/** What each cloud adds to the common ImportParameters: where the key goes and what the cloud calls things. */
export type CloudTarget =
  | {
      cloud: 'aws';
      /** The AWS key spec as the cloud names it (our names are AWS's). */
      algorithm: string;
      importType?: AwsImportType;
      keyMaterialDescription?: string;
      keyMaterialId?: string;
    }
  | {
      cloud: 'gcp';
      /** projects/P/locations/L/keyRings/R/importJobs/J */
      importJob: string;
      importMethod: GcpImportMethod;
      project: string;
      location: string;
      keyRing: string;
      /** The crypto key the version is imported into (its id in the key ring). */
      cryptoKey: string;
      /** CryptoKeyVersionAlgorithm, e.g. GOOGLE_SYMMETRIC_ENCRYPTION, EC_SIGN_P256_SHA256. */
      algorithm: string;
      /** ACTIVE, checked; absent when only publicKey.pem was given. */
      state?: string;
      protectionLevel?: string;
    }
  | {
      cloud: 'azure';
      /** The KEK's key id with version: https://<vault>.vault.azure.net/keys/<name>/<version>. */
      kekKid: string;
      vaultName: string;
      managedHsm: boolean;
      /** The name of the key the .byok file is imported as. */
      keyName: string;
      kty: 'RSA' | 'EC' | 'oct';
      curve?: 'P-256' | 'P-384' | 'P-521' | 'P-256K';
      /** kty plus size or curve as the room reads it, e.g. RSA-3072, EC-P-256, oct-256. */
      algorithm: string;
    }
  | {
      cloud: 'vault';
      /** The transit key name the material is imported as. */
      keyName: string;
      /** The transit mount path (default transit). */
      mount: string;
      hashFunction: VaultHashFunction;
      /** Vault's key type, e.g. aes256-gcm96, ecdsa-p256, rsa-2048, hmac. */
      algorithm: string;
    };
