// What every ceremony command needs before its first step: the token module loaded (or a clear exit 1),
// and the same CeremonyService the app uses, over the shipped scripts.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModuleConfig } from '../../hsm/types.js';
import { checkAirGap, type AirGapStatus } from '../airgap/airgap.js';
import { CeremonyService, type CeremonyServiceOptions } from '../ceremony/engine/service.js';
import { isYubiHsmEntry, normalizeYubiHsmEntry } from '../settings/yubihsm-module.js';
import { createTokenLayer } from '../tokens/token-layer.js';
import type { Output } from './output.js';

/** The scripts shipped beside the built CLI (out/main/../../ceremonies), or those of the checkout. */
export function shippedScriptsDir(script: string): string {
  const beside = fileURLToPath(new URL('../../ceremonies/', import.meta.url));
  if (existsSync(join(beside, `${script}.yaml`))) return beside;
  return resolve('ceremonies');
}

export interface CeremonyRuntimeOptions {
  command: string;
  script: string;
  module: string;
  initParameters?: string;
  dataDir: string;
  airGap?: () => AirGapStatus;
  scriptsDir?: string;
  /** Further engine options (tests lower the scrypt cost, the crash test pauses after a share). */
  engine?: Pick<CeremonyServiceOptions, 'scrypt' | 'onShareIssued' | 'onRecorded' | 'onActionDone'>;
}

export interface CeremonyRuntime {
  service: CeremonyService;
  close(): Promise<void>;
}

/** Load the module and build the service; on a module that does not load, say why and return null. */
export async function openCeremonyRuntime(options: CeremonyRuntimeOptions, out: Output): Promise<CeremonyRuntime | null> {
  if (isYubiHsmEntry(options.module)) {
    try {
      normalizeYubiHsmEntry(options.module, options.initParameters);
    } catch (error) {
      const e = error as Error & { remedy?: string };
      out.stderr.write(`keyceremony ${options.command}: --module ${options.module}: ${e.message}${e.remedy ? ` ${e.remedy}` : ''}\n`);
      return null;
    }
  }
  // PKCS#11 libraries and YubiHSM 2 entries (yubihsm:usb, yubihsm:http://127.0.0.1:PORT) alike; the
  // module is configured under the id given, which the command then names the token by.
  const layer = createTokenLayer(options.dataDir);
  const moduleConfig: ModuleConfig = { path: options.module, source: 'user' };
  if (options.initParameters !== undefined) moduleConfig.initParameters = options.initParameters;
  const [status] = await layer.configureModules([moduleConfig]);
  if (!status?.loaded) {
    out.stderr.write(`keyceremony ${options.command}: --module ${options.module}: ${status?.error?.message ?? 'could not be loaded'}${status?.error?.remedy ? ` ${status.error.remedy}` : ''}\n`);
    await layer.close();
    return null;
  }
  const service = new CeremonyService({
    layer,
    dataDir: options.dataDir,
    scriptsDir: options.scriptsDir ?? shippedScriptsDir(options.script),
    airGap: options.airGap ?? (() => checkAirGap()),
    appVersion: process.env.npm_package_version ?? '0.1.0',
    ...(options.engine?.scrypt ? { scrypt: options.engine.scrypt } : {}),
    ...(options.engine?.onShareIssued ? { onShareIssued: options.engine.onShareIssued } : {}),
    ...(options.engine?.onRecorded ? { onRecorded: options.engine.onRecorded } : {}),
    ...(options.engine?.onActionDone ? { onActionDone: options.engine.onActionDone } : {}),
  });
  return {
    service,
    close: async () => {
      await service.close();
      await layer.close();
    },
  };
}

/**
 * The service over a data directory's records alone, for the commands that read or record without a token
 * (`ceremonies`, `abandon`): no module is loaded, so no token is ever touched.
 */
export function openRecordsRuntime(dataDir: string, scriptsDir: string = shippedScriptsDir('kms-import')): CeremonyRuntime {
  const layer = createTokenLayer(dataDir);
  const service = new CeremonyService({ layer, dataDir, scriptsDir, airGap: () => checkAirGap(), appVersion: process.env.npm_package_version ?? '0.1.0' });
  return {
    service,
    close: async () => {
      await service.close();
      await layer.close();
    },
  };
}
