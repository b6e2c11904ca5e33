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

  /** The library chosen in main's dialog (its selection id), never a typed path. */
  add(selectionId: string, initParameters: string): Promise<boolean> {
    const request = initParameters.trim() === '' ? { selectionId } : { selectionId, initParameters: initParameters.trim() };
    return this.act(async () => unwrap(await api().addModule(request)));
  }

  /** A YubiHSM 2 entry: main checks it (loopback only) and names the field when it refuses. */
  addYubiHsm(via: 'usb' | 'connector', url: string): Promise<boolean> {
    return this.act(async () => unwrap(await api().addYubiHsm(via === 'usb' ? { via } : { via, url: url.trim() })));
  }

  remove(moduleId: string): Promise<boolean> {
    return this.act(async () => unwrap(await api().removeModule({ moduleId })));
  }

  /** Main's file dialog; the answer is an opaque selection id plus the file name to show. */
  async browse(): Promise<{ id: string; file: string } | null> {
    try {
      return unwrap(await api().chooseModuleFile({})).selection;
    } catch (error) {
      this.error = toShownError(error);
      return null;
    }
  }
}
