// SoftHSM 2 for tests: a private token directory and softhsm2.conf per test file, so tests never see each
// other's tokens or the machine's. Shared by the integration and e2e tiers.
//
//   const env = createSoftHsmEnv();              // sets process.env.SOFTHSM2_CONF
//   initSoftHsmToken('ceremony', '87654321', '12345678');
//   ... new Pkcs11TokenLayer().configureModules([{ path: SOFTHSM_MODULE }]) ...
//   env.cleanup();                               // removes the directory, restores SOFTHSM2_CONF
//
// Call createSoftHsmEnv before the SoftHSM module is loaded in this process: SoftHSM reads its
// configuration once, in C_Initialize.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

export interface SoftHsmEnv {
  /** The temporary directory holding everything below. */
  dir: string;
  confPath: string;
  tokenDir: string;
  /** Delete the directory and put SOFTHSM2_CONF back as it was. */
  cleanup(): void;
}

export function createSoftHsmEnv(): SoftHsmEnv {
  const dir = mkdtempSync(join(tmpdir(), 'kc-softhsm-'));
  const tokenDir = join(dir, 'tokens');
  mkdirSync(tokenDir);
  const confPath = join(dir, 'softhsm2.conf');
  writeFileSync(confPath, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  const previous = process.env.SOFTHSM2_CONF;
  process.env.SOFTHSM2_CONF = confPath;
  return {
    dir,
    confPath,
    tokenDir,
    cleanup() {
      if (previous === undefined) delete process.env.SOFTHSM2_CONF;
      else process.env.SOFTHSM2_CONF = previous;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Initialise a token in the first free slot with `softhsm2-util --init-token --free` (the tool Boulder's
 * ceremony tests use too) and return the slot id SoftHSM reassigned it to, as a decimal string. Uses the
 * SOFTHSM2_CONF of this process (createSoftHsmEnv sets it).
 */
export function initSoftHsmToken(label: string, soPin: string, userPin: string): string {
  const out = execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--so-pin', soPin, '--pin', userPin], {
    env: process.env,
    encoding: 'utf8',
  });
  const m = /reassigned to slot (\d+)/.exec(out);
  if (!m) throw new Error(`softhsm2-util did not report a slot: ${out.trim()}`);
  return m[1] as string;
}
