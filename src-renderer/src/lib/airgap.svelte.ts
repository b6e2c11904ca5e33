import type { AirGapStatus } from '../../../src-preload/contract';
import { api, toShownError, unwrap, type ShownError } from './api';

/** Asks main for its latest network check every couple of seconds; main re-checks on its own timer. */
export class AirGapState {
  status = $state<AirGapStatus | undefined>(undefined);
  error = $state<ShownError | undefined>(undefined);
  private timer: ReturnType<typeof setInterval> | undefined;

  /** Offline only when main positively said so; unknown counts as online. */
  offline = $derived(this.status?.offline === true && !this.error);

  async poll(): Promise<void> {
    try {
      this.status = unwrap(await api().getAirGapStatus({}));
      this.error = undefined;
    } catch (error) {
      this.error = toShownError(error);
    }
  }

  start(intervalMs = 2000): () => void {
    void this.poll();
    this.timer = setInterval(() => void this.poll(), intervalMs);
    return () => clearInterval(this.timer);
  }
}
