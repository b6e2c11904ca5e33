// Starting the token host process: where its entry is, and how to fork it under Node and under Electron.
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TokenError } from '../../hsm/errors.js';

export const HOST_ENTRY_FILE = 'hsm-host.js';

/**
 * The built host entry: electron-vite emits out/main/hsm-host.js beside out/main/index.js, which holds this
 * code; one level up covers this module landing in a shared chunk (out/main/chunks/).
 */
export function defaultHostEntry(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, HOST_ENTRY_FILE), join(here, '..', HOST_ENTRY_FILE)];
  return candidates.find((c) => existsSync(c)) ?? (candidates[0] as string);
}

export function forkHost(entry: string, dataDir: string): ChildProcess {
  if (!existsSync(entry)) {
    throw new TokenError('HOST_MISSING', `The token host program ${entry} is missing, so no token can be used.`, 'Reinstall Key Ceremony, or run `electron-vite build` when working from the source tree.');
  }
  return fork(entry, [dataDir], {
    // Structured clone instead of JSON: Uint8Array (key handles' ids, wrapped keys, SPKI) arrives as bytes.
    serialization: 'advanced',
    // Inside Electron, process.execPath is the Electron binary: ELECTRON_RUN_AS_NODE makes the child plain
    // Node with Electron's ABI, so the native modules built for the app (pkcs11js, usb) load there too.
    execPath: process.execPath,
    execArgv: [],
    env: { ...process.env, ...(process.versions.electron === undefined ? {} : { ELECTRON_RUN_AS_NODE: '1' }) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}
