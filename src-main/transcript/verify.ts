// The verifier: checks export bundles without trusting the app that wrote them. Every hash, prev link, seq
// continuity, time order, the signature, the audit key against genesis (and an expected key), the manifest
// digests, and that several bundles given together form one chain.
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalJson, sha256Hex } from './canonical.js';
import { linkOf, linkProblem, type ChainLink } from './chain.js';
import { parseEntryLine } from './line.js';
import { KINDS, parseGenesisData, type Entry } from './entry.js';
import { BUNDLE_FILES, DIGESTED_FILES, FILES, parseManifest, type Manifest } from './manifest.js';
import { p384SpkiFromPem, sameBytes } from './public-key.js';
import { verifyAuditSignature } from './signer.js';
import { checkApprovalEntries } from '../ceremony/verify-approvals.js';
import type { Enrolment } from '../ceremony/quorum/index.js';

export type CheckStatus = 'pass' | 'fail' | 'skipped';

export type CheckId = 'files' | 'manifest' | 'entries' | 'manifest-content' | 'digests' | 'signature' | 'chain' | 'audit-key' | 'approvals';

export interface Check {
  id: CheckId;
  status: CheckStatus;
  /** What was found: for a failure, what is wrong, naming the file, field or entry. */
  detail: string;
  /** The bundle the check is about (absent for checks across bundles). */
  bundle?: string;
  /** The first broken entry, when the failure is about one. */
  seq?: number;
}

export interface BundleSummary {
  path: string;
  ceremonyIds: string[];
  first: number | null;
  last: number | null;
  head: string | null;
  entries: Entry[];
}

export interface VerifyReport {
  ok: boolean;
  checks: Check[];
  /** The first failing check: its bundle, its entry (seq) when it concerns one, and what is wrong. */
  firstFailure: Check | null;
  bundles: Omit<BundleSummary, 'entries'>[];
  /** Every entry of the bundles, in chain order (for a timeline). */
  entries: Entry[];
}

export interface VerifyOptions {
  /** The audit public key (PEM) the compliance team expects; the bundles must be signed by it. */
  expectAuditKeyPem?: string;
  /** The custodians' enrolment, when the bundles continue a chain held elsewhere (an import into it). */
  enrolment?: Enrolment;
}

export interface LoadedBundle {
  path: string;
  files: Map<string, Uint8Array>;
  unexpected: string[];
  /** Why the folder could not be read at all. */
  error?: string;
}

/** Read a bundle folder: the five bundle files, and the names of anything else (hidden files are ignored). */
export async function loadBundle(path: string): Promise<LoadedBundle> {
  const files = new Map<string, Uint8Array>();
  const unexpected: string[] = [];
  let names: string[];
  try {
    names = (await readdir(path)).sort();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'ENOTDIR' ? 'is not a folder' : `cannot be read (${code ?? (error as Error).message})`;
    return { path, files, unexpected, error: `${path} ${why}` };
  }
  for (const name of names) {
    if (name.startsWith('.')) continue;
    if (!(BUNDLE_FILES as readonly string[]).includes(name)) {
      unexpected.push(name);
      continue;
    }
    const full = join(path, name);
    const info = await lstat(full);
    if (!info.isFile()) {
      unexpected.push(name);
      continue;
    }
    files.set(name, await readFile(full));
  }
  return { path, files, unexpected };
}

export async function verifyBundles(paths: string[], options: VerifyOptions = {}): Promise<VerifyReport> {
  const loaded: LoadedBundle[] = [];
  for (const path of paths) loaded.push(await loadBundle(path));
  return verifyLoaded(loaded, options);
}

interface BundleOutcome {
  checks: Check[];
  summary: BundleSummary;
  spki?: Uint8Array;
  entriesOk: boolean;
}

function checkBundle(bundle: LoadedBundle): BundleOutcome {
  const checks: Check[] = [];
  const b = bundle.path;
  const add = (id: CheckId, status: CheckStatus, detail: string, seq?: number) => {
    const c: Check = { id, status, detail, bundle: b };
    if (seq !== undefined) c.seq = seq;
    checks.push(c);
  };
  const summary: BundleSummary = { path: b, ceremonyIds: [], first: null, last: null, head: null, entries: [] };
  if (bundle.error) {
    add('files', 'fail', bundle.error);
    return { checks, summary, entriesOk: false };
  }

  // files
  const missing = BUNDLE_FILES.filter((n) => !bundle.files.has(n));
  if (missing.length > 0) add('files', 'fail', `missing file${missing.length > 1 ? 's' : ''} ${missing.map((n) => `'${n}'`).join(', ')}`);
  else if (bundle.unexpected.length > 0) add('files', 'fail', `unexpected file${bundle.unexpected.length > 1 ? 's' : ''} ${bundle.unexpected.map((n) => `'${n}'`).join(', ')}; a bundle holds exactly ${BUNDLE_FILES.join(', ')}`);
  else add('files', 'pass', `the five bundle files are present`);

  // manifest
  let manifest: Manifest | undefined;
  const manifestBytes = bundle.files.get(FILES.manifest);
  if (!manifestBytes) add('manifest', 'skipped', 'manifest.json is missing');
  else {
    const parsed = parseManifest(Buffer.from(manifestBytes).toString('utf8'));
    if (parsed.ok) {
      manifest = parsed.value;
      add('manifest', 'pass', `entries ${manifest.entries.first}-${manifest.entries.last}, written by keyceremony ${manifest.appVersion} at ${manifest.createdAt}`);
    } else add('manifest', 'fail', parsed.error);
  }

  // entries
  const transcript = bundle.files.get(FILES.transcript);
  let entriesOk = false;
  if (!transcript) add('entries', 'skipped', 'transcript.jsonl is missing');
  else {
    const r = parseTranscript(transcript);
    summary.entries = r.entries;
    if (r.problem) add('entries', 'fail', r.problem.message, r.problem.seq);
    else {
      entriesOk = true;
      add('entries', 'pass', `${r.entries.length} ${r.entries.length === 1 ? 'entry' : 'entries'}, seq ${r.entries[0]?.seq}-${r.entries.at(-1)?.seq}: every hash, prev link, seq and time in order`);
    }
    if (r.entries.length > 0) {
      const ids: string[] = [];
      for (const e of r.entries) if (ids.at(-1) !== e.ceremonyId) ids.push(e.ceremonyId);
      summary.ceremonyIds = [...new Set(ids)];
      summary.first = r.entries[0]?.seq ?? null;
      summary.last = r.entries.at(-1)?.seq ?? null;
      summary.head = r.entries.at(-1)?.hash ?? null;
    }
  }

  // public key
  const pem = bundle.files.get(FILES.publicKey);
  const spki = pem ? p384SpkiFromPem(Buffer.from(pem).toString('utf8')) : undefined;

  // manifest-content: what the manifest says matches what the files hold
  if (!manifest || !entriesOk) add('manifest-content', 'skipped', !manifest ? 'manifest.json is missing or invalid' : 'transcript.jsonl is invalid');
  else {
    const es = summary.entries;
    const first = es[0] as Entry;
    const last = es.at(-1) as Entry;
    const problems: string[] = [];
    const m = manifest;
    if (m.entries.first !== first.seq) problems.push(`manifest.json says entries.first is ${m.entries.first} but transcript.jsonl starts at seq ${first.seq}`);
    if (m.entries.last !== last.seq) problems.push(`manifest.json says entries.last is ${m.entries.last} but transcript.jsonl ends at seq ${last.seq}`);
    if (m.entries.count !== es.length) problems.push(`manifest.json says entries.count is ${m.entries.count} but transcript.jsonl holds ${es.length} entries`);
    if (m.prev !== first.prev) problems.push(`manifest.json says prev is ${m.prev} but the first entry's prev is ${first.prev}`);
    if (m.head !== last.hash) problems.push(`manifest.json says head is ${m.head} but the last entry's hash is ${last.hash}`);
    if (canonicalJson(m.ceremonyIds) !== canonicalJson(summary.ceremonyIds)) problems.push(`manifest.json says ceremonyIds are ${m.ceremonyIds.join(', ')} but the entries belong to ${summary.ceremonyIds.join(', ')}`);
    const single = summary.ceremonyIds.length === 1 ? summary.ceremonyIds[0] : null;
    if (m.ceremony !== single) problems.push(`manifest.json says ceremony is ${m.ceremony === null ? 'null' : `'${m.ceremony}'`} but should be ${single === null ? 'null (several ceremonies)' : `'${single}'`}`);
    if (spki && m.auditKey.spkiSha256 !== sha256Hex(spki)) problems.push(`manifest.json says auditKey.spkiSha256 is ${m.auditKey.spkiSha256} but audit-public-key.pem has ${sha256Hex(spki)}`);
    if (problems.length > 0) add('manifest-content', 'fail', problems[0] as string);
    else add('manifest-content', 'pass', 'range, prev, head, ceremonies and audit key match the files');
  }

  // digests
  if (!manifest) add('digests', 'skipped', 'manifest.json is missing or invalid');
  else {
    let problem: string | undefined;
    for (const name of DIGESTED_FILES) {
      const bytes = bundle.files.get(name);
      const want = manifest.files[name];
      if (!bytes) {
        problem = `${name} is missing`;
        break;
      }
      const got = sha256Hex(bytes);
      if (got !== want.sha256) {
        problem = `${name} has SHA-256 ${got} but manifest.json records ${want.sha256}`;
        break;
      }
      if (bytes.length !== want.bytes) {
        problem = `${name} has ${bytes.length} bytes but manifest.json records ${want.bytes}`;
        break;
      }
    }
    if (problem) add('digests', 'fail', problem);
    else add('digests', 'pass', `SHA-256 of ${DIGESTED_FILES.join(', ')} match manifest.json`);
  }

  // signature
  const sig = bundle.files.get(FILES.signature);
  if (!pem || !sig || !transcript) add('signature', 'skipped', `${!pem ? FILES.publicKey : !sig ? FILES.signature : FILES.transcript} is missing`);
  else if (!spki) add('signature', 'fail', 'audit-public-key.pem is not a P-384 public key in PEM');
  else if (!verifyAuditSignature(spki, transcript, sig)) add('signature', 'fail', 'transcript.jsonl.sig is not a valid ECDSA-SHA384 signature of transcript.jsonl by audit-public-key.pem');
  else add('signature', 'pass', `transcript.jsonl is signed by the key in audit-public-key.pem (SPKI SHA-256 ${sha256Hex(spki)})`);

  const outcome: BundleOutcome = { checks, summary, entriesOk };
  if (spki) outcome.spki = spki;
  return outcome;
}

interface TranscriptParse {
  entries: Entry[];
  problem?: { message: string; seq?: number };
}

/** Parse and chain-check transcript.jsonl: canonical lines, valid entries, each linked to the one before. */
export function parseTranscript(bytes: Uint8Array): TranscriptParse {
  const text = Buffer.from(bytes).toString('utf8');
  const entries: Entry[] = [];
  if (text.length === 0) return { entries, problem: { message: 'transcript.jsonl is empty' } };
  if (!text.endsWith('\n')) return { entries, problem: { message: 'transcript.jsonl does not end with a newline' } };
  const lines = text.slice(0, -1).split('\n');
  let before: ChainLink | null = null;
  for (let i = 0; i < lines.length; i += 1) {
    const expectedSeq: number | undefined = before === null ? undefined : (before as ChainLink).seq + 1;
    const r = parseEntryLine(lines[i] as string, `transcript.jsonl line ${i + 1}`, expectedSeq);
    if (!r.ok) return { entries, problem: r.seq === undefined ? { message: r.problem } : { message: r.problem, seq: r.seq } };
    const entry = r.entry;
    if (before) {
      const link = linkProblem(before, entry);
      if (link) return { entries, problem: { message: `transcript.jsonl line ${i + 1} (seq ${entry.seq}): ${link}`, seq: entry.seq } };
    }
    entries.push(entry);
    before = linkOf(entry);
  }
  return { entries };
}

/** Verify bundles already in memory (what verifyBundles does after reading the folders). */
export function verifyLoaded(bundles: LoadedBundle[], options: VerifyOptions = {}): VerifyReport {
  const checks: Check[] = [];
  const outcomes = bundles.map(checkBundle);
  for (const o of outcomes) checks.push(...o.checks);
  const add = (id: CheckId, status: CheckStatus, detail: string, seq?: number, bundle?: string) => {
    const c: Check = { id, status, detail };
    if (bundle !== undefined) c.bundle = bundle;
    if (seq !== undefined) c.seq = seq;
    checks.push(c);
  };

  // chain: the bundles, ordered by their first seq, continue one another without gap or overlap.
  const usable = outcomes.filter((o) => o.entriesOk).sort((a, b) => (a.summary.first ?? 0) - (b.summary.first ?? 0));
  const ordered: Entry[] = [];
  if (bundles.length === 0) add('chain', 'fail', 'no bundle given');
  else if (usable.length < outcomes.length) add('chain', 'skipped', 'a bundle has invalid entries');
  else {
    let problem: { message: string; seq: number; bundle: string } | undefined;
    let prev: BundleSummary | undefined;
    for (const o of usable) {
      const s = o.summary;
      const first = s.entries[0] as Entry;
      if (prev && !problem) {
        const end = prev.entries.at(-1) as Entry;
        if (first.seq <= end.seq) problem = { message: `${s.path} starts at seq ${first.seq}, which ${prev.path} (seq ${prev.first}-${end.seq}) already holds: bundles overlap`, seq: first.seq, bundle: s.path };
        else if (first.seq > end.seq + 1)
          problem = {
            message: `${s.path} starts at seq ${first.seq} but ${prev.path} ends at seq ${end.seq}: ${first.seq === end.seq + 2 ? `entry ${end.seq + 1} is` : `entries ${end.seq + 1}-${first.seq - 1} are`} missing`,
            seq: end.seq + 1,
            bundle: s.path,
          };
        else {
          const link = linkProblem(linkOf(end), first);
          if (link) problem = { message: `${s.path} seq ${first.seq}: ${link}`, seq: first.seq, bundle: s.path };
        }
      }
      ordered.push(...s.entries);
      prev = s;
    }
    if (problem) add('chain', 'fail', problem.message, problem.seq, problem.bundle);
    else {
      const start = ordered[0] as Entry;
      const from = start.seq === 0 ? 'from the genesis entry' : `from seq ${start.seq} (entries before it were not given; its prev is ${start.prev})`;
      add('chain', 'pass', `${usable.length} bundle${usable.length > 1 ? 's' : ''} form one chain ${from} to seq ${(ordered.at(-1) as Entry).seq}, head ${(ordered.at(-1) as Entry).hash}`);
    }
  }

  // audit-key: one key signs every bundle, and it is the key the genesis entry (or the caller) names.
  {
    const keys = outcomes.filter((o) => o.spki);
    let problem: string | undefined;
    let anchors: string[] = [];
    const firstKey = keys[0];
    if (keys.length < outcomes.length || !firstKey?.spki) problem = 'a bundle has no readable audit-public-key.pem';
    else {
      const spki = firstKey.spki;
      const other = keys.find((o) => !sameBytes(o.spki as Uint8Array, spki));
      if (other) problem = `${other.summary.path} is signed by a different audit key than ${firstKey.summary.path}`;
      const genesis = outcomes.flatMap((o) => o.summary.entries).find((e) => e.seq === 0 && e.kind === KINDS.genesis);
      if (!problem && genesis) {
        const g = parseGenesisData(genesis.data);
        if (g.ok && !sameBytes(Buffer.from(g.value.auditKey.spki, 'base64'), spki)) problem = 'audit-public-key.pem is not the audit key recorded in the genesis entry (seq 0)';
        else anchors.push('the genesis entry (seq 0)');
      }
      if (!problem && options.expectAuditKeyPem !== undefined) {
        const expected = p384SpkiFromPem(options.expectAuditKeyPem);
        if (!expected) problem = '--expect-audit-key is not a P-384 public key in PEM';
        else if (!sameBytes(expected, spki)) problem = `audit-public-key.pem (SPKI SHA-256 ${sha256Hex(spki)}) is not the expected audit key (SPKI SHA-256 ${sha256Hex(expected)})`;
        else anchors.push('--expect-audit-key');
      }
      if (!problem && anchors.length === 0) problem = 'the audit key is not anchored: no bundle holds the genesis entry (seq 0) and no --expect-audit-key was given';
    }
    if (problem) {
      add('audit-key', 'fail', problem, problem.includes('genesis entry (seq 0)') && !problem.startsWith('the audit key') ? 0 : undefined);
      anchors = [];
    } else add('audit-key', 'pass', `every bundle is signed by the audit key named by ${anchors.join(' and ')}`);
  }

  // approvals: every custodian approval and every quorum rule (src-main/ceremony/verify-approvals.ts).
  add('approvals', ...checkApprovals(outcomes.flatMap((o) => o.summary.entries), options.enrolment));

  const firstFailure = checks.find((c) => c.status === 'fail') ?? null;
  return {
    ok: firstFailure === null,
    checks,
    firstFailure,
    bundles: outcomes.map(({ summary: { entries: _e, ...rest } }) => rest),
    entries: ordered.length > 0 ? ordered : outcomes.flatMap((o) => o.summary.entries),
  };
}

/**
 * Custodian approvals and quorum rules: every approval's signature against the enrolled key, and M distinct
 * approvals of the same head for every quorum step that acted (src-main/ceremony/verify-approvals.ts).
 */
export function checkApprovals(entries: Entry[], enrolment?: Enrolment): [CheckStatus, string, number?] {
  return checkApprovalEntries(entries, enrolment ? { enrolment } : {});
}
