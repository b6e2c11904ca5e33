// The command-line run of the ceremonies that open an enrolled token with the custodians' shares and act on
// what is in it, without import parameters: `keyceremony destroy-key` and `keyceremony audit-token`. The
// flags are parsed once here; each step's input comes from them, the quorum from the --share files in order.
// A failure aborts the ceremony (recorded) and exits 1; a usage error exits 2.
import { resolve } from 'node:path';
import type { AirGapStatus } from '../airgap/airgap.js';
import type { CeremonyView } from '../ceremony/engine/index.js';
import type { CeremonyServiceOptions } from '../ceremony/engine/service.js';
import { join } from 'node:path';
import { shareFileName } from '../ceremony/actions/share-folder.js';
import { defaultDataDir } from '../data-dir.js';
import { AppError, toErrorData } from '../errors.js';
import { parseStrict, tokenChoice, UsageError } from './args.js';
import { existingDir, shareFileFlag, witnessesFlag } from './ceremony-flags.js';
import { openCeremonyRuntime } from './ceremony-runtime.js';
import { readShares, stepMessage } from './share-flags.js';
import { readPreGenesisLog } from '../ceremony/engine/pre-genesis-log.js';
import { preGenesisPathOf } from '../ceremony/engine/run.js';
import type { Output } from './output.js';

export type LifecycleCommand = 'destroy-key' | 'audit-token' | 'rotate-custodians';

/** rotate-custodians: the new custodians, where their shares go and their passphrases (empty with insecurePlain). */
export interface RotationArgs {
  custodians: string[];
  threshold: number;
  sharesOut: string;
  passphrases: ReadonlyMap<string, string>;
  insecurePlain: boolean;
}

export interface LifecycleArgs {
  module: string;
  initParameters?: string;
  token: { slotId: string } | { uri: string };
  keyLabel?: string;
  shares: { file: string; passphraseFile?: string }[];
  bundleOut: string;
  witnesses: string[];
  administrator: string;
  dataDir: string;
  rehearsal: boolean;
  json: boolean;
  rotation?: RotationArgs;
  /** Continue this interrupted ceremony of the same kind instead of starting one. */
  resume?: string;
}

export interface LifecycleOverrides {
  airGap?: () => AirGapStatus;
  scriptsDir?: string;
  /** Tests lower the scrypt cost of the share files rotate-custodians writes. */
  scrypt?: CeremonyServiceOptions['scrypt'];
}

const OPTIONS = {
  module: { type: 'string' },
  'init-parameters': { type: 'string' },
  slot: { type: 'string' },
  token: { type: 'string' },
  'key-label': { type: 'string' },
  share: { type: 'string', multiple: true },
  'bundle-out': { type: 'string' },
  witness: { type: 'string', multiple: true },
  administrator: { type: 'string' },
  'data-dir': { type: 'string' },
  rehearsal: { type: 'boolean' },
  resume: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** --resume ID: an interrupted ceremony of this kind (Home and `keyceremony ceremonies` list them). */
export function resumeFlag(command: LifecycleCommand, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!new RegExp(`^${command}-[A-Za-z0-9-]{1,96}$`).test(value)) throw new UsageError(`--resume ${value}: expected the id of a ${command} ceremony (${command}-...), as keyceremony ceremonies or Home shows it.`);
  return value;
}

/** The options of `command`; audit-token takes no --key-label. */
export function lifecycleArgs(command: LifecycleCommand, argv: string[]): LifecycleArgs | 'help' {
  const options: Record<string, (typeof OPTIONS)[keyof typeof OPTIONS]> = { ...OPTIONS };
  if (command === 'audit-token') delete options['key-label'];
  const { values: v } = parseStrict(argv, options);
  const values = v as Record<string, string | string[] | boolean | undefined>;
  if (values.help) return 'help';
  const { module, token } = tokenChoice(values as { module?: string; slot?: string; token?: string }, command === 'audit-token' ? 'the token to audit' : 'which token holds the key');
  let keyLabel: string | undefined;
  if (command === 'destroy-key') {
    keyLabel = values['key-label'] as string | undefined;
    if (!keyLabel) throw new UsageError('--key-label LABEL is required (the label of the key to destroy, as recorded when it was made).');
  }
  const shares = ((values.share as string[] | undefined) ?? []).map((s) => shareFileFlag('--share', s));
  if (shares.length === 0) throw new UsageError('--share FILE[:PASSPHRASE_FILE] is required: the custodians present their shares to open the token.');
  const args: LifecycleArgs = {
    module,
    token,
    shares,
    bundleOut: existingDir('--bundle-out', values['bundle-out'] as string | undefined),
    witnesses: witnessesFlag(values.witness as string[] | undefined, command),
    administrator: (values.administrator as string | undefined) ?? 'administrator',
    dataDir: resolve((values['data-dir'] as string | undefined) ?? defaultDataDir()),
    rehearsal: values.rehearsal === true,
    json: values.json === true,
  };
  if (keyLabel !== undefined) args.keyLabel = keyLabel;
  if (values['init-parameters'] !== undefined) args.initParameters = values['init-parameters'] as string;
  const resume = resumeFlag(command, values.resume as string | undefined);
  if (resume !== undefined) args.resume = resume;
  return args;
}

function stepInput(action: string, args: LifecycleArgs): Record<string, unknown> {
  switch (action) {
    case 'record-participants':
      return { administrator: args.administrator, witnesses: args.witnesses };
    case 'select-token':
      return 'uri' in args.token ? { uri: args.token.uri } : { moduleId: args.module, slotId: args.token.slotId };
    case 'witness-sign-off':
      return { witnesses: args.witnesses.map((name) => ({ name, statement: 'Signed off on the command line.' })) };
    case 'export-bundle':
      return { destinationDir: args.bundleOut };
    default:
      return {};
  }
}

/**
 * rotate-pins is retried (twice) before the ceremony is aborted: an abort after its user C_SetPIN acted but
 * before that was recorded would leave a token only the new shares open while the transcript names the old
 * custodians, and its Retry finds and records a change that acted (test/integration/rotate-custodians-faults).
 */
async function performRetrying(action: string, perform: () => Promise<CeremonyView>, say: (error: string) => void): Promise<CeremonyView> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await perform();
    } catch (error) {
      if (action !== 'rotate-pins' || attempt > 2 || (error as { code?: string }).code === 'ceremony-token-lost') throw error;
      say((error as Error).message);
    }
  }
}

/** A resumed destroy-key keeps the key it started with: --key-label must repeat it. */
async function checkResumeLabel(args: LifecycleArgs, ceremonyId: string): Promise<void> {
  let start: { parameters?: Record<string, unknown> } | undefined;
  try {
    start = (await readPreGenesisLog(preGenesisPathOf(args.dataDir, ceremonyId))).records[0]?.data as typeof start;
  } catch {
    throw new UsageError(`--resume ${ceremonyId}: no such ceremony in ${args.dataDir} (see the past ceremonies on Home, or --data-dir).`);
  }
  const recorded = start?.parameters?.keyLabel;
  if (args.keyLabel !== undefined && recorded !== args.keyLabel) throw new UsageError(`--key-label ${args.keyLabel}: ceremony ${ceremonyId} started with ${String(recorded)}; a resumed ceremony keeps the parameters it started with.`);
}


/** Parse, read the share files, run; the exit status. */
export async function lifecycleCommand(command: LifecycleCommand, help: string, argv: string[], out: Output, overrides: LifecycleOverrides = {}): Promise<number> {
  let args: LifecycleArgs;
  let shares: Record<string, unknown>[];
  try {
    const parsed = lifecycleArgs(command, argv);
    if (parsed === 'help') {
      out.stdout.write(help);
      return 0;
    }
    args = parsed;
    shares = await readShares(args);
    if (args.resume !== undefined) await checkResumeLabel(args, args.resume);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    out.stderr.write(`keyceremony ${command}: ${error.message}\n\nRun 'keyceremony ${command} --help' for the options.\n`);
    return 2;
  }
  return runLifecycleCeremony(command, args, shares, out, overrides);
}

export async function runLifecycleCeremony(command: LifecycleCommand, args: LifecycleArgs, shares: readonly Record<string, unknown>[], out: Output, overrides: LifecycleOverrides): Promise<number> {
  const runtime = await openCeremonyRuntime(
    {
      command,
      script: command,
      module: args.module,
      ...(args.initParameters === undefined ? {} : { initParameters: args.initParameters }),
      dataDir: args.dataDir,
      ...(overrides.airGap ? { airGap: overrides.airGap } : {}),
      ...(overrides.scriptsDir ? { scriptsDir: overrides.scriptsDir } : {}),
      ...(overrides.scrypt ? { engine: { scrypt: overrides.scrypt } } : {}),
    },
    out,
  );
  if (!runtime) return 1;
  const { service } = runtime;
  const rotation = args.rotation;
  const say = (line: string) => {
    if (!args.json) out.stdout.write(`${line}\n`);
  };
  let view: CeremonyView | undefined;
  try {
    const parameters = rotation ? { custodians: rotation.custodians, threshold: rotation.threshold } : args.keyLabel === undefined ? {} : { keyLabel: args.keyLabel };
    // A resumed ceremony keeps the parameters it started with (the engine reads them from its records).
    view = args.resume !== undefined ? await service.resume(args.resume) : await service.start({ script: command, parameters, rehearsal: args.rehearsal });
    const id = view.ceremonyId;
    say(`Ceremony ${id}: ${view.script.title}${view.script.rehearsal ? ' (REHEARSAL)' : ''}${args.resume !== undefined ? `, resumed at step ${view.currentStepId ?? 'end'}` : ''}`);
    while (view.status === 'running' && view.currentStepId !== null) {
      const currentId: string = view.currentStepId;
      const step: CeremonyView['steps'][number] | undefined = view.steps.find((s) => s.id === currentId);
      if (!step) break;
      // The command line is the room's typed confirmation: whoever runs it named the key to destroy.
      const confirm: Record<string, string> = step.confirm ? { confirm: step.confirm.word } : {};
      const newShare = (custodian: string) => (rotation && !rotation.insecurePlain ? { passphrase: rotation.passphrases.get(custodian) } : {});
      if (rotation && step.action === 'distribute-shares') {
        for (const custodian of [...(view.pendingCustodians ?? rotation.custodians)]) {
          view = (await service.perform(id, step.id, { custodian, ...(rotation.insecurePlain ? { insecurePlain: true } : newShare(custodian)), destinationDir: rotation.sharesOut })).view;
          say(`  ${step.id}: wrote ${join(rotation.sharesOut, shareFileName(custodian))}`);
        }
      } else if (rotation && step.approvals === 'quorum' && step.action !== 'quorum-login') {
        // After the rotation the new custodians approve, with the share files just written.
        for (const custodian of rotation.custodians.slice(0, rotation.threshold)) {
          view = (await service.perform(id, step.id, { shareFile: join(rotation.sharesOut, shareFileName(custodian)), ...newShare(custodian), ...confirm })).view;
          say(`  ${step.id}: ${custodian} approved`);
        }
      } else if (step.approvals === 'quorum') {
        for (const input of shares) {
          view = (await service.perform(id, step.id, { ...input, ...confirm })).view;
          if (view.currentStepId !== step.id) break;
        }
        if (view.currentStepId === step.id) {
          const q = view.quorum;
          throw new AppError(
            'quorum-not-reached',
            `the quorum was not reached: ${q?.approved.length ?? 0} distinct custodian(s) (${q?.approved.join(', ') || 'none'}) presented a share; ${q?.threshold ?? '?'} are needed. Nothing in the token was read or changed.`,
            `Run the command again with one --share FILE:PASSPHRASE_FILE for each of at least ${q?.threshold ?? 'the threshold of'} different custodians.`,
          );
        }
      } else {
        view = await performRetrying(step.action, () => service.perform(id, step.id, { ...stepInput(step.action, args), ...confirm }).then((r) => r.view), (e) => out.stderr.write(`keyceremony ${command}: step ${step.id} failed (${e}); retrying it, as the room would press Retry\n`));
      }
      say(`  ${step.id}: ${step.title} - done`);
    }
    const bundle = view.outputs.find((o) => o.kind === 'bundle');
    const s = view.summary;
    const auditClean = command !== 'audit-token' || s?.audit?.clean === true;
    if (args.json) {
      out.stdout.write(`${JSON.stringify({ ceremonyId: id, status: view.status, rehearsal: view.script.rehearsal, ...(command === 'destroy-key' ? { destroyed: s?.destroyed ?? null } : command === 'rotate-custodians' ? { rotation: s?.rotation ?? null, shares: view.outputs.filter((x) => x.kind === 'share-file') } : { audit: s?.audit ?? null }), bundle: bundle ?? null, dataDir: args.dataDir }, null, 2)}\n`);
    } else if (command === 'destroy-key') {
      const d = s?.destroyed;
      say(`Key '${d?.label ?? args.keyLabel}' (${d?.keySpec ?? '?'}, check value ${d?.checkValue ?? '?'}) destroyed: ${d?.objects ?? 0} object(s); the token answers nothing by its label or CKA_ID.`);
    } else if (command === 'rotate-custodians') {
      const r = s?.rotation;
      const pins = (r?.changed ?? []).map((c) => (c === 'so' ? 'SO' : c)).join(' and ') || '?';
      say(`Custodians replaced: ${pins} PIN(s) now derived from the new secret; ${r?.oldSharesRefused ? 'the token refuses the old shares' : 'the token was NOT shown to refuse the old shares'}.`);
      if (r?.newCustodians?.length) say(`The token now opens with ${r.threshold ?? '?'} of ${r.newCustodians.join(', ')}.`);
      for (const o of view.outputs.filter((x) => x.kind === 'share-file')) say(`  share file ${o.path}  sha256 ${o.sha256}`);
      for (const t of r?.otherTokens ?? []) say(`  Still opens with the old shares, needs rotate-custodians: token '${t.label}' (serial ${t.serial})`);
      if (r?.note) say(r.note);
    } else {
      const a = s?.audit;
      say(a?.clean ? `Audit: the token's ${a.objects} object(s) match its transcript.` : `Audit: ${a?.findings.length ?? '?'} finding(s) in the token's ${a?.objects ?? '?'} object(s):`);
      if (a?.deviceObjects !== undefined) say(`  The device itself lists ${a.deviceObjects} object(s) (authentication keys and the token label included), each recorded with its role.`);
      for (const f of a?.findings ?? []) say(`  - ${f}`);
    }
    say(`Transcript bundle: ${bundle?.path ?? '(none)'}`);
    // The audit completed and is recorded either way; its exit status says whether the token matched.
    if (!auditClean && !args.json) out.stderr.write(`keyceremony audit-token: the token does not match its transcript (${s?.audit?.findings.length ?? '?'} finding(s), recorded in ceremony ${id}).\n`);
    return view.status === 'completed' && auditClean ? 0 : 1;
  } catch (error) {
    const data = toErrorData(error);
    const at = view?.currentStepId ?? 'start';
    out.stderr.write(`keyceremony ${command}: ${stepMessage(at, data.message)}${data.remedy ? `\n  ${data.remedy}` : ''}\n`);
    let status = 'aborted';
    if (view) {
      try {
        await service.abort(view.ceremonyId, `keyceremony ${command} failed at step ${at}: ${data.message}`);
        out.stderr.write(`keyceremony ${command}: ceremony ${view.ceremonyId} was aborted and the abort recorded.\n`);
      } catch (abortError) {
        // A rotation in its PIN window whose token cannot say which PIN it accepts is not aborted (rotate-abort.ts):
        // it stays interrupted, to be resumed with the new shares. Anything else: already ended, nothing to record.
        const refused = toErrorData(abortError);
        if (refused.code === 'rotation-abort-unsettled') {
          status = 'interrupted';
          out.stderr.write(`keyceremony ${command}: not aborted: ${refused.message}\n  It stays interrupted: run keyceremony ${command} --resume ${view.ceremonyId} with M of the new shares once the token answers.\n`);
        }
      }
    }
    if (args.json) out.stdout.write(`${JSON.stringify({ ceremonyId: view?.ceremonyId ?? null, status, error: data }, null, 2)}\n`);
    return 1;
  } finally {
    await runtime.close();
  }
}
