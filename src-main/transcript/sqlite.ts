// sql.js: loading the WASM build in Node (and in Electron's main process), and writing a database file
// atomically (temp file, fsync, rename, fsync of the directory).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import initSqlJs, { type SqlJsStatic } from 'sql.js';
import { writeFileAtomic } from './fs-durable.js';

let loading: Promise<SqlJsStatic> | undefined;

/**
 * The sql.js module, loaded once. `require('sql.js/package.json')` is blocked by the package's exports
 * map, so the .wasm is located next to the resolved main file (dist/sql-wasm.js).
 */
export function loadSqlJs(): Promise<SqlJsStatic> {
  loading ??= (async () => {
    const main = createRequire(import.meta.url).resolve('sql.js');
    const dist = dirname(main);
    return initSqlJs({ locateFile: (file: string) => join(dist, file) });
  })();
  return loading;
}

export async function writeDatabaseFile(path: string, bytes: Uint8Array): Promise<void> {
  await writeFileAtomic(path, bytes);
}
