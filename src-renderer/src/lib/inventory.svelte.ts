import type { Inventory } from '../../../src-preload/contract';
import { api, toShownError, unwrap, type ShownError } from './api';

export class InventoryState {
  inventory = $state<Inventory | undefined>(undefined);
  loading = $state(false);
  error = $state<ShownError | undefined>(undefined);

  tokens = $derived(this.inventory?.slots.filter((s) => s.token) ?? []);
  failedModules = $derived(this.inventory?.modules.filter((m) => !m.loaded || m.error) ?? []);

  async refresh(): Promise<void> {
    this.loading = true;
    try {
      this.inventory = unwrap(await api().getInventory({}));
      this.error = undefined;
    } catch (error) {
      this.error = toShownError(error);
    } finally {
      this.loading = false;
    }
  }
}
