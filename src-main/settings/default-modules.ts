// Where the usual PKCS#11 modules live on each OS. Only those present on this machine become defaults;
// any other library is added by choosing its file in the app's file dialog (or `--module` on the CLI).
import { existsSync } from 'node:fs';

const CANDIDATES: Record<string, string[]> = {
  linux: [
    '/usr/lib/softhsm/libsofthsm2.so',
    '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
    '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
    '/usr/local/lib/softhsm/libsofthsm2.so',
    '/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so',
    '/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so',
    '/usr/lib/x86_64-linux-gnu/pkcs11/yubihsm_pkcs11.so',
    '/usr/lib/aarch64-linux-gnu/pkcs11/yubihsm_pkcs11.so',
    '/usr/lib64/pkcs11/yubihsm_pkcs11.so',
    '/usr/local/lib/pkcs11/yubihsm_pkcs11.so',
  ],
  darwin: [
    '/opt/homebrew/lib/softhsm/libsofthsm2.so',
    '/usr/local/lib/softhsm/libsofthsm2.so',
    '/Library/OpenSC/lib/opensc-pkcs11.so',
    '/usr/local/lib/pkcs11/yubihsm_pkcs11.dylib',
    '/opt/homebrew/lib/pkcs11/yubihsm_pkcs11.dylib',
  ],
  win32: [
    'C:\\SoftHSM2\\lib\\softhsm2-x64.dll',
    'C:\\Program Files\\OpenSC Project\\OpenSC\\pkcs11\\opensc-pkcs11.dll',
    'C:\\Program Files\\Yubico\\YubiHSM Shell\\bin\\pkcs11\\yubihsm_pkcs11.dll',
  ],
};

export function candidateModulePaths(platform: NodeJS.Platform = process.platform): string[] {
  return CANDIDATES[platform] ?? [];
}

/** The candidates that exist here, with symlinked duplicates (Debian links both SoftHSM paths) kept once. */
export function defaultModulePaths(platform: NodeJS.Platform = process.platform, exists: (p: string) => boolean = existsSync): string[] {
  return candidateModulePaths(platform).filter((p) => exists(p));
}
