import { existsSync } from 'node:fs';
import { probeKmsCapabilities } from '../../hsm/capabilities.js';
import type { ModuleConfig } from '../../hsm/types.js';
import { defaultModulePaths } from '../settings/default-modules.js';
import { takeInventory } from '../tokens/inventory.js';
import { createTokenLayer } from '../tokens/token-layer.js';
import { defaultDataDir } from '../data-dir.js';
import { isYubiHsmEntry, normalizeYubiHsmEntry } from '../settings/yubihsm-module.js';
import { parseStrict, UsageError } from './args.js';
import { formatInventory } from './format-inventory.js';
import type { Output } from './output.js';

export const TOKENS_HELP = `Usage: keyceremony tokens [--module PATH [--init-parameters STR]]... [--json]

Lists every slot and token of the given PKCS#11 modules (by default the usual
modules installed on this machine), and which AWS KMS wrapping algorithms each
token can perform inside the token: RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256,
RSA_AES_KEY_WRAP_SHA_1, RSA_AES_KEY_WRAP_SHA_256.

Options:
  --module PATH             A PKCS#11 library to load; repeat for several.
                            A YubiHSM 2: yubihsm:usb, or yubihsm:http://127.0.0.1:PORT
                            for a yubihsm-connector on this computer.
  --init-parameters STR     C_Initialize library parameters for the --module
                            just before it (NSS softoken: "configdir='sql:DIR'
                            certPrefix='' keyPrefix='' secmod='secmod.db' flags=").
  --json                    Print the inventory as JSON.
  -h, --help                Show this help.

SoftHSM reads its configuration from SOFTHSM2_CONF.
Exit status: 0 when every module loaded, 1 when a module failed (the others are
still listed), 2 for a usage error.
`;

export function modulesFromArgs(argv: string[]): { modules: ModuleConfig[]; json: boolean; help: boolean } {
  const { values, tokens } = parseStrict(argv, {
    module: { type: 'string', multiple: true },
    'init-parameters': { type: 'string', multiple: true },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  const modules: ModuleConfig[] = [];
  for (const token of tokens ?? []) {
    if (token.kind !== 'option') continue;
    if (token.name === 'module') {
      if (!token.value) throw new UsageError("--module needs a library path, e.g. --module /usr/lib/softhsm/libsofthsm2.so");
      if (isYubiHsmEntry(token.value)) {
        try {
          modules.push({ path: normalizeYubiHsmEntry(token.value), source: 'user' });
        } catch (error) {
          throw new UsageError(`--module ${token.value}: ${(error as Error).message.replace(/^path( \(connector URL\))?: /, '')} ${(error as { remedy?: string }).remedy ?? ''}`.trim());
        }
        continue;
      }
      modules.push({ path: token.value, source: 'user' });
    } else if (token.name === 'init-parameters') {
      const last = modules.at(-1);
      if (!last) throw new UsageError('--init-parameters must follow the --module it belongs to.');
      if (isYubiHsmEntry(last.path)) throw new UsageError(`--init-parameters: ${last.path} is a YubiHSM 2 entry, which takes no init parameters.`);
      if (last.initParameters !== undefined) throw new UsageError(`--init-parameters given twice for --module ${last.path}.`);
      last.initParameters = token.value ?? '';
    }
  }
  return { modules, json: values.json === true, help: values.help === true };
}

export async function tokensCommand(argv: string[], out: Output): Promise<number> {
  let parsed;
  try {
    parsed = modulesFromArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    out.stderr.write(`keyceremony tokens: ${error.message}\n\n${TOKENS_HELP}`);
    return 2;
  }
  if (parsed.help) {
    out.stdout.write(TOKENS_HELP);
    return 0;
  }
  const modules = parsed.modules.length > 0 ? parsed.modules : defaultModulePaths(process.platform, existsSync).map((path): ModuleConfig => ({ path, source: 'default' }));
  if (modules.length === 0) {
    out.stderr.write('keyceremony tokens: no PKCS#11 module found in the usual places; name one with --module PATH.\n');
    return 1;
  }
  // Labels of YubiHSMs are remembered in the app's data directory (the device shows none before a login).
  const dataDir = defaultDataDir();
  const layer = createTokenLayer(dataDir);
  try {
    await layer.configureModules(modules);
    const inventory = await takeInventory(layer, probeKmsCapabilities, { dataDir });
    out.stdout.write(parsed.json ? `${JSON.stringify(inventory, null, 2)}\n` : formatInventory(inventory));
    const failed = inventory.modules.filter((m) => !m.loaded || m.error);
    for (const m of failed) {
      out.stderr.write(`keyceremony tokens: module ${m.path}: ${m.error?.message ?? 'not loaded'}${m.error?.remedy ? ` ${m.error.remedy}` : ''}\n`);
    }
    return failed.length > 0 ? 1 : 0;
  } finally {
    await layer.close();
  }
}
