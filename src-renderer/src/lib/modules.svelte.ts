import type { ModuleSetting } from '../../../src-preload/contract';
import { api, toShownError, unwrap, type ShownError } from './api';

export class ModuleSettingsState {
  modules = $state<ModuleSetting[]>([]);
  error = $state<ShownError | undefined>(undefined);
  busy = $state(false);

  private async act(task: () => Promise<ModuleSetting[]>): Promise<boolean> {
    this.busy = true;
    try {
      this.modules = await task();
      this.error = undefined;
      return true;
    } catch (error) {
      this.error = toShownError(error);
      return false;
    } finally {
      this.busy = false;
    }
  }

  load(): Promise<boolean> {
    return this.act(async () => unwrap(await api().listModuleSettings({})));
  }

  add(path: string, initParameters: string): Promise<boolean> {
    const request = initParameters.trim() === '' ? { path: path.trim() } : { path: path.trim(), initParameters: initParameters.trim() };
    return this.act(async () => unwrap(await api().addModule(request)));
  }

  /** A YubiHSM 2 entry: main checks it (loopback only) and names the field when it refuses. */
  addYubiHsm(via: 'usb' | 'connector', url: string): Promise<boolean> {
    return this.act(async () => unwrap(await api().addModule({ path: via === 'usb' ? 'yubihsm:usb' : `yubihsm:${url.trim()}` })));
  }

  remove(path: string): Promise<boolean> {
    return this.act(async () => unwrap(await api().removeModule({ path })));
  }

  async browse(): Promise<string | null> {
    try {
      return unwrap(await api().chooseModuleFile({})).path;
    } catch (error) {
      this.error = toShownError(error);
      return null;
    }
  }
}
