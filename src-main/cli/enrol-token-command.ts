// `keyceremony enrol-token`: the enrol-token ceremony (ceremonies/enrol-token.yaml) on a token initialized
// with its vendor's tool, non-interactively, through the same engine the app uses. The current PINs and the
// passphrases come only from files (never argv). The seal is approved with the share files it just wrote.
// A failure aborts the ceremony (recorded; after the PIN change the abort says the shares open the token).
import { resolve } from 'node:path';
import { SHARES_OPEN_TOKEN_KIND } from '../ceremony/actions/enrol-token.js';
import { defaultDataDir } from '../data-dir.js';
import { parseStrict, tokenChoice, UsageError } from './args.js';
import { PIN_FILE } from './flag-files.js';
import { CEREMONY_OPTIONS, custodiansFlag, existingDir, passphraseFilesFlag, previousSharesFlag, previousSharesInput, readPassphrases, readSecretFlagFile, thresholdFlag, witnessesFlag, joinDomainFlags, joinDomainInput, type JoinDomainFlags } from './ceremony-flags.js';
import { prepareOrExit, runTokenCeremony, type TokenCeremonyOverrides } from './token-ceremony-run.js';
import type { Output } from './output.js';

export const ENROL_TOKEN_HELP = `Usage: keyceremony enrol-token --module PATH [--init-parameters STR]
         (--slot N | --token URI)
         (--current-user-pin-file FILE [--current-so-pin-file FILE]
          | --previous-share FILE[:PASSPHRASE_FILE]...)
         --custodians NAME,NAME,... --threshold M
         --shares-out DIR --out BUNDLE_PARENT_DIR
         (--passphrase-file NAME=FILE ... | --insecure-plain-shares --rehearsal)
         --witness NAME... [--administrator NAME] [--data-dir DIR]
         [--rehearsal] [--json]
       keyceremony enrol-token --module PATH (--slot N | --token URI)
         --current-user-pin-file FILE --join-domain-share FILE[:PASSPHRASE_FILE]...
         --out BUNDLE_PARENT_DIR --witness NAME... [...]

Runs the enrol-token ceremony (ceremonies/enrol-token.yaml) without the app, on
a token that is already initialized (an HSM partition set up with its vendor's
tool, the NSS softoken whose user PIN is its database password). It logs in
with the current PINs and out again (a wrong PIN is refused before anything),
checks the token takes the audit key (throw-away objects), generates a secret,
splits it M-of-N, writes DIR/<custodian>.share for each, reads them back and
proves every M-subset; only then does it replace the user PIN (and the SO PIN
when --current-so-pin-file is given) with PINs derived from the secret. Then
the audit key, the transcript, the custodians' seal and the bundle in
BUNDLE_PARENT_DIR, as init-token does.

Options:
  --module PATH              The PKCS#11 library of the token.
  --init-parameters STR      C_Initialize library parameters for that module.
  --slot N                   The slot of the token (see 'keyceremony tokens').
  --token URI                Or the token as a PKCS#11 URI (pkcs11:token=...).
  --current-user-pin-file FILE
                             The token's current user PIN, read from FILE (one
                             trailing newline is ignored).
  --current-so-pin-file FILE The token's current SO PIN: give it to replace the
                             SO PIN too (tokens without one, such as NSS, refuse it).
  --previous-share FILE[:PASSPHRASE_FILE]
                             Instead of the current PINs, after an enrol-token
                             that stopped after changing the PINs: M of its share
                             files rebuild them. Repeat for each.
  --join-domain-share FILE[:PASSPHRASE_FILE]
                             Join an existing security domain instead of
                             creating one: the share file of each custodian
                             present (at least the domain's threshold), with its
                             passphrase file. Replaces --custodians, --threshold,
                             --passphrase-file and --shares-out: no share is
                             handed out; the PINs are replaced by PINs derived
                             for this token from the domain secret. The domain's
                             enrolment must be in a chain in --data-dir.
  --custodians LIST          Comma-separated custodian names, in share order.
  --threshold M              How many custodians unlock the token (2..N).
  --shares-out DIR           Existing folder for the share files (never overwritten).
  --out DIR                  Existing folder the transcript bundle is created in.
  --passphrase-file N=FILE   The passphrase for custodian N's share file, read
                             from FILE. One per custodian.
  --insecure-plain-shares    Write UNENCRYPTED share files (the share code in
                             clear, with a warning inside each file). Only with
                             --rehearsal; a warning is printed and the transcript
                             records each share as not encrypted.
  --witness NAME             A witness present; repeat for each.
  --administrator NAME       Who drives the ceremony (default: administrator).
  --data-dir DIR             Where transcripts live (default:
                             $XDG_DATA_HOME/keyceremony or ~/.local/share/keyceremony).
  --rehearsal                A rehearsal: the air gap is checked and recorded but
                             not enforced.
  --json                     Print the outcome as JSON.
  -h, --help                 Show this help.

Exit status: 0 when the ceremony completed, 1 when it failed (it is recorded as
aborted, with the reason), 2 for a usage error.
`;

export const PLAIN_SHARES_WARNING =
  'WARNING: --insecure-plain-shares writes UNENCRYPTED share files: anyone who reads one holds that share. Rehearsal only; the transcript records every share as not encrypted.';

export interface EnrolTokenArgs {
  module: string;
  initParameters?: string;
  token: { slotId: string } | { uri: string };
  currentUserPinFile?: string;
  currentSoPinFile?: string;
  previousShares: { file: string; passphraseFile?: string }[];
  custodians: string[];
  threshold: number;
  sharesOut: string;
  out: string;
  passphraseFiles: Map<string, string>;
  insecurePlain: boolean;
  witnesses: string[];
  administrator: string;
  dataDir: string;
  /** Joining an existing security domain (custodians, threshold, shares out and passphrases are then empty). */
  joinDomain?: JoinDomainFlags;
  rehearsal: boolean;
  json: boolean;
}

/** Hooks for tests: lower scrypt cost, a fixed air-gap answer, a stop after a recorded entry (the kill test). */
export type EnrolTokenOverrides = TokenCeremonyOverrides;

export function enrolTokenArgs(argv: string[]): EnrolTokenArgs | 'help' {
  const { values } = parseStrict(argv, { ...CEREMONY_OPTIONS, 'current-user-pin-file': { type: 'string' }, 'current-so-pin-file': { type: 'string' } });
  if (values.help) return 'help';
  const { module, token } = tokenChoice(values, 'which token to enrol');
  const previous = (values['previous-share'] as string[] | undefined) ?? [];
  const userPinFile = values['current-user-pin-file'] as string | undefined;
  const soPinFile = values['current-so-pin-file'] as string | undefined;
  if (previous.length > 0 && (userPinFile !== undefined || soPinFile !== undefined)) throw new UsageError('give either --current-user-pin-file (and --current-so-pin-file) or --previous-share, not both.');
  if (previous.length === 0 && userPinFile === undefined) {
    throw new UsageError(soPinFile === undefined ? "--current-user-pin-file FILE is required (the user PIN the token's vendor tool set)." : '--current-so-pin-file needs --current-user-pin-file too.');
  }
  const joinDomain = joinDomainFlags(values);
  const custodians = joinDomain ? [] : custodiansFlag(values.custodians as string | undefined);
  const threshold = joinDomain ? 0 : thresholdFlag(values.threshold as string | undefined, custodians);
  const sharesOut = joinDomain ? '' : existingDir('--shares-out', values['shares-out'] as string | undefined);
  const out = existingDir('--out', values.out as string | undefined);
  const insecurePlain = values['insecure-plain-shares'] === true;
  const rehearsal = values.rehearsal === true;
  const passphraseFiles = joinDomain ? new Map<string, string>() : passphraseFilesFlag(values['passphrase-file'] as string[] | undefined, custodians, insecurePlain, { plainNeedsRehearsal: { rehearsal } });
  const witnesses = witnessesFlag(values.witness as string[] | undefined, 'enrol-token');
  const args: EnrolTokenArgs = {
    module,
    token,
    previousShares: previousSharesFlag(previous),
    custodians,
    threshold,
    sharesOut,
    out,
    passphraseFiles,
    insecurePlain,
    witnesses,
    administrator: (values.administrator as string | undefined) ?? 'administrator',
    dataDir: resolve((values['data-dir'] as string | undefined) ?? defaultDataDir()),
    rehearsal,
    json: values.json === true,
  };
  if (values['init-parameters'] !== undefined) args.initParameters = values['init-parameters'] as string;
  if (joinDomain) args.joinDomain = joinDomain;
  if (userPinFile !== undefined) args.currentUserPinFile = resolve(userPinFile);
  if (soPinFile !== undefined) args.currentSoPinFile = resolve(soPinFile);
  return args;
}

/** The check-current-pins step's input: the PIN files' contents, or the previous shares. */
async function currentPinsInput(args: EnrolTokenArgs): Promise<Record<string, unknown>> {
  if (args.previousShares.length > 0) return { previousShares: await previousSharesInput(args.previousShares) };
  const input: Record<string, unknown> = { currentUserPin: await readSecretFlagFile(`--current-user-pin-file ${args.currentUserPinFile}`, args.currentUserPinFile as string, PIN_FILE, true) };
  if (args.currentSoPinFile) input.currentSoPin = await readSecretFlagFile(`--current-so-pin-file ${args.currentSoPinFile}`, args.currentSoPinFile, PIN_FILE);
  return input;
}

export async function enrolTokenCommand(argv: string[], out: Output, overrides: EnrolTokenOverrides = {}): Promise<number> {
  const prepared = await prepareOrExit('enrol-token', ENROL_TOKEN_HELP, out, async () => {
    const args = enrolTokenArgs(argv);
    if (args === 'help') return args;
    const joinShares = args.joinDomain ? await joinDomainInput(args.joinDomain) : undefined;
    return { args, passphrases: await readPassphrases(args.passphraseFiles), pinsInput: await currentPinsInput(args), joinShares };
  });
  if (typeof prepared === 'number') return prepared;
  const { args, passphrases, pinsInput, joinShares } = prepared;
  if (args.insecurePlain) out.stderr.write(`keyceremony enrol-token: ${PLAIN_SHARES_WARNING}\n`);

  return runTokenCeremony(
    joinShares ? { ...args, joinShares } : args,
    {
      command: 'enrol-token',
      ...(joinShares ? { script: 'enrol-token-join' } : {}),
      parameters: joinShares ? {} : { custodians: args.custodians, threshold: args.threshold },
      passphrases,
      inputs: { 'check-current-pins': pinsInput, ...(joinShares ? { 'join-domain': { shares: joinShares } } : {}) },
      completed: joinShares ? "The PINs you brought no longer open the token: it joined the security domain, and the domain's share files open it." : 'The PINs you brought no longer open the token: each custodian keeps their .share file on their own medium; the share files are the only way to open it.',
      afterFailure: (_view, _at, aborted) =>
        aborted?.tail.some((e) => e.kind === SHARES_OPEN_TOKEN_KIND)
          ? `keyceremony enrol-token: the token's PINs were already replaced: the share files in ${args.sharesOut} open it. Run enrol-token again with --previous-share for M of them.\n`
          : '',
    },
    overrides,
    out,
  );
}
