// `keyceremony init-token`: the init-token ceremony, non-interactively, through the same engine the app uses.
// Passphrases come only from files (never argv). The quorum step is approved with the share files it just
// wrote. Like the app, it never changes the token before every share file is written, read back and proved;
// before it starts it checks the label, both output folders and every passphrase file. A failure aborts the
// ceremony (recorded) and exits 1; a failure after the token was touched prints the exact command that
// re-initializes it from the share files just written.
import { defaultDataDir } from '../data-dir.js';
import { join, resolve } from 'node:path';
import type { CeremonyView } from '../ceremony/engine/index.js';
import { shareFileName } from '../ceremony/actions/share-folder.js';
import { tokenLabelProblem } from '../ceremony/actions/token-label.js';
import { parseStrict, tokenChoice, UsageError } from './args.js';
import { CEREMONY_OPTIONS, custodiansFlag, existingDir, joinDomainFlags, joinDomainInput, passphraseFilesFlag, previousSharesFlag, previousSharesInput, readPassphrases, readSecretFlagFile, thresholdFlag, witnessesFlag, type JoinDomainFlags } from './ceremony-flags.js';
import { prepareOrExit, runTokenCeremony, type TokenCeremonyOverrides } from './token-ceremony-run.js';
import { PIN_FILE } from './flag-files.js';
import type { Output } from './output.js';

export const INIT_TOKEN_HELP = `Usage: keyceremony init-token --module PATH [--init-parameters STR]
         (--slot N | --token URI) --token-label LABEL
         --custodians NAME,NAME,... --threshold M
         --shares-out DIR --out BUNDLE_PARENT_DIR
         (--passphrase-file NAME=FILE ... | --insecure-plain-shares)
         --witness NAME... [--administrator NAME] [--data-dir DIR]
         [--previous-share FILE[:PASSPHRASE_FILE]]...
         [--allow-reinitialize --current-so-pin-file FILE] [--rehearsal] [--json]
       keyceremony init-token --module PATH (--slot N | --token URI)
         --token-label LABEL --join-domain-share FILE[:PASSPHRASE_FILE]...
         --out BUNDLE_PARENT_DIR --witness NAME... [...]

Runs the init-token ceremony (ceremonies/init-token.yaml) without the app:
initializes the token with LABEL and PINs derived from a new secret, splits the
secret M-of-N among the custodians, writes DIR/<custodian>.share for each,
proves every M-subset, has M custodians approve (with the share files just
written) before the chain head is written, and exports the transcript bundle
into BUNDLE_PARENT_DIR. Every step is recorded in the transcript.

Options:
  --module PATH              The PKCS#11 library of the token.
  --init-parameters STR      C_Initialize library parameters for that module.
  --slot N                   The slot of the token (see 'keyceremony tokens').
  --token URI                Or the token as a PKCS#11 URI (pkcs11:token=...).
  --token-label LABEL        The label to write into the token (at most 32 bytes).
  --custodians LIST          Comma-separated custodian names, in share order.
  --threshold M              How many custodians unlock the token (2..N).
  --shares-out DIR           Existing folder for the share files (never overwritten).
  --out DIR                  Existing folder the transcript bundle is created in.
  --passphrase-file N=FILE   The passphrase for custodian N's share file, read
                             from FILE (one trailing newline is ignored). One per
                             custodian. Passphrases are never taken from argv.
  --insecure-plain-shares    Write unencrypted share files (rehearsals only).
  --witness NAME             A witness present; repeat for each.
  --administrator NAME       Who drives the ceremony (default: administrator).
  --data-dir DIR             Where transcripts live (default:
                             $XDG_DATA_HOME/keyceremony or ~/.local/share/keyceremony).
  --join-domain-share FILE[:PASSPHRASE_FILE]
                             Join an existing security domain instead of
                             creating one: the share file of each custodian
                             present (at least the domain's threshold), with its
                             passphrase file. Replaces --custodians, --threshold,
                             --passphrase-file and --shares-out: no share is
                             handed out, the same share files open this token,
                             whose PINs are derived for it. The domain's
                             enrolment must be in a chain in --data-dir.
  --previous-share FILE[:PASSPHRASE_FILE]
                             Restarting after an interrupted init-token on the
                             same token: M share files of the interrupted attempt
                             (void, but they rebuild the SO PIN that erasing the
                             token requires). Repeat for each.
  --allow-reinitialize       Erase a token that is already initialized (the room
                             agreed to it); needs --current-so-pin-file.
  --current-so-pin-file FILE The token's current SO PIN, read from FILE.
  --rehearsal                A rehearsal: the air gap is checked and recorded but
                             not enforced.
  --json                     Print the outcome as JSON.
  -h, --help                 Show this help.

Exit status: 0 when the ceremony completed, 1 when it failed (it is recorded as
aborted, with the reason), 2 for a usage error.
`;

export interface InitTokenArgs {
  module: string;
  initParameters?: string;
  token: { slotId: string } | { uri: string };
  tokenLabel: string;
  custodians: string[];
  threshold: number;
  sharesOut: string;
  out: string;
  passphraseFiles: Map<string, string>;
  insecurePlain: boolean;
  witnesses: string[];
  administrator: string;
  dataDir: string;
  allowReinitialize: boolean;
  previousShares: { file: string; passphraseFile?: string }[];
  currentSoPinFile?: string;
  /** Joining an existing security domain (custodians, threshold, shares out and passphrases are then empty). */
  joinDomain?: JoinDomainFlags;
  rehearsal: boolean;
  json: boolean;
}

/** Hooks for tests and the crash test: lower scrypt cost, a fixed air-gap answer, a pause after a share. */
export type InitTokenOverrides = TokenCeremonyOverrides;

export function initTokenArgs(argv: string[]): InitTokenArgs | 'help' {
  const { values } = parseStrict(argv, { ...CEREMONY_OPTIONS, 'token-label': { type: 'string' }, 'allow-reinitialize': { type: 'boolean' }, 'current-so-pin-file': { type: 'string' } });
  if (values.help) return 'help';
  const { module, token } = tokenChoice(values, 'which token to initialize');
  const tokenLabel = values['token-label'] as string | undefined;
  if (!tokenLabel) throw new UsageError('--token-label LABEL is required.');
  const labelProblem = tokenLabelProblem(tokenLabel, '--token-label');
  if (labelProblem) throw new UsageError(`${labelProblem}.`);
  const joinDomain = joinDomainFlags(values);
  const custodians = joinDomain ? [] : custodiansFlag(values.custodians as string | undefined);
  const threshold = joinDomain ? 0 : thresholdFlag(values.threshold as string | undefined, custodians);
  const sharesOut = joinDomain ? '' : existingDir('--shares-out', values['shares-out'] as string | undefined);
  const out = existingDir('--out', values.out as string | undefined);
  const insecurePlain = values['insecure-plain-shares'] === true;
  const passphraseFiles = joinDomain ? new Map<string, string>() : passphraseFilesFlag(values['passphrase-file'] as string[] | undefined, custodians, insecurePlain, { missingHint: ' (or pass --insecure-plain-shares for a rehearsal)' });
  const witnesses = witnessesFlag(values.witness as string[] | undefined, 'init-token');
  const args: InitTokenArgs = {
    module,
    token,
    tokenLabel,
    custodians,
    threshold,
    sharesOut,
    out,
    passphraseFiles,
    insecurePlain,
    witnesses,
    administrator: (values.administrator as string | undefined) ?? 'administrator',
    dataDir: resolve((values['data-dir'] as string | undefined) ?? defaultDataDir()),
    allowReinitialize: values['allow-reinitialize'] === true,
    previousShares: previousSharesFlag(values['previous-share'] as string[] | undefined),
    rehearsal: values.rehearsal === true,
    json: values.json === true,
  };
  if (values['init-parameters'] !== undefined) args.initParameters = values['init-parameters'] as string;
  if (joinDomain) args.joinDomain = joinDomain;
  const soPinFile = values['current-so-pin-file'] as string | undefined;
  if (soPinFile !== undefined) {
    if (!args.allowReinitialize) throw new UsageError('--current-so-pin-file is only for --allow-reinitialize.');
    args.currentSoPinFile = resolve(soPinFile);
  }
  return args;
}

/** A word as the shell reads it back. */
const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`);

/** The same command again, as argv, with `--shares-out` replaced and the token named by its new label. */
function againArgv(args: InitTokenArgs, sharesOut: string): string[] {
  const out = ['keyceremony', 'init-token', '--module', args.module];
  if (args.initParameters !== undefined) out.push('--init-parameters', args.initParameters);
  out.push('--token', `pkcs11:token=${encodeURIComponent(args.tokenLabel)}`, '--token-label', args.tokenLabel, '--custodians', args.custodians.join(','), '--threshold', String(args.threshold));
  out.push('--shares-out', sharesOut, '--out', args.out);
  if (args.insecurePlain) out.push('--insecure-plain-shares');
  for (const [name, file] of args.passphraseFiles) out.push('--passphrase-file', `${name}=${file}`);
  for (const w of args.witnesses) out.push('--witness', w);
  out.push('--administrator', args.administrator, '--data-dir', args.dataDir);
  if (args.rehearsal) out.push('--rehearsal');
  return out.map(quote);
}

/**
 * What the room does after a failure. Before the init step nothing on the token changed; from it on, the
 * token may be initialized with the PINs of the secret these share files hold: the exact command that
 * re-initializes it from them (they stay void for anything else).
 */
function wayOut(args: InitTokenArgs, view: CeremonyView, at: string): string {
  if (args.joinDomain) return joinWayOut(view, at);
  const initAt = view.steps.findIndex((s) => s.action === 'init-token');
  const failedAt = view.steps.findIndex((s) => s.id === at);
  if (initAt < 0 || (failedAt >= 0 && failedAt < initAt)) {
    return 'keyceremony init-token: the token was not changed (nothing is changed before every share file is written and proved); fix the problem above and run the command again with an empty --shares-out folder.\n';
  }
  const written = view.outputs.filter((o) => o.kind === 'share-file').map((o) => o.path);
  const holders = args.custodians.filter((c) => written.includes(join(args.sharesOut, shareFileName(c)))).slice(0, args.threshold);
  const previous = holders.map((c) => `--previous-share ${quote(`${join(args.sharesOut, shareFileName(c))}${args.insecurePlain ? '' : `:${args.passphraseFiles.get(c) ?? 'PASSPHRASE_FILE'}`}`)}`);
  return [
    `keyceremony init-token: the token may now be initialized by ceremony ${view.ceremonyId}; its share files in ${args.sharesOut} rebuild its SO PIN (and open nothing else).`,
    '  To start again, leave them where they are and run, with a new empty folder for the new shares:',
    `  ${[...againArgv(args, 'NEW_EMPTY_FOLDER'), ...previous].join(' ')}`,
    '',
  ].join('\n');
}

/** After a failure of a token joining a domain: before init nothing changed; after it, the domain's shares rebuild its SO PIN. */
function joinWayOut(view: CeremonyView, at: string): string {
  const initAt = view.steps.findIndex((s) => s.action === 'init-token');
  const failedAt = view.steps.findIndex((s) => s.id === at);
  if (initAt < 0 || (failedAt >= 0 && failedAt < initAt)) return 'keyceremony init-token: the token was not changed; fix the problem above and run the command again.\n';
  return `keyceremony init-token: the token may now be initialized by ceremony ${view.ceremonyId} with PINs derived for it from the domain secret. To start again, run the same command and add --previous-share FILE:PASSPHRASE_FILE for the same share files (they rebuild its SO PIN).\n`;
}

async function initStepInput(args: InitTokenArgs): Promise<Record<string, unknown>> {
  const input: Record<string, unknown> = {};
  if (args.previousShares.length > 0) input.previousShares = await previousSharesInput(args.previousShares);
  if (args.currentSoPinFile) input.currentSoPin = await readSecretFlagFile(`--current-so-pin-file ${args.currentSoPinFile}`, args.currentSoPinFile, PIN_FILE);
  return input;
}

export async function initTokenCommand(argv: string[], out: Output, overrides: InitTokenOverrides = {}): Promise<number> {
  const prepared = await prepareOrExit('init-token', INIT_TOKEN_HELP, out, async () => {
    const args = initTokenArgs(argv);
    if (args === 'help') return args;
    const joinShares = args.joinDomain ? await joinDomainInput(args.joinDomain) : undefined;
    return { args, passphrases: await readPassphrases(args.passphraseFiles), initInput: await initStepInput(args), joinShares };
  });
  if (typeof prepared === 'number') return prepared;
  const { args, passphrases, initInput, joinShares } = prepared;
  const parameters: Record<string, unknown> = joinShares ? { tokenLabel: args.tokenLabel } : { tokenLabel: args.tokenLabel, custodians: args.custodians, threshold: args.threshold };
  if (args.allowReinitialize) parameters.allowReinitialize = true;
  return runTokenCeremony(
    joinShares ? { ...args, joinShares } : args,
    {
      command: 'init-token',
      ...(joinShares ? { script: 'init-token-join' } : {}),
      parameters,
      passphrases,
      inputs: { 'init-token': initInput, ...(joinShares ? { 'join-domain': { shares: joinShares } } : {}) },
      completed: joinShares ? "The token joined the security domain: the domain's share files open it; no new share was handed out." : 'Each custodian keeps their .share file on their own medium; the share files are the only way to open this token.',
      afterFailure: (view, at) => wayOut(args, view, at),
    },
    overrides,
    out,
  );
}
