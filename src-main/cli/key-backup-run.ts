// `keyceremony backup-key` and `keyceremony restore-key`: their scripts (ceremonies/backup-key.yaml,
// restore-key.yaml) without the app, through the same engine. Both take the token, the custodians' --share
// files (which approve both quorum steps: the login and the step where the domain backup key exists), the
// witnesses and --bundle-out; backup-key takes --key-label and --out, restore-key --backup. Passphrases come
// only from files. A failure aborts the ceremony (recorded) and exits 1; a usage error exits 2.
import { resolve } from 'node:path';
import type { AirGapStatus } from '../airgap/airgap.js';
import type { CeremonyView } from '../ceremony/engine/index.js';
import { defaultDataDir } from '../data-dir.js';
import { AppError, toErrorData } from '../errors.js';
import { parseStrict, tokenChoice, UsageError } from './args.js';
import { existingDir, shareFileFlag, witnessesFlag } from './ceremony-flags.js';
import { openCeremonyRuntime } from './ceremony-runtime.js';
import { readShares, stepMessage } from './share-flags.js';
import type { Output } from './output.js';

export type KeyBackupCommand = 'backup-key' | 'restore-key';

export interface KeyBackupArgs {
  module: string;
  initParameters?: string;
  token: { slotId: string } | { uri: string };
  keyLabel?: string;
  out?: string;
  backup?: string;
  shares: { file: string; passphraseFile?: string }[];
  bundleOut: string;
  witnesses: string[];
  administrator: string;
  dataDir: string;
  rehearsal: boolean;
  json: boolean;
}

export interface KeyBackupOverrides {
  airGap?: () => AirGapStatus;
  scriptsDir?: string;
}

const OPTIONS = {
  module: { type: 'string' },
  'init-parameters': { type: 'string' },
  slot: { type: 'string' },
  token: { type: 'string' },
  'key-label': { type: 'string' },
  out: { type: 'string' },
  backup: { type: 'string' },
  share: { type: 'string', multiple: true },
  'bundle-out': { type: 'string' },
  witness: { type: 'string', multiple: true },
  administrator: { type: 'string' },
  'data-dir': { type: 'string' },
  rehearsal: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function keyBackupArgs(command: KeyBackupCommand, argv: string[]): KeyBackupArgs | 'help' {
  const values = parseStrict(argv, OPTIONS).values as Partial<Record<'module' | 'init-parameters' | 'slot' | 'token' | 'key-label' | 'out' | 'backup' | 'bundle-out' | 'administrator' | 'data-dir', string>> &
    Partial<Record<'share' | 'witness', string[]>> &
    Partial<Record<'rehearsal' | 'json' | 'help', boolean>>;
  if (values.help) return 'help';
  const { module, token } = tokenChoice(values, command === 'backup-key' ? 'the token that holds the key' : 'the token to restore the key into');
  const args: KeyBackupArgs = {
    module,
    token,
    shares: [],
    bundleOut: existingDir('--bundle-out', values['bundle-out']),
    witnesses: witnessesFlag(values.witness, command),
    administrator: values.administrator ?? 'administrator',
    dataDir: resolve(values['data-dir'] ?? defaultDataDir()),
    rehearsal: values.rehearsal === true,
    json: values.json === true,
  };
  if (command === 'backup-key') {
    if (values.backup !== undefined) throw new UsageError('--backup is for restore-key; backup-key writes a new backup into --out.');
    const label = values['key-label'];
    if (!label) throw new UsageError('--key-label LABEL is required (the label of the key in the token).');
    if (!/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/.test(label) || label.length > 64) throw new UsageError(`--key-label ${label}: 1-64 characters of letters, digits, space, dot, dash and underscore, starting with a letter or digit.`);
    args.keyLabel = label;
    args.out = existingDir('--out', values.out);
  } else {
    if (values['key-label'] !== undefined || values.out !== undefined) throw new UsageError('restore-key takes the key from --backup DIR (its label and CKA_ID are in the backup); --key-label and --out are for backup-key.');
    args.backup = existingDir('--backup', values.backup);
  }
  const specs = values.share ?? [];
  if (specs.length === 0) throw new UsageError('--share FILE[:PASSPHRASE_FILE] is required, once for each custodian present (at least the threshold).');
  args.shares = specs.map((spec) => shareFileFlag('--share', spec));
  if (values['init-parameters'] !== undefined) args.initParameters = values['init-parameters'];
  return args;
}


function stepInput(action: string, args: KeyBackupArgs): Record<string, unknown> {
  switch (action) {
    case 'record-participants':
      return { administrator: args.administrator, witnesses: args.witnesses };
    case 'select-token':
      return 'uri' in args.token ? { uri: args.token.uri } : { moduleId: args.module, slotId: args.token.slotId };
    case 'write-backup':
      return { destinationDir: args.out };
    case 'check-backup':
      return { backupDir: args.backup };
    case 'witness-sign-off':
      return { witnesses: args.witnesses.map((name) => ({ name, statement: 'Signed off on the command line.' })) };
    case 'export-bundle':
      return { destinationDir: args.bundleOut };
    default:
      return {};
  }
}


/** The key and backup as the ceremony recorded them, from its view's tail is not enough: read from the outputs and the step results. */
function outcomeOf(view: CeremonyView): Record<string, unknown> {
  const backup = view.outputs.find((o) => o.kind === 'key-backup');
  const bundle = view.outputs.find((o) => o.kind === 'bundle');
  return { backup: backup ? { path: backup.path, manifestSha256: backup.sha256 } : null, bundle: bundle ?? null };
}

export async function runKeyBackupCommand(command: KeyBackupCommand, help: string, argv: string[], out: Output, overrides: KeyBackupOverrides = {}): Promise<number> {
  let args: KeyBackupArgs;
  let shares: Record<string, unknown>[];
  try {
    const parsed = keyBackupArgs(command, argv);
    if (parsed === 'help') {
      out.stdout.write(help);
      return 0;
    }
    args = parsed;
    shares = await readShares(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    out.stderr.write(`keyceremony ${command}: ${error.message}\n\nRun 'keyceremony ${command} --help' for the options.\n`);
    return 2;
  }
  const runtime = await openCeremonyRuntime(
    {
      command,
      script: command,
      module: args.module,
      ...(args.initParameters === undefined ? {} : { initParameters: args.initParameters }),
      dataDir: args.dataDir,
      ...(overrides.airGap ? { airGap: overrides.airGap } : {}),
      ...(overrides.scriptsDir ? { scriptsDir: overrides.scriptsDir } : {}),
    },
    out,
  );
  if (!runtime) return 1;
  const { service } = runtime;
  const say = (line: string) => {
    if (!args.json) out.stdout.write(`${line}\n`);
  };
  let view: CeremonyView | undefined;
  try {
    view = await service.start({ script: command, parameters: command === 'backup-key' ? { keyLabel: args.keyLabel } : {}, rehearsal: args.rehearsal });
    const id = view.ceremonyId;
    say(`Ceremony ${id}: ${view.script.title}${view.script.rehearsal ? ' (REHEARSAL)' : ''}`);
    while (view.status === 'running' && view.currentStepId !== null) {
      const currentId: string = view.currentStepId;
      const step: CeremonyView['steps'][number] | undefined = view.steps.find((s) => s.id === currentId);
      if (!step) break;
      const confirm: Record<string, string> = step.confirm ? { confirm: step.confirm.word } : {};
      if (step.approvals === 'quorum') {
        for (const input of shares) {
          view = (await service.perform(id, step.id, { ...input, ...confirm })).view;
          if (view.currentStepId !== step.id) break;
        }
        if (view.currentStepId === step.id) {
          const q = view.quorum;
          throw new AppError(
            'quorum-not-reached',
            `the quorum was not reached: ${q?.approved.length ?? 0} distinct custodian(s) (${q?.approved.join(', ') || 'none'}) presented a share; ${q?.threshold ?? '?'} are needed. Nothing was ${command === 'backup-key' ? 'wrapped' : 'restored'}.`,
            `Run the command again with one --share FILE:PASSPHRASE_FILE for each of at least ${q?.threshold ?? 'the threshold of'} different custodians.`,
          );
        }
      } else {
        view = (await service.perform(id, step.id, { ...stepInput(step.action, args), ...confirm })).view;
      }
      say(`  ${step.id}: ${step.title} - done`);
    }
    const outcome = outcomeOf(view);
    if (args.json) out.stdout.write(`${JSON.stringify({ ceremonyId: id, status: view.status, rehearsal: view.script.rehearsal, ...outcome, dataDir: args.dataDir }, null, 2)}\n`);
    else {
      if (command === 'backup-key') say(`Backup folder: ${(outcome.backup as { path?: string } | null)?.path ?? '(none)'}`);
      say(`Transcript bundle: ${(outcome.bundle as { path?: string } | null)?.path ?? '(none)'}`);
    }
    return view.status === 'completed' ? 0 : 1;
  } catch (error) {
    const data = toErrorData(error);
    const at = view?.currentStepId ?? 'start';
    out.stderr.write(`keyceremony ${command}: ${stepMessage(at, data.message)}${data.remedy ? `\n  ${data.remedy}` : ''}\n`);
    if (view) {
      try {
        await service.abort(view.ceremonyId, `keyceremony ${command} failed at step ${at}: ${data.message}`);
        out.stderr.write(`keyceremony ${command}: ceremony ${view.ceremonyId} was aborted and the abort recorded.\n`);
      } catch {
        // Already ended; nothing more to record.
      }
    }
    if (args.json) out.stdout.write(`${JSON.stringify({ ceremonyId: view?.ceremonyId ?? null, status: 'aborted', error: data }, null, 2)}\n`);
    return 1;
  } finally {
    await runtime.close();
  }
}
