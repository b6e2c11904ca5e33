// NSS softoken for tests: a fresh, empty-password NSS database in a temporary directory, and the module
// configuration that opens it. Slot 2 of the softoken is the "NSS Certificate DB" token, which holds
// persistent objects; slot 1 ("NSS Generic Crypto Services") is session-only.
//
//   const nss = createNssDb();
//   await layer.configureModules([nss.module]);
//   ... nss.cleanup();
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ModuleConfig } from '../../hsm/types.js';

export const NSS_SOFTOKEN_MODULE = '/usr/lib/x86_64-linux-gnu/libsoftokn3.so';
/** The token label of the database slot. */
export const NSS_DB_TOKEN_LABEL = 'NSS Certificate DB';

export interface NssDb {
  dir: string;
  /** Pass to TokenLayer.configureModules. */
  module: ModuleConfig;
  cleanup(): void;
}

export function nssInitParameters(dir: string): string {
  return `configdir='sql:${dir}' certPrefix='' keyPrefix='' secmod='secmod.db' flags= `;
}

/**
 * A fresh database. Without `password` it has an empty one (no login needed); with one, that is the token's
 * user PIN (the database password), as a room would bring it to enrol-token.
 */
export function createNssDb(options: { password?: string } = {}): NssDb {
  const dir = mkdtempSync(join(tmpdir(), 'kc-nss-'));
  if (options.password === undefined) {
    // certutil (libnss3-tools) creates cert9.db/key4.db with an empty password, so no login is needed.
    execFileSync('certutil', ['-N', '--empty-password', '-d', `sql:${dir}`], { stdio: 'pipe' });
  } else {
    const file = join(dir, 'password.txt');
    writeFileSync(file, `${options.password}\n`, { mode: 0o600 });
    execFileSync('certutil', ['-N', '-d', `sql:${dir}`, '-f', file], { stdio: 'pipe' });
    rmSync(file);
  }
  return {
    dir,
    module: { path: NSS_SOFTOKEN_MODULE, initParameters: nssInitParameters(dir), source: 'demo' },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
