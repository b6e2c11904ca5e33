import type { VerifyResult } from '../../../src-preload/contract';
import { api, toShownError, unwrap, type ShownError } from './api';

export class VerifyState {
  folders = $state<string[]>([]);
  result = $state<VerifyResult | undefined>(undefined);
  error = $state<ShownError | undefined>(undefined);
  busy = $state(false);
  imported = $state<string | undefined>(undefined);
  private selectionId: string | undefined;

  async choose(): Promise<void> {
    try {
      const { selection } = unwrap(await api().chooseBundleFolders({}));
      if (!selection) return;
      this.selectionId = selection.id;
      this.folders = selection.folders;
      this.result = undefined;
      this.imported = undefined;
      await this.verify();
    } catch (error) {
      this.error = toShownError(error);
    }
  }

  /** Add the verified bundles to this laptop's transcript of their token (for a ceremony run elsewhere). */
  async importChosen(): Promise<void> {
    if (!this.selectionId) return;
    this.busy = true;
    try {
      const r = unwrap(await api().importBundles({ selectionId: this.selectionId }));
      this.imported = `Imported ${r.imported} entr${r.imported === 1 ? 'y' : 'ies'} into the transcript of ${r.chain} (${r.alreadyHeld} already here); it now ends at entry ${r.head?.seq ?? '—'}.`;
      this.error = undefined;
    } catch (error) {
      this.error = toShownError(error);
    } finally {
      this.busy = false;
    }
  }

  /** Verify (again) the folders last chosen, e.g. after a bundle was replaced on the stick. */
  async verify(): Promise<void> {
    if (!this.selectionId) return;
    this.busy = true;
    try {
      this.result = unwrap(await api().verifyBundles({ selectionId: this.selectionId }));
      this.error = undefined;
    } catch (error) {
      this.error = toShownError(error);
    } finally {
      this.busy = false;
    }
  }
}
