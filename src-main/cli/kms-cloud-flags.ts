// Which flags belong to which cloud, and the wrap a cloud's parameters imply (Google: the import job's
// method; Azure: always SHA-1 CKM_RSA_AES_KEY_WRAP; Vault: --hash-function), so the room types only what
// its cloud asks for and a flag meant for another cloud is refused instead of ignored.
import { AppError } from '../errors.js';
import { gcpMethodWrap, parseGcpImportMethod } from '../kms/params/gcp.js';
import { AZURE_WRAP } from '../kms/params/azure.js';
import { parseVaultHashFunction, vaultHashWrap } from '../kms/params/vault.js';
import { member, parseJsonObject, readParamsText } from '../kms/params/cloud-common.js';
import type { Cloud } from '../kms/clouds/types.js';
import { UsageError } from './args.js';
import type { KmsImportArgs } from './kms-import-command.js';

const ONLY: Record<string, Cloud> = {
  'key-arn': 'aws',
  'valid-to': 'aws',
  'import-type': 'aws',
  'key-material-description': 'aws',
  'key-material-id': 'aws',
  'import-job': 'gcp',
  'import-method': 'gcp',
  'kek-id': 'azure',
  'hash-function': 'vault',
};

export function checkCloudFlags(cloud: Cloud, values: Record<string, unknown>): void {
  for (const [flag, owner] of Object.entries(ONLY)) {
    if (values[flag] !== undefined && owner !== cloud) throw new UsageError(`--${flag} is for --cloud ${owner}, not ${cloud}.`);
  }
  if (cloud === 'aws' && values.target !== undefined) throw new UsageError('--target is for gcp, azure and vault; for aws give --key-arn ARN.');
  if (cloud !== 'aws' && values.target === undefined) throw new UsageError(`--target KEY is required for --cloud ${cloud}: ${cloud === 'gcp' ? 'the crypto key the version goes into' : cloud === 'azure' ? 'the name the key gets in the vault' : 'the transit key name'}.`);
}

async function impliedWrap(args: KmsImportArgs): Promise<string | undefined> {
  try {
    switch (args.cloud) {
      case 'aws':
        return undefined;
      case 'azure': {
        // A KEK.pem does not name its KEK: without --kek-id the ceremony would start only to stop at its parameters.
        if (args.kekId === undefined) {
          const text = await readParamsText(args.params, 'Azure KEK file', 'Bring the JSON of `az keyvault key show`.');
          if (!text.trimStart().startsWith('{')) throw new UsageError(`--params ${args.params} is not the JSON of \`az keyvault key show\`: give --kek-id KID (the KEK's kid, with its version) with a KEK.pem.`);
        }
        return AZURE_WRAP;
      }
      case 'vault':
        return vaultHashWrap(parseVaultHashFunction(args.hashFunction, '--hash-function'));
      case 'gcp': {
        if (args.importMethod !== undefined) return gcpMethodWrap(parseGcpImportMethod(args.importMethod, '--import-method', true)).wrappingAlgorithm;
        // The job's JSON names its method; the parameters step reads and checks the whole file again.
        const text = await readParamsText(args.params, 'Cloud KMS import job file', 'Bring the JSON of `gcloud kms import-jobs describe --format=json`.');
        if (!text.trimStart().startsWith('{')) {
          if (/^(?:name|importMethod|state|publicKey):/m.test(text)) throw new UsageError(`--params ${args.params} is the YAML gcloud prints by default: describe the job again with --format=json.`);
          throw new UsageError(`--params ${args.params} is not an import job's JSON: give --import-job and --import-method with a publicKey.pem.`);
        }
        return gcpMethodWrap(parseGcpImportMethod(member(parseJsonObject(text, args.params, 'Bring the JSON of `gcloud kms import-jobs describe --format=json`.'), 'importMethod'), `importMethod in ${args.params}`)).wrappingAlgorithm;
      }
    }
  } catch (e) {
    if (e instanceof AppError) throw new UsageError(`${e.message} ${e.remedy ?? ''}`.trim());
    throw e;
  }
}

/** Fills in --wrapping-algorithm from the cloud's parameters, or refuses one that disagrees with them. */
export async function settleWrappingAlgorithm(args: KmsImportArgs): Promise<void> {
  const implied = await impliedWrap(args);
  if (implied === undefined) return;
  if (args.wrappingAlgorithm !== '' && args.wrappingAlgorithm !== implied) {
    throw new UsageError(`--wrapping-algorithm ${args.wrappingAlgorithm}: the ${args.cloud} parameters ask for ${implied}; leave the flag out or give ${implied}.`);
  }
  args.wrappingAlgorithm = implied;
}
