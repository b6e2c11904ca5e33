// `keyceremony kms-rewrap`: the kms-rewrap ceremony (ceremonies/kms-rewrap.yaml) without the app, through
// the same engine. Its flags are kms-import's, parsed by the same function, so the two commands cannot
// drift apart: the room that ran kms-import re-runs the same line with the new parameters file.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CeremonyView } from '../ceremony/engine/index.js';
import { toErrorData } from '../errors.js';
import { UsageError } from './args.js';
import { openCeremonyRuntime } from './ceremony-runtime.js';
import { KMS_IMPORT_HELP, kmsImportArgs, readShares, type KmsImportArgs, type KmsImportOverrides } from './kms-import-command.js';
import type { Output } from './output.js';

const COMMAND = 'kms-rewrap';

export const KMS_REWRAP_HELP = `${KMS_IMPORT_HELP.slice(0, KMS_IMPORT_HELP.indexOf('\n\n')).replace('keyceremony kms-import', 'keyceremony kms-rewrap')}

Runs the kms-rewrap ceremony (ceremonies/kms-rewrap.yaml) without the app: re-exports
key material an earlier kms-import generated in the token, under new AWS KMS
import parameters (they expired, a multi-Region replica, another KMS key). It
reads the parameters and checks the token can wrap SPEC with ALG, opens the
token with the custodians' shares (and checks its chain head), finds the key
labelled LABEL (exactly one), recomputes its check value in the token and
refuses unless it equals the one recorded when the key was generated, wraps it
in the token, and writes the import bundle into DIR and the transcript bundle
into --bundle-out. The flags are those of kms-import.

${KMS_IMPORT_HELP.slice(KMS_IMPORT_HELP.indexOf('Options:'))}`;

/** The input each non-quorum step of kms-rewrap.yaml takes from the command line. */
function stepInput(action: string, args: KmsImportArgs): Record<string, unknown> {
  switch (action) {
    case 'record-participants':
      return { administrator: args.administrator, witnesses: args.witnesses };
    case 'select-token':
      return 'uri' in args.token ? { uri: args.token.uri } : { moduleId: args.module, slotId: args.token.slotId };
    case 'load-import-parameters':
      return { path: args.params, wrappingAlgorithm: args.wrappingAlgorithm, ...(args.keyArn ? { keyArn: args.keyArn } : {}), ...(args.validTo ? { validTo: args.validTo } : {}) };
    case 'export-wrapped-key':
      return { destinationDir: args.out };
    case 'witness-sign-off':
      return { witnesses: args.witnesses.map((name) => ({ name, statement: 'Signed off on the command line.' })) };
    case 'export-bundle':
      return { destinationDir: args.bundleOut };
    default:
      return {};
  }
}

export async function kmsRewrapCommand(argv: string[], out: Output, overrides: KmsImportOverrides = {}): Promise<number> {
  let args: KmsImportArgs;
  let shares: Record<string, unknown>[];
  try {
    const parsed = kmsImportArgs(argv);
    if (parsed === 'help') {
      out.stdout.write(KMS_REWRAP_HELP);
      return 0;
    }
    args = parsed;
    shares = await readShares(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    out.stderr.write(`keyceremony ${COMMAND}: ${error.message}\n\nRun 'keyceremony ${COMMAND} --help' for the options.\n`);
    return 2;
  }

  const runtime = await openCeremonyRuntime(
    {
      command: COMMAND,
      script: COMMAND,
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
    view = await service.start({ script: COMMAND, parameters: { keySpec: args.keySpec, keyLabel: args.keyLabel, wrappingAlgorithm: args.wrappingAlgorithm }, rehearsal: args.rehearsal });
    const id = view.ceremonyId;
    say(`Ceremony ${id}: ${view.script.title}${view.script.rehearsal ? ' (REHEARSAL)' : ''}`);
    while (view.status === 'running' && view.currentStepId !== null) {
      const currentId: string = view.currentStepId;
      const step: CeremonyView['steps'][number] | undefined = view.steps.find((s) => s.id === currentId);
      if (!step) break;
      // The CLI is the room's typed confirmation: whoever runs it has read the parameters it names.
      const confirm: Record<string, string> = step.confirm ? { confirm: step.confirm.word } : {};
      if (step.approvals === 'quorum') {
        for (const input of shares) {
          view = (await service.perform(id, step.id, { ...input, ...confirm })).view;
          if (view.currentStepId !== step.id) break;
        }
        if (view.currentStepId === step.id) {
          const q = view.quorum;
          throw new Error(`the quorum was not reached: ${q?.approved.length ?? 0} distinct custodian(s) (${q?.approved.join(', ') || 'none'}) presented a share; ${q?.threshold ?? '?'} are needed. Nothing was wrapped.`);
        }
      } else {
        view = (await service.perform(id, step.id, { ...stepInput(step.action, args), ...confirm })).view;
      }
      say(`  ${step.id}: ${step.title} - done`);
    }
    const kmsOut = view.outputs.find((o) => o.kind === 'kms-import');
    const bundle = view.outputs.find((o) => o.kind === 'bundle');
    const manifest = kmsOut ? (JSON.parse(await readFile(join(kmsOut.path, 'import-manifest.json'), 'utf8')) as { checkValue?: { value?: string; method?: string }; files?: Record<string, { bytes: number; sha256: string }>; importCommand?: string }) : undefined;
    if (args.json) {
      out.stdout.write(`${JSON.stringify({ ceremonyId: id, status: view.status, rehearsal: view.script.rehearsal, checkValue: manifest?.checkValue ?? null, importBundle: kmsOut ? { path: kmsOut.path, files: manifest?.files ?? null } : null, bundle: bundle ?? null, dataDir: args.dataDir }, null, 2)}\n`);
    } else {
      const cv = manifest?.checkValue;
      say(`Key check value: ${cv?.value ?? '(none)'} (${cv?.method ?? ''}), the same as recorded when the key was generated`);
      say(`Import bundle: ${kmsOut?.path ?? '(none)'}`);
      for (const [name, f] of Object.entries(manifest?.files ?? {})) say(`  ${name}  ${f.bytes} bytes  sha256 ${f.sha256}`);
      say(`Transcript bundle: ${bundle?.path ?? '(none)'}`);
      if (manifest?.importCommand) say(`On a connected machine, in the import bundle folder:\n  ${manifest.importCommand}`);
    }
    return view.status === 'completed' ? 0 : 1;
  } catch (error) {
    const data = toErrorData(error);
    const at = view?.currentStepId ?? 'start';
    out.stderr.write(`keyceremony ${COMMAND}: step ${at}: ${data.message}${data.remedy ? `\n  ${data.remedy}` : ''}\n`);
    if (view) {
      try {
        await service.abort(view.ceremonyId, `keyceremony ${COMMAND} failed at step ${at}: ${data.message}`);
        out.stderr.write(`keyceremony ${COMMAND}: ceremony ${view.ceremonyId} was aborted and the abort recorded.\n`);
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
