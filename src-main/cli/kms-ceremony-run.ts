// The run of a KMS ceremony from the command line, shared by `keyceremony kms-import` and `keyceremony
// kms-rewrap` (their scripts take the same inputs at the same actions): each step's input from the flags,
// the quorum from the --share files in order, the check value and files printed at the end. A failure
// aborts the ceremony (recorded) and exits 1.
import { stepMessage } from './share-flags.js';
import { join } from 'node:path';
import type { CeremonyView } from '../ceremony/engine/index.js';
import { AppError, toErrorData } from '../errors.js';
import { FILE_CAPS, readBounded, type FileKind } from '../files/read-bounded.js';
import { openCeremonyRuntime } from './ceremony-runtime.js';
import type { KmsImportArgs, KmsImportOverrides } from './kms-import-command.js';
import type { Output } from './output.js';
import { CLOUD_NAMES, type Cloud } from '../kms/clouds/types.js';

export type KmsCeremonyCommand = 'kms-import' | 'kms-rewrap';

/** What the token work after the login is, for the message when the quorum is not reached. */
const AFTER_LOGIN: Record<KmsCeremonyCommand, string> = { 'kms-import': 'Nothing was generated.', 'kms-rewrap': 'Nothing was wrapped.' };

/** The manifest the export step just wrote and verified, read back for the summary printed at the end. */
const IMPORT_MANIFEST: FileKind = { what: 'import manifest', cap: FILE_CAPS.importManifest, remedy: 'Check the import bundle folder the ceremony wrote.', code: 'kms-manifest-unreadable' };

/** The input each non-quorum step takes from the command line. */
function stepInput(action: string, args: KmsImportArgs): Record<string, unknown> {
  switch (action) {
    case 'record-participants':
      return { administrator: args.administrator, witnesses: args.witnesses };
    case 'select-token':
      return 'uri' in args.token ? { uri: args.token.uri } : { moduleId: args.module, slotId: args.token.slotId };
    case 'load-import-parameters': {
      const input: Record<string, unknown> = { path: args.params, wrappingAlgorithm: args.wrappingAlgorithm, ...(args.keyArn ? { keyArn: args.keyArn } : {}), ...(args.validTo ? { validTo: args.validTo } : {}) };
      // Only when not AWS or when given: a transcript of an AWS ceremony reads as it always did.
      if (args.cloud !== 'aws') input.cloud = args.cloud;
      for (const k of ['target', 'targetAlgorithm', 'importJob', 'importMethod', 'kekId', 'hashFunction', 'importType', 'keyMaterialDescription', 'keyMaterialId'] as const) {
        if (args[k] !== undefined) input[k] = args[k];
      }
      return input;
    }
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

/**
 * The parameters as loaded, and every warning about them, right after they are read: before any login or
 * key generation. Warnings go to stderr in both modes, so --json output stays one document.
 */
function tellParameters(command: KmsCeremonyCommand, view: CeremonyView, out: Output, say: (line: string) => void): void {
  const key = view.summary?.key;
  if (!key) return;
  if (key.cloud && key.cloud !== 'aws') {
    say(`  ${CLOUD_NAMES[key.cloud as Cloud] ?? key.cloud}: key ${key.target ?? key.keyId}; wrapping key ${key.wrappingKeySpec ?? '?'}, ${key.wrappingAlgorithm}${key.validTo ? `; usable until ${key.validTo}` : ''}`);
  } else {
    const where = key.region ? ` (Region ${key.region}, account ${key.account ?? '?'})` : ' (Region and account not named by the parameters)';
    say(`  Key ${key.arn ?? key.keyId}${where}; wrapping key ${key.wrappingKeySpec ?? '?'}; parameters valid until ${key.validTo ?? '?'}`);
  }
  for (const w of key.warnings) out.stderr.write(`keyceremony ${command}: warning: ${w}\n`);
}


export async function runKmsCeremony(
  command: KmsCeremonyCommand,
  args: KmsImportArgs,
  shares: readonly Record<string, unknown>[],
  out: Output,
  overrides: KmsImportOverrides,
  resume?: string,
): Promise<number> {
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
    view =
      resume !== undefined
        ? await service.resume(resume)
        : await service.start({ script: command, parameters: { keySpec: args.keySpec, keyLabel: args.keyLabel, wrappingAlgorithm: args.wrappingAlgorithm }, rehearsal: args.rehearsal });
    const id = view.ceremonyId;
    say(`Ceremony ${id}: ${view.script.title}${view.script.rehearsal ? ' (REHEARSAL)' : ''}${resume !== undefined ? `, resumed at step ${view.currentStepId ?? 'end'}` : ''}`);
    while (view.status === 'running' && view.currentStepId !== null) {
      const currentId: string = view.currentStepId;
      const step: CeremonyView['steps'][number] | undefined = view.steps.find((s) => s.id === currentId);
      if (!step) break;
      // The command line is the room's typed confirmation: whoever runs it has read the parameters it names.
      const confirm: Record<string, string> = step.confirm ? { confirm: step.confirm.word } : {};
      if (step.approvals === 'quorum') {
        for (const input of shares) {
          view = (await service.perform(id, step.id, { ...input, ...confirm })).view;
          if (view.currentStepId !== step.id) break;
        }
        if (view.currentStepId === step.id) {
          const q = view.quorum;
          // A refusal the room caused, not a failure of ours: coded, so it is not reported as unexpected.
          throw new AppError(
            'quorum-not-reached',
            `the quorum was not reached: ${q?.approved.length ?? 0} distinct custodian(s) (${q?.approved.join(', ') || 'none'}) presented a share; ${q?.threshold ?? '?'} are needed. ${AFTER_LOGIN[command]}`,
            `Run the command again with one --share FILE:PASSPHRASE_FILE for each of at least ${q?.threshold ?? 'the threshold of'} different custodians.`,
          );
        }
      } else {
        view = (await service.perform(id, step.id, { ...stepInput(step.action, args), ...confirm })).view;
      }
      say(`  ${step.id}: ${step.title} - done`);
      if (step.action === 'load-import-parameters') tellParameters(command, view, out, say);
    }
    const kmsOut = view.outputs.find((o) => o.kind === 'kms-import');
    const bundle = view.outputs.find((o) => o.kind === 'bundle');
    const manifest = kmsOut ? (JSON.parse((await readBounded(join(kmsOut.path, 'import-manifest.json'), IMPORT_MANIFEST)).toString('utf8')) as { checkValue?: { value?: string; method?: string }; files?: Record<string, { bytes: number; sha256: string }>; importCommand?: string }) : undefined;
    if (args.json) {
      out.stdout.write(`${JSON.stringify({ ceremonyId: id, status: view.status, cloud: args.cloud, target: view.summary?.key?.target ?? null, rehearsal: view.script.rehearsal, parameterWarnings: view.summary?.key?.warnings ?? [], checkValue: manifest?.checkValue ?? null, importBundle: kmsOut ? { path: kmsOut.path, files: manifest?.files ?? null } : null, bundle: bundle ?? null, dataDir: args.dataDir }, null, 2)}\n`);
    } else {
      const cv = manifest?.checkValue;
      say(`Key check value: ${cv?.value ?? '(none)'} (${cv?.method ?? ''})${command === 'kms-rewrap' ? ', the same as recorded when the key was generated' : ''}`);
      say(`Import bundle: ${kmsOut?.path ?? '(none)'}`);
      for (const [name, f] of Object.entries(manifest?.files ?? {})) say(`  ${name}  ${f.bytes} bytes  sha256 ${f.sha256}`);
      say(`Transcript bundle: ${bundle?.path ?? '(none)'}`);
      if (manifest?.importCommand) say(`On a connected machine, in the import bundle folder:\n  ${manifest.importCommand}`);
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
