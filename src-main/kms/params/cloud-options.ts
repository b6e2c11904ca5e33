// What the parameters step is told besides the file: which cloud, the ceremony's wrap and key spec, where
// in the cloud the key goes, and the few things a cloud's download does not carry.
import type { KmsKeySpec } from '../types.js';
import type { Cloud } from '../clouds/types.js';

export interface CloudParamsOptions {
  cloud: Cloud;
  /** The file (or, for AWS, the folder) the room chose. */
  path: string;
  /** The ceremony's wrapping algorithm (AWS's names for the in-token wrap). */
  wrappingAlgorithm: unknown;
  keySpec: KmsKeySpec;
  /** GCP: the crypto key (id or full name); Azure: the new key's name; Vault: the transit key name (or MOUNT/keys/NAME). */
  target?: string;
  /** The cloud's own name for the key spec (GCP algorithm, Azure kty-size, Vault type); default from the key spec. */
  targetAlgorithm?: string;
  /** GCP with only publicKey.pem: the job's name and method. */
  importJob?: string;
  importMethod?: string;
  /** Azure with only KEK.pem: the KEK's key id with version. */
  kekId?: string;
  /** Vault: the hash_function the import will name (SHA256 unless given). */
  hashFunction?: string;
  /** AWS: as before, and the June 2025 import options for symmetric keys. */
  keyArn?: string;
  validTo?: string;
  importType?: string;
  keyMaterialDescription?: string;
  keyMaterialId?: string;
  now: () => Date;
}
