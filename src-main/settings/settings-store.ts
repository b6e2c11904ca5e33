// The user's module list, kept as JSON in the app data directory. Strictly parsed: a damaged or hand-edited
// file with unknown keys is reported, not half-used.
import { existsSync, statSync, realpathSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { z } from 'zod';
import { AppError } from '../errors.js';
import { FILE_CAPS, readBoundedSync, type FileKind } from '../files/read-bounded.js';
import type { ModuleConfig } from '../../hsm/types.js';
import { writeJsonFileAtomicSync } from '../util/atomic-json.js';
import { defaultModulePaths } from './default-modules.js';
import { isYubiHsmEntry, normalizeYubiHsmEntry } from './yubihsm-module.js';

const userModule = z.object({ path: z.string().min(1), initParameters: z.string().optional() }).strict();
const settingsFile = z
  .object({
    version: z.literal(1),
    modules: z.array(userModule),
    /** Defaults the user removed; remembered so they do not come back on the next start. */
    hiddenDefaults: z.array(z.string()).default([]),
  })
  .strict();

export type SettingsFile = z.output<typeof settingsFile>;

const SETTINGS_FILE: FileKind = { what: 'settings file', cap: FILE_CAPS.settings, remedy: 'Fix or delete the file; the app then starts with the default modules.', code: 'SETTINGS_INVALID' };

export class SettingsStore {
  readonly file: string;
  private readonly defaults: () => string[];

  constructor(appDataDir: string, defaults: () => string[] = () => defaultModulePaths()) {
    this.file = join(appDataDir, 'settings.json');
    this.defaults = defaults;
  }

  read(): SettingsFile {
    if (!existsSync(this.file)) return { version: 1, modules: [], hiddenDefaults: [] };
    const text = readBoundedSync(this.file, SETTINGS_FILE).toString('utf8');
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (error) {
      throw new AppError('SETTINGS_INVALID', `The settings file ${this.file} is not valid JSON (${(error as Error).message}).`, 'Fix or delete the file; the app then starts with the default modules.');
    }
    const parsed = settingsFile.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'settings';
      throw new AppError('SETTINGS_INVALID', `The settings file ${this.file} is not usable: ${where}: ${issue?.message ?? 'invalid'}.`, 'Fix or delete the file; the app then starts with the default modules.');
    }
    return parsed.data;
  }

  /** Defaults present on this machine (less the hidden ones), then the user's own, without duplicates. */
  modules(): ModuleConfig[] {
    const settings = this.read();
    const seen = new Set<string>();
    const out: ModuleConfig[] = [];
    const identity = (p: string): string => {
      try {
        return realpathSync(p);
      } catch {
        return p;
      }
    };
    for (const path of this.defaults()) {
      const id = identity(path);
      if (settings.hiddenDefaults.includes(path) || seen.has(id)) continue;
      seen.add(id);
      out.push({ path, source: 'default' });
    }
    for (const m of settings.modules) {
      // A YubiHSM entry is not a file: realpath must not turn "yubihsm:usb" into some file of that name.
      const id = isYubiHsmEntry(m.path) ? m.path : identity(m.path);
      if (seen.has(id)) continue;
      seen.add(id);
      out.push(m.initParameters === undefined ? { path: m.path, source: 'user' } : { path: m.path, initParameters: m.initParameters, source: 'user' });
    }
    return out;
  }

  addModule(path: string, initParameters?: string): void {
    if (isYubiHsmEntry(path)) {
      const entry = normalizeYubiHsmEntry(path, initParameters);
      const settings = this.read();
      if (settings.modules.some((m) => m.path === entry)) throw new AppError('MODULE_ALREADY_LISTED', `path: ${entry} is already in the module list.`, 'Nothing to do.');
      settings.modules.push({ path: entry });
      this.write(settings);
      return;
    }
    if (!isAbsolute(path)) {
      throw new AppError('MODULE_PATH_INVALID', `path: "${path}" is not an absolute path.`, 'Give the full path of the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so.');
    }
    if (!existsSync(path) || !statSync(path).isFile()) {
      throw new AppError('MODULE_PATH_INVALID', `path: no file at ${path}.`, 'Check the path of the PKCS#11 library, or install the vendor package that provides it.');
    }
    const settings = this.read();
    if (this.modules().some((m) => m.path === path && (m.initParameters ?? '') === (initParameters ?? ''))) {
      throw new AppError('MODULE_ALREADY_LISTED', `path: ${path} is already in the module list.`, 'Nothing to do; remove it first to change its parameters.');
    }
    settings.hiddenDefaults = settings.hiddenDefaults.filter((p) => p !== path);
    settings.modules = settings.modules.filter((m) => m.path !== path);
    // A default brought back without parameters is simply shown again; anything else is the user's own entry.
    if (!(this.defaults().includes(path) && initParameters === undefined)) {
      settings.modules.push(initParameters === undefined ? { path } : { path, initParameters });
    }
    this.write(settings);
  }

  removeModule(path: string): void {
    const settings = this.read();
    const wasUser = settings.modules.some((m) => m.path === path);
    const isDefault = this.defaults().includes(path);
    if (!wasUser && !isDefault) {
      throw new AppError('MODULE_NOT_LISTED', `path: ${path} is not in the module list.`, 'Refresh the list and choose a module shown there.');
    }
    settings.modules = settings.modules.filter((m) => m.path !== path);
    if (isDefault && !settings.hiddenDefaults.includes(path)) settings.hiddenDefaults.push(path);
    this.write(settings);
  }

  /** Settings are a preference, not evidence: replaced atomically (write, fsync, rename). */
  private write(settings: SettingsFile): void {
    writeJsonFileAtomicSync(this.file, settings);
  }
}
