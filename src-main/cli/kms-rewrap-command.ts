// `keyceremony kms-rewrap`: the kms-rewrap ceremony (ceremonies/kms-rewrap.yaml) without the app, through
// the same engine. Its flags are kms-import's, parsed by the same function, so the two commands cannot
// drift apart: the room that ran kms-import re-runs the same line with the new parameters file.
import { UsageError } from './args.js';
import { runKmsCeremony } from './kms-ceremony-run.js';
import { checkResumeParameters, KMS_IMPORT_HELP, kmsImportArgs, readShares, takeResume, type KmsImportArgs, type KmsImportOverrides } from './kms-import-command.js';
import type { Output } from './output.js';
import { settleWrappingAlgorithm } from './kms-cloud-flags.js';

const COMMAND = 'kms-rewrap';

export const KMS_REWRAP_HELP = `${KMS_IMPORT_HELP.slice(0, KMS_IMPORT_HELP.indexOf('\n\n')).replace('keyceremony kms-import', 'keyceremony kms-rewrap')}

Runs the kms-rewrap ceremony (ceremonies/kms-rewrap.yaml) without the app: re-exports
key material an earlier kms-import generated in the token, under new import
parameters of any cloud (they expired, a multi-Region replica with
--import-type EXISTING_KEY_MATERIAL, another KMS key, another cloud). It
reads the parameters and checks the token can wrap SPEC with ALG, opens the
token with the custodians' shares (and checks its chain head), finds the key
labelled LABEL (exactly one), recomputes its check value in the token and
refuses unless it equals the one recorded when the key was generated, wraps it
in the token, and writes the import bundle into DIR and the transcript bundle
into --bundle-out. The flags are those of kms-import.

--resume CEREMONY_ID continues a kms-rewrap that was interrupted after it
joined the token's transcript: same ceremony id; --key-spec, --key-label and
--wrapping-algorithm must be the ones it started with; the shares open the
token again, the key is found and its check value compared again, and the
import bundle goes to a new folder in DIR.

${KMS_IMPORT_HELP.slice(KMS_IMPORT_HELP.indexOf('Options:'))}`;

export async function kmsRewrapCommand(argv: string[], out: Output, overrides: KmsImportOverrides = {}): Promise<number> {
  let args: KmsImportArgs;
  let shares: Record<string, unknown>[];
  let resume: string | undefined;
  try {
    const taken = takeResume(argv, COMMAND);
    resume = taken.resume;
    const parsed = kmsImportArgs(taken.argv);
    if (parsed === 'help') {
      out.stdout.write(KMS_REWRAP_HELP);
      return 0;
    }
    args = parsed;
    await settleWrappingAlgorithm(args);
    shares = await readShares(args);
    if (resume !== undefined) await checkResumeParameters(args, resume);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    out.stderr.write(`keyceremony ${COMMAND}: ${error.message}\n\nRun 'keyceremony ${COMMAND} --help' for the options.\n`);
    return 2;
  }

  return runKmsCeremony(COMMAND, args, shares, out, overrides, resume);
}
