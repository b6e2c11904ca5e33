// The options the token ceremonies share on the command line (init-token, enrol-token): who the custodians
// are, how many are needed, where the share files and the bundle go, and where each passphrase is read
// from. Each refusal is a UsageError that names the option as typed; the commands call these in their own
// order so each keeps its first-refusal-wins behaviour.
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { custodianNameProblem, passphraseProblem } from '../ceremony/quorum/index.js';
import { UsageError } from './args.js';
import { PASSPHRASE_FILE, readFlagSecret } from './flag-files.js';
import type { FileKind } from '../files/read-bounded.js';

/** The parseArgs options every token ceremony command takes. */
export const CEREMONY_OPTIONS = {
  module: { type: 'string' },
  'init-parameters': { type: 'string' },
  slot: { type: 'string' },
  token: { type: 'string' },
  custodians: { type: 'string' },
  threshold: { type: 'string' },
  'shares-out': { type: 'string' },
  out: { type: 'string' },
  'passphrase-file': { type: 'string', multiple: true },
  'insecure-plain-shares': { type: 'boolean' },
  witness: { type: 'string', multiple: true },
  administrator: { type: 'string' },
  'data-dir': { type: 'string' },
  'previous-share': { type: 'string', multiple: true },
  'join-domain-share': { type: 'string', multiple: true },
  rehearsal: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `value` resolved, when it names an existing folder. */
export function existingDir(flag: string, value: string | undefined): string {
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

/** --custodians NAME,NAME,...: each a valid custodian name. */
export function custodiansFlag(text: string | undefined): string[] {
  if (!text) throw new UsageError('--custodians NAME,NAME,... is required.');
  const custodians = text.split(',').map((c) => c.trim());
  for (const c of custodians) {
    const problem = custodianNameProblem(c);
    if (problem) throw new UsageError(`--custodians: '${c}' ${problem.replace(/^custodian name:? ?/, '')}`);
  }
  return custodians;
}

/** --threshold M: a whole number from 2 to the number of custodians. */
export function thresholdFlag(text: string | undefined, custodians: readonly string[]): number {
  if (text === undefined) throw new UsageError('--threshold M is required.');
  if (!/^\d{1,3}$/.test(text)) throw new UsageError(`--threshold ${text}: expected a whole number.`);
  const threshold = Number(text);
  if (threshold < 2 || threshold > custodians.length) throw new UsageError(`--threshold ${threshold}: must be between 2 and the number of custodians (${custodians.length}).`);
  return threshold;
}

/**
 * --passphrase-file NAME=FILE for every custodian, or --insecure-plain-shares (not both). `plainNeedsRehearsal`
 * refuses plain shares outside a rehearsal; `missingHint` ends the message when a custodian has no file.
 */
export function passphraseFilesFlag(
  specs: readonly string[] | undefined,
  custodians: readonly string[],
  insecurePlain: boolean,
  options: { plainNeedsRehearsal?: { rehearsal: boolean }; missingHint?: string } = {},
): Map<string, string> {
  const files = new Map<string, string>();
  for (const spec of specs ?? []) {
    const eq = spec.indexOf('=');
    if (eq <= 0 || eq === spec.length - 1) throw new UsageError(`--passphrase-file ${spec}: expected NAME=FILE.`);
    const name = spec.slice(0, eq);
    if (!custodians.includes(name)) throw new UsageError(`--passphrase-file ${name}=...: ${name} is not one of --custodians (${custodians.join(', ')}).`);
    if (files.has(name)) throw new UsageError(`--passphrase-file: ${name} is given twice.`);
    files.set(name, resolve(spec.slice(eq + 1)));
  }
  if (insecurePlain && files.size > 0) throw new UsageError('give either --passphrase-file for each custodian or --insecure-plain-shares, not both.');
  if (insecurePlain && options.plainNeedsRehearsal && !options.plainNeedsRehearsal.rehearsal) {
    throw new UsageError('--insecure-plain-shares is for rehearsals only: add --rehearsal, or give --passphrase-file for each custodian.');
  }
  if (!insecurePlain) {
    const missing = custodians.filter((c) => !files.has(c));
    if (missing.length > 0) throw new UsageError(`--passphrase-file is missing for ${missing.join(', ')}${options.missingHint ?? ''}.`);
  }
  return files;
}

/** --witness NAME...: at least one. */
export function witnessesFlag(values: string[] | undefined, ceremony: string): string[] {
  const witnesses = values ?? [];
  if (witnesses.length === 0) throw new UsageError(`--witness NAME is required: the ${ceremony} ceremony needs at least one witness.`);
  return witnesses;
}

export interface PreviousShareFlag {
  file: string;
  passphraseFile?: string;
}

/**
 * One FILE[:PASSPHRASE_FILE] value of --share, --previous-share or --join-domain-share. The last colon splits
 * (a share file's path may hold one); an empty value, or an empty file or passphrase file name, is refused.
 */
export function shareFileFlag(flag: string, spec: string): PreviousShareFlag {
  const colon = spec.lastIndexOf(':');
  if (spec === '' || colon === 0 || colon === spec.length - 1) throw new UsageError(`${flag} ${spec}: expected FILE or FILE:PASSPHRASE_FILE.`);
  return colon > 0 ? { file: resolve(spec.slice(0, colon)), passphraseFile: resolve(spec.slice(colon + 1)) } : { file: resolve(spec) };
}

/** --previous-share FILE[:PASSPHRASE_FILE]...: the share files of a stopped attempt. */
export function previousSharesFlag(specs: readonly string[] | undefined): PreviousShareFlag[] {
  return (specs ?? []).map((spec) => shareFileFlag('--previous-share', spec));
}

/**
 * A PIN or passphrase file, read through the bounded reader; `typed` is the option as typed. An empty file
 * is refused unless `emptyAllowed` (enrol-token's current user PIN: a token that needs no login, an NSS
 * database without a password, has an empty one, and the PIN check refuses it for any other token).
 */
export async function readSecretFlagFile(typed: string, file: string, kind: FileKind = PASSPHRASE_FILE, emptyAllowed = false): Promise<string> {
  const value = await readFlagSecret(typed, file, kind);
  if (value === '' && !emptyAllowed) throw new UsageError(`${typed}: the file is empty.`);
  return value;
}

/** Every custodian's passphrase, read from their --passphrase-file and checked as a share passphrase. */
export async function readPassphrases(files: ReadonlyMap<string, string>): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const [name, file] of files) {
    const passphrase = await readSecretFlagFile(`--passphrase-file ${name}=${file}`, file);
    const problem = passphraseProblem(passphrase);
    if (problem) throw new UsageError(`--passphrase-file ${name}=${file}: ${problem}.`);
    out.set(name, passphrase);
  }
  return out;
}

/** The share files of a stopped attempt as a step takes them (previousShares), each passphrase read from its file. */
export async function previousSharesInput(shares: readonly PreviousShareFlag[]): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const p of shares) out.push(p.passphraseFile ? { shareFile: p.file, passphrase: await readSecretFlagFile(`--previous-share ${p.file}:${p.passphraseFile}`, p.passphraseFile) } : { shareFile: p.file });
  return out;
}

/** What a token joining an existing security domain uses instead of --custodians ... --shares-out. */
export interface JoinDomainFlags {
  shares: PreviousShareFlag[];
}

/**
 * --join-domain-share FILE[:PASSPHRASE_FILE]... (M of the domain's share files): undefined when not given.
 * It replaces --custodians, --threshold, --passphrase-file, --insecure-plain-shares and --shares-out (the
 * domain's custodians and threshold come from its enrolment; no share is handed out), so those are refused.
 */
export function joinDomainFlags(values: Record<string, unknown>): JoinDomainFlags | undefined {
  const specs = values['join-domain-share'] as string[] | undefined;
  if (!specs || specs.length === 0) return undefined;
  for (const flag of ['custodians', 'threshold', 'passphrase-file', 'insecure-plain-shares', 'shares-out']) {
    if (values[flag] !== undefined) {
      throw new UsageError(`--${flag} cannot be given with --join-domain-share: a token joining a security domain takes its custodians and threshold from the domain, and hands out no new shares.`);
    }
  }
  const shares = specs.map((spec) => shareFileFlag('--join-domain-share', spec));
  const seen = new Set<string>();
  for (const s of shares) {
    if (seen.has(s.file)) throw new UsageError(`--join-domain-share ${s.file}: given twice; each custodian present gives their own share file once.`);
    seen.add(s.file);
  }
  return { shares };
}

/** The join-domain step's shares, each passphrase read from its file. */
export async function joinDomainInput(flags: JoinDomainFlags): Promise<{ shareFile: string; passphrase?: string }[]> {
  const out: { shareFile: string; passphrase?: string }[] = [];
  for (const p of flags.shares) out.push(p.passphraseFile ? { shareFile: p.file, passphrase: await readSecretFlagFile(`--join-domain-share ${p.file}:${p.passphraseFile}`, p.passphraseFile) } : { shareFile: p.file });
  return out;
}
