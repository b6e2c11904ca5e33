// Loading and unloading one PKCS#11 library. A module that fails to load is kept as a status with an error,
// so the settings screen can say why while the other modules keep working.
import { existsSync } from 'node:fs';
import pkcs11js from 'pkcs11js';
import type { PKCS11 } from 'pkcs11js';
import { ErrorCodes, TokenError } from '../errors.js';
import type { ModuleConfig, ModuleStatus } from '../types.js';
import { ckrOf, describeCkr, isCkr, type ErrorContext } from './ckr.js';

export interface LoadedModule {
  id: string;
  config: ModuleConfig;
  lib: PKCS11 | null;
  status: ModuleStatus;
  /** Short name for sentences ("SoftHSM"), from the library manufacturer. */
  name: string | undefined;
  /**
   * C_Initialize is called without CKF_OS_LOCKING_OK (the library may assume one thread at a time), while
   * pkcs11js runs its *Async calls on worker threads: every call into this module goes through this chain.
   */
  queue: Promise<unknown>;
}

function trim(s: string): string {
  return s.replace(/[\s\0]+$/, '');
}

function version(v: { major: number; minor: number }): string {
  return `${v.major}.${v.minor}`;
}

export function moduleContext(m: LoadedModule): ErrorContext {
  return m.name === undefined ? { modulePath: m.config.path } : { modulePath: m.config.path, moduleName: m.name };
}

/** Run `fn` after every call already queued on this module. */
export function serialize<T>(m: LoadedModule, fn: () => Promise<T> | T): Promise<T> {
  const run = m.queue.then(fn, fn);
  m.queue = run.catch(() => undefined);
  return run;
}

export function loadModule(config: ModuleConfig): LoadedModule {
  const source = config.source ?? 'user';
  const base: LoadedModule = {
    id: config.path,
    config,
    lib: null,
    name: undefined,
    queue: Promise.resolve(),
    status: { id: config.path, path: config.path, source, loaded: false },
  };
  const fail = (error: TokenError): LoadedModule => {
    base.status = { ...base.status, loaded: false, error: error.toData() };
    return base;
  };

  if (!existsSync(config.path)) {
    return fail(
      new TokenError(
        ErrorCodes.MODULE_NOT_FOUND,
        `No PKCS#11 module at ${config.path}: the file does not exist`,
        'Check the path in the module settings, or install the token vendor\'s PKCS#11 driver.',
      ),
    );
  }

  const lib = new pkcs11js.PKCS11();
  try {
    lib.load(config.path);
  } catch (e) {
    // dlopen failures and libraries without C_GetFunctionList arrive as plain Errors whose message is the
    // dynamic loader's reason, e.g. "...: undefined symbol: C_GetFunctionList".
    const reason = e instanceof Error ? e.message : String(e);
    const notPkcs11 = /C_GetFunctionList/.test(reason);
    return fail(
      new TokenError(
        ErrorCodes.MODULE_LOAD_FAILED,
        notPkcs11
          ? `${config.path} is not a PKCS#11 module (${reason})`
          : `${config.path} could not be loaded as a PKCS#11 module (${reason})`,
        'Choose the token vendor\'s PKCS#11 library (a .so file that exports C_GetFunctionList), built for this computer\'s architecture.',
      ),
    );
  }

  try {
    if (config.initParameters !== undefined) {
      // pkcs11js 2.1.7 copies libraryParameters into a buffer one byte too short and so drops the last
      // character: a trailing space is the sacrificial byte (NSS ignores surrounding blanks).
      lib.C_Initialize({ libraryParameters: config.initParameters + ' ' });
    } else {
      lib.C_Initialize();
    }
  } catch (e) {
    if (!isCkr(e, 'CKR_CRYPTOKI_ALREADY_INITIALIZED')) {
      try {
        lib.close();
      } catch {
        // Nothing more to release.
      }
      const code = ckrOf(e);
      const why = code !== undefined ? `${describeCkr(code).message} (${describeCkr(code).name})` : e instanceof Error ? e.message : String(e);
      return fail(
        new TokenError(
          ErrorCodes.MODULE_LOAD_FAILED,
          `${config.path} loaded but refused to initialise: ${why}${config.initParameters !== undefined ? ` (library parameters: ${config.initParameters})` : ''}`,
          config.initParameters !== undefined
            ? 'Check the library parameters (for NSS, configdir must name an existing NSS database directory).'
            : 'Check the module\'s own configuration (e.g. SOFTHSM2_CONF for SoftHSM) and its log.',
        ),
      );
    }
  }

  base.lib = lib;
  try {
    const info = lib.C_GetInfo();
    const manufacturer = trim(info.manufacturerID);
    const description = trim(info.libraryDescription);
    base.name = manufacturer || description || undefined;
    base.status = {
      ...base.status,
      loaded: true,
      library: {
        manufacturer,
        description,
        cryptokiVersion: version(info.cryptokiVersion),
        libraryVersion: version(info.libraryVersion),
      },
    };
  } catch {
    // C_GetInfo is informational; a module that cannot answer it still works.
    base.status = { ...base.status, loaded: true };
  }
  return base;
}

/** C_Finalize and dlclose, ignoring failures: the module is going away either way. */
export function unloadModule(m: LoadedModule): void {
  const lib = m.lib;
  m.lib = null;
  m.status = { ...m.status, loaded: false };
  if (!lib) return;
  try {
    lib.C_Finalize();
  } catch {
    // Already finalized or the device is gone.
  }
  try {
    lib.close();
  } catch {
    // Already closed.
  }
}

export function sameConfig(a: ModuleConfig, b: ModuleConfig): boolean {
  return a.path === b.path && a.initParameters === b.initParameters;
}
