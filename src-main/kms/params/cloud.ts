// The parameters step for any cloud: AWS's reader as before (with the June 2025 import options), or the
// Google, Azure and Vault readers. Each refuses, with the field and the remedy, before anything is generated.
import { parseAwsImportOptions } from '../clouds/aws-import-type.js';
import type { ImportParameters } from '../types.js';
import type { CloudParamsOptions } from './cloud-options.js';
import { readAzureParameters } from './azure.js';
import { readGcpParameters } from './gcp.js';
import { readImportParameters } from './index.js';
import { readVaultParameters } from './vault.js';
import { stat } from 'node:fs/promises';
import { AppError } from '../../errors.js';
import { parseJsonObject, readParamsText } from './cloud-common.js';
import { refuseOtherCloud } from './sniff.js';

export async function readCloudImportParameters(o: CloudParamsOptions): Promise<ImportParameters> {
  switch (o.cloud) {
    case 'gcp':
      return readGcpParameters(o);
    case 'azure':
      return readAzureParameters(o);
    case 'vault':
      return readVaultParameters(o);
    case 'aws': {
      const aws = parseAwsImportOptions(o.keySpec, o);
      const params = await readImportParameters(
        { path: o.path },
        { wrappingAlgorithm: o.wrappingAlgorithm, keySpec: o.keySpec, now: o.now, ...(o.keyArn !== undefined ? { keyRef: o.keyArn } : {}), ...(o.validTo !== undefined ? { validTo: o.validTo } : {}) },
      ).catch(async (e: unknown) => {
        // Another cloud's JSON fails AWS's reader on a missing member: say which cloud it is instead.
        if (e instanceof AppError) await refuseIfOtherCloud(o.path);
        throw e;
      });
      return { ...params, cloud: { cloud: 'aws', algorithm: o.keySpec, ...aws } };
    }
  }
}

async function refuseIfOtherCloud(path: string): Promise<void> {
  let doc: Record<string, unknown>;
  try {
    if (!(await stat(path)).isFile()) return;
    doc = parseJsonObject(await readParamsText(path, 'import parameters file', ''), path, '');
  } catch {
    return;
  }
  refuseOtherCloud(doc, 'aws', path);
}

export type { CloudParamsOptions } from './cloud-options.js';
