// Which cloud's download a JSON document is, by the members only that cloud prints. A file chosen with the
// wrong cloud is refused with the cloud it is, instead of a puzzling "member missing".
import { AppError } from '../../errors.js';
import { CLOUD_NAMES, type Cloud } from '../clouds/types.js';
import { KMS_PARAMS_ERROR } from './arn.js';
import { asObject, member } from './cloud-common.js';

export function cloudOfJson(doc: Record<string, unknown>): Cloud | undefined {
  if (typeof member(doc, 'KeyId') === 'string' && typeof member(doc, 'ImportToken') === 'string') return 'aws';
  const name = member(doc, 'name');
  if (typeof member(doc, 'importMethod') === 'string' && typeof name === 'string' && name.includes('/importJobs/')) return 'gcp';
  if (typeof member(asObject(member(doc, 'key')), 'kid') === 'string') return 'azure';
  if (typeof member(asObject(member(doc, 'data')), 'public_key') === 'string') return 'vault';
  return undefined;
}

const WHAT: Record<Cloud, string> = {
  aws: 'AWS KMS import parameters (get-parameters-for-import)',
  gcp: "a Google Cloud KMS import job's description",
  azure: 'an Azure Key Vault key (az keyvault key show)',
  vault: "HashiCorp Vault transit's wrapping key",
};
const FLAG: Record<Cloud, string> = { aws: 'AWS KMS (--cloud aws)', gcp: 'Google Cloud KMS (--cloud gcp)', azure: 'Azure Key Vault / Managed HSM (--cloud azure)', vault: 'HashiCorp Vault transit (--cloud vault)' };

/** Refuses `doc` when it is another cloud's download than `cloud`'s. */
export function refuseOtherCloud(doc: Record<string, unknown>, cloud: Cloud, file: string): void {
  const is = cloudOfJson(doc);
  if (is && is !== cloud) {
    throw new AppError(KMS_PARAMS_ERROR, `${file} is ${WHAT[is]}, not ${CLOUD_NAMES[cloud]}'s.`, `Choose ${FLAG[is]} for this file, or bring ${CLOUD_NAMES[cloud]}'s own download.`);
  }
}
