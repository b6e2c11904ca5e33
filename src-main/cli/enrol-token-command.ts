// `keyceremony enrol-token`: the enrol-token ceremony (ceremonies/enrol-token.yaml) on a token initialized
// with its vendor's tool, non-interactively, through the same engine the app uses. The current PINs and the
// passphrases come only from files (never argv). The seal is approved with the share files it just wrote.
// A failure aborts the ceremony (recorded; after the PIN change the abort says the shares open the token).
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AirGapStatus } from '../airgap/airgap.js';
import { SHARES_OPEN_TOKEN_KIND } from '../ceremony/actions/enrol-token.js';
import type { CeremonyView, InterruptedCeremony, RecordedRef } from '../ceremony/engine/index.js';
import { custodianNameProblem, passphraseProblem, SHARE_FILE_EXTENSION } from '../ceremony/quorum/index.js';
import type { ScryptCost } from '../ceremony/quorum/share-file.js';
import { defaultDataDir } from '../data-dir.js';
import { toErrorData } from '../errors.js';
import { parseStrict, tokenChoice, UsageError } from './args.js';
import { openCeremonyRuntime } from './ceremony-runtime.js';
import { PASSPHRASE_FILE, PIN_FILE, readFlagSecret } from './flag-files.js';
import type { FileKind } from '../files/read-bounded.js';
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
  rehearsal: boolean;
  json: boolean;
}

/** Hooks for tests: lower scrypt cost, a fixed air-gap answer, a stop after a recorded entry (the kill test). */
export interface EnrolTokenOverrides {
  scrypt?: ScryptCost;
  onRecorded?: (ref: RecordedRef) => Promise<void> | void;
  airGap?: () => AirGapStatus;
  scriptsDir?: string;
}

// Copied from init-token-command.ts (private there; that file is being reworked at the same time).
function existingDir(flag: string, value: string | undefined): string {
  if (!value) throw new UsageError(`${flag} is required.`);
  const path = resolve(value);
  let ok = false;
  try {
    ok = statSync(path).isDirectory();
  } catch {
    ok = false;
  }
  if (!ok) throw new UsageError(`${flag} ${value}: not an existing folder.`);
  return path;
}

export function enrolTokenArgs(argv: string[]): EnrolTokenArgs | 'help' {
  const { values } = parseStrict(argv, {
    module: { type: 'string' },
    'init-parameters': { type: 'string' },
    slot: { type: 'string' },
    token: { type: 'string' },
    'current-user-pin-file': { type: 'string' },
    'current-so-pin-file': { type: 'string' },
    'previous-share': { type: 'string', multiple: true },
    custodians: { type: 'string' },
    threshold: { type: 'string' },
    'shares-out': { type: 'string' },
    out: { type: 'string' },
    'passphrase-file': { type: 'string', multiple: true },
    'insecure-plain-shares': { type: 'boolean' },
    witness: { type: 'string', multiple: true },
    administrator: { type: 'string' },
    'data-dir': { type: 'string' },
    rehearsal: { type: 'boolean' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  const { module, token } = tokenChoice(values, 'which token to enrol');
  const previous = (values['previous-share'] as string[] | undefined) ?? [];
  const userPinFile = values['current-user-pin-file'] as string | undefined;
  const soPinFile = values['current-so-pin-file'] as string | undefined;
  if (previous.length > 0 && (userPinFile !== undefined || soPinFile !== undefined)) throw new UsageError('give either --current-user-pin-file (and --current-so-pin-file) or --previous-share, not both.');
  if (previous.length === 0 && userPinFile === undefined) {
    throw new UsageError(soPinFile === undefined ? "--current-user-pin-file FILE is required (the user PIN the token's vendor tool set)." : '--current-so-pin-file needs --current-user-pin-file too.');
  }
  const custodiansText = values.custodians as string | undefined;
  if (!custodiansText) throw new UsageError('--custodians NAME,NAME,... is required.');
  const custodians = custodiansText.split(',').map((c) => c.trim());
  for (const c of custodians) {
    const problem = custodianNameProblem(c);
    if (problem) throw new UsageError(`--custodians: '${c}' ${problem.replace(/^custodian name:? ?/, '')}`);
  }
  const thresholdText = values.threshold as string | undefined;
  if (thresholdText === undefined) throw new UsageError('--threshold M is required.');
  if (!/^\d{1,3}$/.test(thresholdText)) throw new UsageError(`--threshold ${thresholdText}: expected a whole number.`);
  const threshold = Number(thresholdText);
  if (threshold < 2 || threshold > custodians.length) throw new UsageError(`--threshold ${threshold}: must be between 2 and the number of custodians (${custodians.length}).`);
  const sharesOut = existingDir('--shares-out', values['shares-out'] as string | undefined);
  // Checked again when each file is written; here so that nothing at all starts when one is in the way.
  try {
    accessSync(sharesOut, constants.W_OK);
  } catch {
    throw new UsageError(`--shares-out ${sharesOut}: this folder is not writable.`);
  }
  const present = custodians.filter((c) => existsSync(join(sharesOut, `${c}${SHARE_FILE_EXTENSION}`)));
  if (present.length > 0) throw new UsageError(`--shares-out ${sharesOut}: ${present.map((c) => `${c}${SHARE_FILE_EXTENSION}`).join(', ')} already exist${present.length === 1 ? 's' : ''}; a share file is never overwritten. Use an empty folder.`);
  const out = existingDir('--out', values.out as string | undefined);
  const insecurePlain = values['insecure-plain-shares'] === true;
  const rehearsal = values.rehearsal === true;
  const passphraseFiles = new Map<string, string>();
  for (const spec of (values['passphrase-file'] as string[] | undefined) ?? []) {
    const eq = spec.indexOf('=');
    if (eq <= 0 || eq === spec.length - 1) throw new UsageError(`--passphrase-file ${spec}: expected NAME=FILE.`);
    const name = spec.slice(0, eq);
    if (!custodians.includes(name)) throw new UsageError(`--passphrase-file ${name}=...: ${name} is not one of --custodians (${custodians.join(', ')}).`);
    if (passphraseFiles.has(name)) throw new UsageError(`--passphrase-file: ${name} is given twice.`);
    passphraseFiles.set(name, resolve(spec.slice(eq + 1)));
  }
  if (insecurePlain && passphraseFiles.size > 0) throw new UsageError('give either --passphrase-file for each custodian or --insecure-plain-shares, not both.');
  if (insecurePlain && !rehearsal) throw new UsageError('--insecure-plain-shares is for rehearsals only: add --rehearsal, or give --passphrase-file for each custodian.');
  if (!insecurePlain) {
    const missing = custodians.filter((c) => !passphraseFiles.has(c));
    if (missing.length > 0) throw new UsageError(`--passphrase-file is missing for ${missing.join(', ')}.`);
  }
  const witnesses = (values.witness as string[] | undefined) ?? [];
  if (witnesses.length === 0) throw new UsageError('--witness NAME is required: the enrol-token ceremony needs at least one witness.');
  const args: EnrolTokenArgs = {
    module,
    token,
    previousShares: previous.map((spec) => {
      const colon = spec.lastIndexOf(':');
      if (spec === '' || colon === 0) throw new UsageError(`--previous-share ${spec}: expected FILE or FILE:PASSPHRASE_FILE.`);
      return colon > 0 ? { file: resolve(spec.slice(0, colon)), passphraseFile: resolve(spec.slice(colon + 1)) } : { file: resolve(spec) };
    }),
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
  if (userPinFile !== undefined) args.currentUserPinFile = resolve(userPinFile);
  if (soPinFile !== undefined) args.currentSoPinFile = resolve(soPinFile);
  return args;
}

/**
 * A PIN or passphrase file, read through the bounded reader; `typed` is the option as typed. An empty file
 * is refused, except as the current user PIN: a token that needs no login (an NSS database without a
 * password) has an empty one, and the PIN check refuses it for any other token.
 */
async function readSecretFile(typed: string, file: string, kind: FileKind, emptyAllowed = false): Promise<string> {
  const value = await readFlagSecret(typed, file, kind);
  if (value === '' && !emptyAllowed) throw new UsageError(`${typed}: the file is empty.`);
  return value;
}

/** The check-current-pins step's input: the PIN files' contents, or the previous shares. */
async function currentPinsInput(args: EnrolTokenArgs): Promise<Record<string, unknown>> {
  if (args.previousShares.length > 0) {
    const shares = [];
    for (const p of args.previousShares) shares.push(p.passphraseFile ? { shareFile: p.file, passphrase: await readSecretFile(`--previous-share ${p.file}:${p.passphraseFile}`, p.passphraseFile, PASSPHRASE_FILE) } : { shareFile: p.file });
    return { previousShares: shares };
  }
  const input: Record<string, unknown> = { currentUserPin: await readSecretFile(`--current-user-pin-file ${args.currentUserPinFile}`, args.currentUserPinFile as string, PIN_FILE, true) };
  if (args.currentSoPinFile) input.currentSoPin = await readSecretFile(`--current-so-pin-file ${args.currentSoPinFile}`, args.currentSoPinFile, PIN_FILE);
  return input;
}

async function readPassphrases(args: EnrolTokenArgs): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const [name, file] of args.passphraseFiles) {
    const passphrase = await readSecretFile(`--passphrase-file ${name}=${file}`, file, PASSPHRASE_FILE);
    const problem = passphraseProblem(passphrase);
    if (problem) throw new UsageError(`--passphrase-file ${name}=${file}: ${problem}.`);
    out.set(name, passphrase);
  }
  return out;
}

export async function enrolTokenCommand(argv: string[], out: Output, overrides: EnrolTokenOverrides = {}): Promise<number> {
  let args: EnrolTokenArgs;
  let passphrases: Map<string, string>;
  let pinsInput: Record<string, unknown>;
  try {
    const parsed = enrolTokenArgs(argv);
    if (parsed === 'help') {
      out.stdout.write(ENROL_TOKEN_HELP);
      return 0;
    }
    args = parsed;
    passphrases = await readPassphrases(args);
    pinsInput = await currentPinsInput(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    out.stderr.write(`keyceremony enrol-token: ${error.message}\n\nRun 'keyceremony enrol-token --help' for the options.\n`);
    return 2;
  }
  if (args.insecurePlain) out.stderr.write(`keyceremony enrol-token: ${PLAIN_SHARES_WARNING}\n`);

  const runtime = await openCeremonyRuntime(
    {
      command: 'enrol-token',
      script: 'enrol-token',
      module: args.module,
      ...(args.initParameters === undefined ? {} : { initParameters: args.initParameters }),
      dataDir: args.dataDir,
      ...(overrides.airGap ? { airGap: overrides.airGap } : {}),
      ...(overrides.scriptsDir ? { scriptsDir: overrides.scriptsDir } : {}),
      engine: { ...(overrides.scrypt ? { scrypt: overrides.scrypt } : {}), ...(overrides.onRecorded ? { onRecorded: overrides.onRecorded } : {}) },
    },
    out,
  );
  if (!runtime) return 1;
  const { service } = runtime;
  const say = (line: string) => {
    if (!args.json) out.stdout.write(`${line}\n`);
  };
  const shareFile = (c: string) => join(args.sharesOut, `${c}.share`);
  let view: CeremonyView | undefined;
  let interrupted: InterruptedCeremony[] = [];
  try {
    interrupted = await service.interrupted();
    for (const i of interrupted.filter((x) => x.newlyRecorded)) {
      say(`Recorded ceremony ${i.ceremonyId} (${i.kind}) as interrupted${i.sharesVoid.length > 0 ? `; its shares for ${i.sharesVoid.join(', ')} are void` : ''}${i.sharesOpenToken ? `; ${i.sharesOpenToken.wayOut}` : ''}.`);
    }
    view = await service.start({ script: 'enrol-token', parameters: { custodians: args.custodians, threshold: args.threshold }, rehearsal: args.rehearsal });
    const id = view.ceremonyId;
    say(`Ceremony ${id}: ${view.script.title}${view.script.rehearsal ? ' (REHEARSAL)' : ''}`);
    while (view.status === 'running' && view.currentStepId !== null) {
      const currentId: string = view.currentStepId;
      const step: CeremonyView['steps'][number] | undefined = view.steps.find((s) => s.id === currentId);
      if (!step) break;
      const confirm: Record<string, string> = step.confirm ? { confirm: step.confirm.word } : {};
      if (step.approvals === 'quorum') {
        for (const c of args.custodians.slice(0, args.threshold)) {
          view = (await service.perform(id, step.id, { shareFile: shareFile(c), ...(args.insecurePlain ? {} : { passphrase: passphrases.get(c) }), ...confirm })).view;
          say(`  ${step.id}: ${c} approved`);
        }
        say(`  ${step.id}: ${step.title} - done`);
        continue;
      }
      let input: Record<string, unknown> = {};
      switch (step.action) {
        case 'record-participants':
          input = { administrator: args.administrator, witnesses: args.witnesses };
          break;
        case 'select-token':
          input = 'uri' in args.token ? { uri: args.token.uri } : { moduleId: args.module, slotId: args.token.slotId };
          break;
        case 'check-current-pins':
          input = pinsInput;
          break;
        case 'distribute-shares':
          for (const c of [...(view.pendingCustodians ?? args.custodians)]) {
            const share = args.insecurePlain ? { insecurePlain: true } : { passphrase: passphrases.get(c) };
            view = (await service.perform(id, step.id, { custodian: c, ...share, destinationDir: args.sharesOut, ...confirm })).view;
            say(`  ${step.id}: wrote ${shareFile(c)}`);
          }
          say(`  ${step.id}: ${step.title} - done`);
          continue;
        case 'witness-sign-off':
          input = { witnesses: args.witnesses.map((name) => ({ name, statement: 'Signed off on the command line.' })) };
          break;
        case 'export-bundle':
          input = { destinationDir: args.out };
          break;
      }
      view = (await service.perform(id, step.id, { ...input, ...confirm })).view;
      say(`  ${step.id}: ${step.title} - done`);
    }
    const bundle = view.outputs.find((o) => o.kind === 'bundle');
    const shares = view.outputs.filter((o) => o.kind === 'share-file');
    if (args.json) {
      out.stdout.write(`${JSON.stringify({ ceremonyId: id, status: view.status, rehearsal: view.script.rehearsal, insecurePlainShares: args.insecurePlain, shares, bundle: bundle ?? null, interrupted, dataDir: args.dataDir }, null, 2)}\n`);
    } else {
      say(`Completed. Bundle: ${bundle?.path ?? '(none)'}`);
      say("The PINs you brought no longer open the token: each custodian keeps their .share file on their own medium; the share files are the only way to open it.");
    }
    return view.status === 'completed' ? 0 : 1;
  } catch (error) {
    const data = toErrorData(error);
    const at = view?.currentStepId ?? 'start';
    out.stderr.write(`keyceremony enrol-token: step ${at}: ${data.message}${data.remedy ? `\n  ${data.remedy}` : ''}\n`);
    if (view) {
      try {
        const after = await service.abort(view.ceremonyId, `keyceremony enrol-token failed at step ${at}: ${data.message}`);
        out.stderr.write(`keyceremony enrol-token: ceremony ${view.ceremonyId} was aborted and the abort recorded.\n`);
        if (after.tail.some((e) => e.kind === SHARES_OPEN_TOKEN_KIND)) {
          out.stderr.write(`keyceremony enrol-token: the token's PINs were already replaced: the share files in ${args.sharesOut} open it. Run enrol-token again with --previous-share for M of them.\n`);
        }
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
