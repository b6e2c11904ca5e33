// The run of a token ceremony from the command line, shared by `keyceremony init-token` and `keyceremony
// enrol-token`: the module loaded, interrupted ceremonies recorded, the ceremony started and driven step by
// step (ceremony-steps.ts), the outcome printed (one JSON document with --json). A failure is printed with
// its step, the ceremony aborted (recorded), and the command says what the room does next.
import type { AirGapStatus } from '../airgap/airgap.js';
import type { CeremonyView, InterruptedCeremony } from '../ceremony/engine/index.js';
import type { CeremonyServiceOptions } from '../ceremony/engine/service.js';
import { checkOutputFolder, checkShareFolder } from '../ceremony/actions/share-folder.js';
import { AppError, toErrorData } from '../errors.js';
import { UsageError } from './args.js';
import { openCeremonyRuntime, type CeremonyRuntime } from './ceremony-runtime.js';
import { runCeremonySteps, sayInterrupted, type CeremonySteps } from './ceremony-steps.js';
import type { Output } from './output.js';

/** Hooks for tests: lower scrypt cost, a fixed air-gap answer, other scripts, and the kill tests' pauses. */
export interface TokenCeremonyOverrides extends Pick<CeremonyServiceOptions, 'scrypt' | 'onShareIssued' | 'onRecorded' | 'onActionDone'> {
  airGap?: () => AirGapStatus;
  scriptsDir?: string;
}

/** The module loaded and the service built for a token ceremony command (null: it said why on stderr). */
function openTokenCeremony(
  command: 'init-token' | 'enrol-token',
  script: string,
  args: { module: string; initParameters?: string; dataDir: string },
  overrides: TokenCeremonyOverrides,
  out: Output,
): Promise<CeremonyRuntime | null> {
  const { airGap, scriptsDir, ...hooks } = overrides;
  const engine = Object.fromEntries(Object.entries(hooks).filter(([, v]) => v !== undefined));
  return openCeremonyRuntime(
    {
      command,
      script,
      module: args.module,
      ...(args.initParameters === undefined ? {} : { initParameters: args.initParameters }),
      dataDir: args.dataDir,
      ...(airGap ? { airGap } : {}),
      ...(scriptsDir ? { scriptsDir } : {}),
      engine,
    },
    out,
  );
}

/**
 * Parse the command line and read every file it names, before anything starts: `prepare` returns what the
 * run needs, or 'help' (the help is printed, exit 0); a UsageError is printed with the way to the help
 * (exit 2). The exit status is returned instead of the prepared value.
 */
export async function prepareOrExit<T>(command: TokenCeremonyRun['command'], help: string, out: Output, prepare: () => Promise<T | 'help'>): Promise<T | number> {
  try {
    const prepared = await prepare();
    if (prepared !== 'help') return prepared;
    out.stdout.write(help);
    return 0;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    out.stderr.write(`keyceremony ${command}: ${error.message}\n\nRun 'keyceremony ${command} --help' for the options.\n`);
    return 2;
  }
}

export interface TokenCeremonyArgs extends Omit<CeremonySteps, 'passphrases' | 'inputs'> {
  initParameters?: string;
  dataDir: string;
  rehearsal: boolean;
  json: boolean;
}

export interface TokenCeremonyRun {
  command: 'init-token' | 'enrol-token';
  /** The script run (default: the command's own; `<command>-join` for a token joining a security domain). */
  script?: string;
  parameters: Record<string, unknown>;
  passphrases: ReadonlyMap<string, string>;
  /** The input of the command's own steps, by action. */
  inputs: CeremonySteps['inputs'];
  /** Said when the ceremony completed. */
  completed: string;
  /** Written to stderr after a failure, once the abort was tried (`aborted`: the view it left, if it was recorded). */
  afterFailure(view: CeremonyView, at: string, aborted: CeremonyView | undefined): string;
}

/** Room asked for in --out before anything starts (a transcript bundle is a few hundred KiB at most). */
const BUNDLE_ROOM = 4 * 1024 * 1024;

/**
 * Run the ceremony to its end: exit status 0 when it completed, 1 otherwise (a failure aborts it), 2 when an
 * output folder is refused before anything starts.
 */
export async function runTokenCeremony(args: TokenCeremonyArgs, run: TokenCeremonyRun, overrides: TokenCeremonyOverrides, out: Output): Promise<number> {
  const { command } = run;
  // Every output folder is checked before anything is recorded or touched (the engine checks each again).
  const script = run.script ?? command;
  try {
    if (!args.joinShares) await checkShareFolder(args.sharesOut, args.custodians, '--shares-out');
    await checkOutputFolder(args.out, [], '--out', BUNDLE_ROOM);
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    out.stderr.write(`keyceremony ${command}: ${error.message}\n  ${error.remedy}\n`);
    return 2;
  }
  const runtime = await openTokenCeremony(command, script, args, overrides, out);
  if (!runtime) return 1;
  const { service } = runtime;
  const say = (line: string) => {
    if (!args.json) out.stdout.write(`${line}\n`);
  };
  let view: CeremonyView | undefined;
  let interrupted: InterruptedCeremony[] = [];
  try {
    interrupted = await service.interrupted();
    sayInterrupted(interrupted, say);
    view = await service.start({ script, parameters: run.parameters, rehearsal: args.rehearsal });
    const id = view.ceremonyId;
    say(`Ceremony ${id}: ${view.script.title}${view.script.rehearsal ? ' (REHEARSAL)' : ''}`);
    view = await runCeremonySteps(service, view, { ...args, passphrases: run.passphrases, inputs: run.inputs }, say, (v) => (view = v));
    const bundle = view.outputs.find((o) => o.kind === 'bundle');
    const shares = view.outputs.filter((o) => o.kind === 'share-file');
    if (args.json) {
      out.stdout.write(`${JSON.stringify({ ceremonyId: id, status: view.status, rehearsal: view.script.rehearsal, insecurePlainShares: args.insecurePlain, shares, bundle: bundle ?? null, interrupted, dataDir: args.dataDir }, null, 2)}\n`);
    } else {
      say(`Completed. Bundle: ${bundle?.path ?? '(none)'}`);
      say(run.completed);
    }
    return view.status === 'completed' ? 0 : 1;
  } catch (error) {
    const data = toErrorData(error);
    const at = view?.currentStepId ?? 'start';
    let aborted: CeremonyView | undefined;
    out.stderr.write(`keyceremony ${command}: step ${at}: ${data.message}${data.remedy ? `\n  ${data.remedy}` : ''}\n`);
    if (view) {
      try {
        aborted = await service.abort(view.ceremonyId, `keyceremony ${command} failed at step ${at}: ${data.message}`);
      } catch {
        // Already ended; nothing more to record.
      }
      if (aborted?.status === 'completed') {
        // The failure came after `completed` (the final export): the token is enrolled and the shares open it.
        out.stderr.write(
          `keyceremony ${command}: ceremony ${view.ceremonyId} completed before this failure: the token is enrolled (${args.joinShares ? "the security domain's share files open it" : `${args.threshold} of the share files in ${args.sharesOut} open it`}). ` +
            'Only its transcript bundle was not written; its entries go out with the bundle of the next ceremony run on this laptop.\n',
        );
      } else {
        if (aborted) out.stderr.write(`keyceremony ${command}: ceremony ${view.ceremonyId} was aborted and the abort recorded.\n`);
        out.stderr.write(run.afterFailure(view, at, aborted));
      }
    }
    if (args.json) out.stdout.write(`${JSON.stringify({ ceremonyId: view?.ceremonyId ?? null, status: aborted?.status === 'completed' ? 'completed' : 'aborted', error: data }, null, 2)}\n`);
    return 1;
  } finally {
    await runtime.close();
  }
}
