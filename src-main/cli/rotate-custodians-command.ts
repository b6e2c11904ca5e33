// `keyceremony rotate-custodians`: the rotate-custodians ceremony (ceremonies/rotate-custodians.yaml) without
// the app. The current custodians' shares (--share, in order) open the token; the new custodians' shares are
// written into --shares-out with the passphrases read from their files; the new custodians seal the
// transcript with the share files just written. The transcript bundle goes into --out.
import { resolve } from 'node:path';
import { checkOutputFolder, checkShareFolder } from '../ceremony/actions/share-folder.js';
import { defaultDataDir } from '../data-dir.js';
import { AppError } from '../errors.js';
import { parseArgs } from 'node:util';
import { tokenChoice, UsageError } from './args.js';
import { custodiansFlag, existingDir, passphraseFilesFlag, readPassphrases, shareFileFlag, thresholdFlag, witnessesFlag } from './ceremony-flags.js';
import { PLAIN_SHARES_WARNING } from './enrol-token-command.js';
import { readShares } from './share-flags.js';
import { resumeFlag, runLifecycleCeremony, type LifecycleArgs, type LifecycleOverrides } from './token-lifecycle-run.js';
import type { Output } from './output.js';

const COMMAND = 'rotate-custodians';

export const ROTATE_CUSTODIANS_HELP = `Usage: keyceremony rotate-custodians --module PATH [--init-parameters STR]
         (--slot N | --token URI) --share FILE[:PASSPHRASE_FILE]...
         --custodians NAME,NAME,... --threshold M --shares-out DIR
         (--passphrase-file NAME=FILE ... | --insecure-plain-shares --rehearsal)
         --out DIR --witness NAME... [--administrator NAME]
         [--data-dir DIR] [--rehearsal] [--resume CEREMONY_ID] [--json]

Runs the rotate-custodians ceremony (ceremonies/rotate-custodians.yaml) without
the app, on a token enrolled by init-token or enrol-token whose transcript is
in the data directory: the current custodians' shares (--share, M of them) open
the token (and its chain head is checked); a new secret is generated and split
among the new custodians, DIR/<custodian>.share written for each, read back and
every M-subset proven, and the new enrolment recorded; only then are the
token's user PIN and (where the old secret set it) SO PIN replaced with PINs
derived from the new secret, and the token is asked to refuse the old user PIN.
The keys in the token are not touched. It lists the other tokens on this laptop
that the old shares open (the same domain): each still needs this ceremony.
The new custodians seal the transcript with the files just written.

Options:
  --module PATH              The PKCS#11 library of the token.
  --init-parameters STR      C_Initialize library parameters for that module.
  --slot N                   The slot of the token (see 'keyceremony tokens').
  --token URI                Or the token as a PKCS#11 URI (pkcs11:token=...).
  --share FILE[:PASSPHRASE_FILE]
                             A current custodian's share file (and the file
                             holding its passphrase). Repeat until the threshold.
  --custodians LIST          The new custodians, comma-separated, in share order.
  --threshold M              How many new custodians unlock the token (2..N).
  --shares-out DIR           Existing folder for the new share files (never overwritten).
  --passphrase-file N=FILE   The passphrase for new custodian N's share file.
  --insecure-plain-shares    Write UNENCRYPTED share files (with --rehearsal only).
  --out DIR                  Existing folder the transcript bundle is created in.
  --witness NAME             A witness present; repeat for each.
  --administrator NAME       Who drives the ceremony (default: administrator).
  --data-dir DIR             Where transcripts live (default:
                             $XDG_DATA_HOME/keyceremony or ~/.local/share/keyceremony).
  --rehearsal                A rehearsal: the air gap is checked and recorded but
                             not enforced.
  --resume CEREMONY_ID       Continue an interrupted rotate-custodians (the same
                             flags) that reached its PIN step: M of the NEW
                             custodians' shares (--share) open the token and it
                             goes on (finishing a PIN change that acted). One
                             stopped before its PIN step cannot go on (the new
                             secret is gone): abandon it and start again.
  --json                     Print the outcome as JSON.
  -h, --help                 Show this help.

Exit status: 0 when the ceremony completed, 1 when it failed (recorded as
aborted, with the reason; before the PIN step the old shares still open the
token), 2 for a usage error.
`;

const OPTIONS = {
  module: { type: 'string' },
  'init-parameters': { type: 'string' },
  slot: { type: 'string' },
  token: { type: 'string' },
  share: { type: 'string', multiple: true },
  custodians: { type: 'string' },
  threshold: { type: 'string' },
  'shares-out': { type: 'string' },
  'passphrase-file': { type: 'string', multiple: true },
  'insecure-plain-shares': { type: 'boolean' },
  out: { type: 'string' },
  witness: { type: 'string', multiple: true },
  administrator: { type: 'string' },
  'data-dir': { type: 'string' },
  rehearsal: { type: 'boolean' },
  resume: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

async function parse(argv: string[]): Promise<{ args: LifecycleArgs; shares: Record<string, unknown>[] } | 'help'> {
  let values;
  try {
    values = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return 'help';
  const { module, token } = tokenChoice(values, 'the token whose custodians change');
  const shares = (values.share ?? []).map((s) => shareFileFlag('--share', s));
  if (shares.length === 0) throw new UsageError('--share FILE[:PASSPHRASE_FILE] is required: the current custodians present their shares to open the token.');
  const custodians = custodiansFlag(values.custodians);
  const threshold = thresholdFlag(values.threshold, custodians);
  const rehearsal = values.rehearsal === true;
  const insecurePlain = values['insecure-plain-shares'] === true;
  const files = passphraseFilesFlag(values['passphrase-file'], custodians, insecurePlain, { plainNeedsRehearsal: { rehearsal } });
  const args: LifecycleArgs = {
    module,
    token,
    shares,
    bundleOut: existingDir('--out', values.out),
    witnesses: witnessesFlag(values.witness, COMMAND),
    administrator: values.administrator ?? 'administrator',
    dataDir: resolve(values['data-dir'] ?? defaultDataDir()),
    rehearsal,
    json: values.json === true,
    rotation: { custodians, threshold, sharesOut: existingDir('--shares-out', values['shares-out']), passphrases: await readPassphrases(files), insecurePlain },
  };
  if (values['init-parameters'] !== undefined) args.initParameters = values['init-parameters'];
  const resume = resumeFlag(COMMAND, values.resume);
  if (resume !== undefined) args.resume = resume;
  return { args, shares: await readShares(args) };
}

export async function rotateCustodiansCommand(argv: string[], out: Output, overrides: LifecycleOverrides = {}): Promise<number> {
  let parsed: Awaited<ReturnType<typeof parse>>;
  try {
    parsed = await parse(argv);
    if (parsed === 'help') {
      out.stdout.write(ROTATE_CUSTODIANS_HELP);
      return 0;
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    out.stderr.write(`keyceremony ${COMMAND}: ${error.message}\n\nRun 'keyceremony ${COMMAND} --help' for the options.\n`);
    return 2;
  }
  const { args, shares } = parsed;
  const rotation = args.rotation as NonNullable<LifecycleArgs['rotation']>;
  // Every output folder is checked before anything is recorded or touched (the engine checks each again).
  try {
    if (args.resume === undefined) await checkShareFolder(rotation.sharesOut, rotation.custodians, '--shares-out');
    await checkOutputFolder(args.bundleOut, [], '--out', 4 * 1024 * 1024);
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    out.stderr.write(`keyceremony ${COMMAND}: ${error.message}\n  ${error.remedy}\n`);
    return 2;
  }
  if (rotation.insecurePlain) out.stderr.write(`keyceremony ${COMMAND}: ${PLAIN_SHARES_WARNING}\n`);
  return runLifecycleCeremony(COMMAND, args, shares, out, overrides);
}
