// What the room types at the parameters step besides the file, per cloud: AWS's algorithm, key ARN and
// expiry (its downloads do not always say them) and its import type; Google's crypto key (and job and
// method with a bare publicKey.pem); Azure's new key name (and KEK id with a bare KEK.pem); Vault's transit
// key and hash function. Only the chosen cloud's fields are sent; main checks each one.
export const CLOUD_CHOICES = [
  { value: 'aws', label: 'AWS KMS' },
  { value: 'gcp', label: 'Google Cloud KMS' },
  { value: 'azure', label: 'Azure Key Vault / Managed HSM' },
  { value: 'vault', label: 'HashiCorp Vault transit' },
] as const;
export type CloudChoice = (typeof CLOUD_CHOICES)[number]['value'];

export function cloudName(cloud: string): string {
  return CLOUD_CHOICES.find((c) => c.value === cloud)?.label ?? cloud;
}

/** What each cloud's file is, in the room's words. */
export const CLOUD_FILE_HINT: Record<CloudChoice, string> = {
  aws: 'What aws kms get-parameters-for-import --output json printed, or the console download (zip or folder).',
  gcp: 'The JSON of gcloud kms import-jobs describe JOB --format=json, or the job\'s publicKey.pem.',
  azure: 'The JSON of az keyvault key show for the key exchange key (KEK), or KEK.pem from az keyvault key download.',
  vault: 'The JSON of vault read -format=json transit/wrapping_key.',
};

export class CloudParams {
  cloud = $state<CloudChoice>('aws');
  wrappingAlgorithm = $state('RSAES_OAEP_SHA_1');
  keyArn = $state('');
  validTo = $state('');
  importType = $state('');
  keyMaterialDescription = $state('');
  target = $state('');
  importJob = $state('');
  importMethod = $state('');
  kekId = $state('');
  hashFunction = $state('SHA256');

  /** The step input's cloud fields, or what is still missing in words. */
  input(): Record<string, unknown> | string {
    const t = (s: string) => s.trim();
    if (this.cloud === 'aws') {
      const out: Record<string, unknown> = { wrappingAlgorithm: this.wrappingAlgorithm };
      if (t(this.keyArn)) out.keyArn = t(this.keyArn);
      if (t(this.validTo)) out.validTo = t(this.validTo);
      if (this.importType) out.importType = this.importType;
      if (this.importType && t(this.keyMaterialDescription)) out.keyMaterialDescription = t(this.keyMaterialDescription);
      return out;
    }
    if (!t(this.target)) return this.cloud === 'gcp' ? 'Type the crypto key the version goes into.' : this.cloud === 'azure' ? 'Type the name the key gets in the vault.' : 'Type the transit key name.';
    // The ceremony's own wrapping algorithm is used: main checks it against the cloud's parameters.
    const out: Record<string, unknown> = { cloud: this.cloud, target: t(this.target) };
    if (this.cloud === 'gcp') {
      if (t(this.importJob)) out.importJob = t(this.importJob);
      if (t(this.importMethod)) out.importMethod = t(this.importMethod);
    }
    if (this.cloud === 'azure' && t(this.kekId)) out.kekId = t(this.kekId);
    if (this.cloud === 'vault') out.hashFunction = this.hashFunction;
    return out;
  }
}
