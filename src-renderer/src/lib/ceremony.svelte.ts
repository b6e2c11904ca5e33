import type { CeremonyView, ScriptSummary } from '../../../src-preload/contract';
import { api, toShownError, unwrap, type ShownError } from './api';

/** One running ceremony as the runner shows it; every change comes back from main as a fresh view. */
export class CeremonyState {
  view = $state<CeremonyView | undefined>(undefined);
  error = $state<ShownError | undefined>(undefined);
  busy = $state(false);
  /** A share code main revealed for the custodian at the laptop; cleared as soon as they are done. */
  reveal = $state<{ custodian: string; shareCode: string } | undefined>(undefined);

  current = $derived(this.view?.steps.find((s) => s.id === this.view?.currentStepId));
  /** The token's session died under the run (main let it go): it goes on only by Resume on Home. */
  stopped = $derived(this.error?.code === 'ceremony-token-lost');

  private async run(task: () => Promise<void>): Promise<boolean> {
    this.busy = true;
    try {
      await task();
      this.error = undefined;
      return true;
    } catch (error) {
      this.error = toShownError(error);
      return false;
    } finally {
      this.busy = false;
    }
  }

  start(script: ScriptSummary, parameters: Record<string, unknown>, rehearsal: boolean): Promise<boolean> {
    return this.run(async () => {
      this.view = unwrap(await api().startCeremony({ script: script.name, parameters, rehearsal }));
    });
  }

  /** Resume an interrupted ceremony: main continues it under the same id, at the step where it stopped. */
  resume(ceremonyId: string): Promise<boolean> {
    return this.run(async () => {
      this.view = unwrap(await api().resumeCeremony({ ceremonyId }));
      this.reveal = undefined;
    });
  }

  async perform(input: Record<string, unknown>): Promise<boolean> {
    const view = this.view;
    const step = this.current;
    if (!view || !step) return false;
    const done = await this.run(async () => {
      const answer = unwrap(await api().performStep({ ceremonyId: view.ceremonyId, stepId: step.id, input }));
      this.view = answer.view;
      this.reveal = answer.reveal;
    });
    if (!done) {
      // A refusal is recorded in the transcript: show it in the tail, keeping the error on screen.
      const latest = await api().getCeremony({ ceremonyId: view.ceremonyId });
      if (latest.ok) this.view = latest.value;
    }
    return done;
  }

  async refresh(): Promise<void> {
    const view = this.view;
    if (!view) return;
    await this.run(async () => {
      this.view = unwrap(await api().getCeremony({ ceremonyId: view.ceremonyId }));
    });
  }

  abort(reason: string): Promise<boolean> {
    const view = this.view;
    if (!view) return Promise.resolve(false);
    return this.run(async () => {
      this.view = unwrap(await api().abortCeremony({ ceremonyId: view.ceremonyId, reason }));
      this.reveal = undefined;
    });
  }

  hideReveal(): void {
    this.reveal = undefined;
  }
}

/** The Ceremony screen's runner, shared so that Home's Resume button can open a resumed ceremony in it. */
export const runner = new CeremonyState();
/** Home bumps `ceremonyScreen`, the runner `home`, to ask the app to show that screen (App.svelte watches them). */
export const navigation = $state({ ceremonyScreen: 0, home: 0 });
