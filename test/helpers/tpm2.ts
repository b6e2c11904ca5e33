// tpm2-pkcs11 over the swtpm TPM 2.0 simulator, for tests: a private TPM state and pkcs11 store per test
// file, swtpm on a free loopback port, and the module's environment (TPM2_PKCS11_TCTI, TPM2_PKCS11_STORE)
// set in this process before the module is loaded.
//
//   const skip = tpm2Missing();                 // a sentence when the Debian packages are not installed
//   const tpm = await startTpm2();               // swtpm running, env set; the module offers a blank slot
//   ... new Pkcs11TokenLayer().configureModules([{ path: TPM2_MODULE }]) ...
//   await tpm.restart();                         // between two loads of the module (see Tpm2Env.restart)
//   await tpm.cleanup();                         // stops swtpm, removes the directory, restores the env
//
// No tpm2_ptool and no tpm2-abrmd: the module creates its store (an sqlite file) itself and offers one
// blank token slot, which C_InitToken through the module initialises (that is what init-token does).
// tpm2_ptool could not be used without a resource manager: it runs tpm2-tools processes that leave
// transient objects loaded, and swtpm holds three ("out of memory for object contexts" in addtoken).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TPM2_MODULE = '/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so';
/** The Debian packages .ci/run installs for this tier. */
export const TPM2_PACKAGES = ['swtpm', 'libtpm2-pkcs11-1'] as const;

/** Why the tpm2 tests cannot run here, or undefined when they can. */
export function tpm2Missing(): string | undefined {
  if (!existsSync(TPM2_MODULE)) return `tpm2-pkcs11 is not installed (${TPM2_MODULE} missing): apt-get install ${TPM2_PACKAGES.join(' ')}`;
  if (spawnSync('swtpm', ['--version'], { encoding: 'utf8' }).status !== 0) return `swtpm is not installed: apt-get install ${TPM2_PACKAGES.join(' ')}`;
  return undefined;
}

/** Two consecutive free loopback ports (swtpm's server and its control channel). */
async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    if (port >= 65535) continue;
    const nextFree = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port + 1, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (nextFree) return port;
  }
  throw new Error('no two consecutive free loopback ports for swtpm');
}

async function waitForPort(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`swtpm exited with ${child.exitCode}: ${stderr()}`);
    const open = await new Promise<boolean>((resolve) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`swtpm did not listen on 127.0.0.1:${port}: ${stderr()}`);
}

export interface Tpm2Env {
  dir: string;
  port: number;
  storeDir: string;
  /**
   * Power-cycle the simulated TPM (same state). Needed between two loads of the module: without a resource
   * manager (tpm2-abrmd, or the kernel's /dev/tpmrm0 on a real machine) C_Finalize leaves two transient
   * objects loaded in swtpm, which holds three, and the next load fails "out of memory for object contexts".
   */
  restart(): Promise<void>;
  cleanup(): Promise<void>;
}

const ENV_NAMES = ['TPM2_PKCS11_TCTI', 'TPM2_PKCS11_STORE', 'TPM2_PKCS11_LOG_LEVEL'] as const;

async function spawnSwtpm(port: number, stateDir: string): Promise<ChildProcess> {
  const child = spawn(
    'swtpm',
    ['socket', '--tpm2', '--server', `type=tcp,port=${port},bindaddr=127.0.0.1`, '--ctrl', `type=tcp,port=${port + 1},bindaddr=127.0.0.1`, '--flags', 'not-need-init,startup-clear', '--tpmstate', `dir=${stateDir}`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  try {
    await waitForPort(port, child, () => err);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

export async function startTpm2(): Promise<Tpm2Env> {
  const dir = mkdtempSync(join(tmpdir(), 'kc-tpm2-'));
  const stateDir = join(dir, 'state');
  const storeDir = join(dir, 'store');
  mkdirSync(stateDir);
  mkdirSync(storeDir);
  const port = await freePortPair();
  let child: ChildProcess;
  try {
    child = await spawnSwtpm(port, stateDir);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const previous = Object.fromEntries(ENV_NAMES.map((n) => [n, process.env[n]]));
  process.env.TPM2_PKCS11_TCTI = `swtpm:port=${port}`;
  process.env.TPM2_PKCS11_STORE = storeDir;
  // The module prints warnings (e.g. "Cannot prepare version query" on a new store) to stderr otherwise.
  process.env.TPM2_PKCS11_LOG_LEVEL = process.env.KC_TPM2_LOG_LEVEL ?? '0';
  return {
    dir,
    port,
    storeDir,
    async restart() {
      await stop(child);
      child = await spawnSwtpm(port, stateDir);
    },
    async cleanup() {
      for (const n of ENV_NAMES) {
        if (previous[n] === undefined) delete process.env[n];
        else process.env[n] = previous[n];
      }
      await stop(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
