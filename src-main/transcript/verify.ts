// The verifier: checks export bundles without trusting the app that wrote them. Integrity: every hash, prev
// link, seq continuity, time order, both signatures (transcript.jsonl and manifest.json), the audit key
// against genesis (and an expected key), the manifest digests, that several bundles given together form one
// chain, and the custodian approvals. Then policy: what kind of ceremony each one was (ceremony-kind.ts).
// transcript.jsonl is read as a stream of capped lines (bundle-read.ts); only small per-ceremony and
// per-quorum state is kept, so a long transcript is verified in bounded memory.
import { createHash } from 'node:crypto';
import { canonicalJson, sha256Hex } from './canonical.js';
import { linkOf, linkProblem, type ChainLink } from './chain.js';
import { parseEntryLine } from './line.js';
import { KINDS, parseGenesisData, type Entry } from './entry.js';
import { BUNDLE_FILES, BUNDLE_FILES_1, BUNDLE_FORMAT, DIGESTED_FILES, FILES, parseManifest, type Manifest } from './manifest.js';
import { p384SpkiFromPem, sameBytes } from './public-key.js';
import { streamingAuditVerifier, verifyAuditSignature } from './signer.js';
import { checkApprovalEntries } from '../ceremony/verify-approvals.js';
import { DEFAULT_CAPS, hasTranscript, loadBundle, sizeText, splitLines, transcriptChunks, type BundleCaps, type LoadedBundle } from './bundle-read.js';
import { CeremonyJudge, type CeremonyJudgement, type PolicyOptions } from './ceremony-kind.js';

export { loadBundle, type LoadedBundle, type BundleCaps } from './bundle-read.js';
import type { Enrolment } from '../ceremony/quorum/index.js';

export type CheckStatus = 'pass' | 'fail' | 'skipped';

export type CheckId = 'files' | 'manifest' | 'entries' | 'manifest-content' | 'digests' | 'signature' | 'manifest-signature' | 'chain' | 'audit-key' | 'approvals';

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
  /** 2: manifest.json is signed; 1: only transcript.jsonl is (older bundles); null: unreadable. */
  format: 1 | 2 | null;
  ceremonyIds: string[];
  first: number | null;
  last: number | null;
  head: string | null;
  count: number;
}

/**
 * production: integrity and policy hold. not-production: integrity holds, policy does not (the reasons
 * say why). broken: integrity does not hold (firstFailure says where).
 */
export interface Verdict {
  status: 'production' | 'not-production' | 'broken';
  reasons: string[];
}

export interface VerifyReport {
  /** Integrity: every check holds. The kind of ceremony is in `verdict`. */
  ok: boolean;
  checks: Check[];
  /** The first failing check: its bundle, its entry (seq) when it concerns one, and what is wrong. */
  firstFailure: Check | null;
  bundles: BundleSummary[];
  /** The first TIMELINE_LIMIT entries, in chain order (for a timeline); `entryCount` counts them all. */
  entries: Entry[];
  entryCount: number;
  ceremonies: CeremonyJudgement[];
  verdict: Verdict;
}

export interface VerifyOptions extends PolicyOptions {
  /** The audit public key (PEM) the compliance team expects; the bundles must be signed by it. */
  expectAuditKeyPem?: string;
  /** Limits on what a bundle may hold (tests set them low). */
  caps?: Partial<BundleCaps>;
  /** The custodians' enrolment, when the bundles continue a chain held elsewhere (an import into it). */
  enrolment?: Enrolment;
}

/** Entries kept for the timeline; the rest are verified and counted, not kept. */
export const TIMELINE_LIMIT = 5000;
/** Ceremonies across the bundles given together. */
export const MAX_CEREMONIES = 4096;
/** Entries kept for the approvals check (approvals, quorum openings and what a quorum step did). */
export const MAX_APPROVAL_ENTRIES = 100_000;

/** Bundles given together (each keeps its small files in memory while the set is verified). */
export const MAX_BUNDLES = 256;

export async function verifyBundles(paths: string[], options: VerifyOptions = {}): Promise<VerifyReport> {
  if (paths.length > MAX_BUNDLES) {
    const check: Check = { id: 'files', status: 'fail', detail: `${paths.length} bundles were given; at most ${MAX_BUNDLES} are verified together. Verify consecutive groups, each with --expect-audit-key` };
    return { ok: false, checks: [check], firstFailure: check, bundles: [], entries: [], entryCount: 0, ceremonies: [], verdict: verdictOf(check, [], []) };
  }
  const loaded: LoadedBundle[] = [];
  for (const path of paths) loaded.push(await loadBundle(path, options.caps));
  return verifyLoaded(loaded, options);
}

/** What the per-entry consumers keep across bundles, all of it bounded. */
class Feed {
  readonly timeline: Entry[] = [];
  count = 0;
  genesis: Entry | undefined;
  readonly judge = new CeremonyJudge();
  readonly approvalEntries: Entry[] = [];
  approvalsOverflow = false;
  private readonly quorumSteps = new Set<string>();

  /** Take one valid entry; false when it would exceed the ceremony cap. */
  add(e: Entry): boolean {
    if (this.judge.size >= MAX_CEREMONIES && !this.judge.has(e.ceremonyId)) return false;
    this.count += 1;
    if (this.timeline.length < TIMELINE_LIMIT) this.timeline.push(e);
    if (e.seq === 0 && e.kind === KINDS.genesis) this.genesis = e;
    this.judge.add(e);
    this.keepForApprovals(e);
    return true;
  }

  /** Only what verify-approvals.ts reads: data where it checks it, the bare entry where it only looks at kinds. */
  private keepForApprovals(e: Entry): void {
    const step = `${e.ceremonyId}\u0000${e.step}`;
    let keep: Entry | undefined;
    // pin-changed: a rotate-custodians' enrolment is in force from its user PIN change on (enrolment-in-force.ts).
    if (e.kind === 'approval' || e.kind === 'enrolment' || e.kind === 'pin-changed') keep = e;
    // A rotation resumed after it stopped in its PIN step opens its login to its own new custodians.
    else if (e.kind === 'intent' && (e.data as { action?: unknown }).action === 'rotate-pins') keep = { ...e, data: { action: 'rotate-pins' } };
    else if (e.kind === 'quorum-open') {
      this.quorumSteps.add(step);
      keep = e;
    } else if (e.kind === 'resumed' || e.kind === 'failure' || ((e.kind === 'intent' || e.kind === 'result') && this.quorumSteps.has(step))) keep = { ...e, data: {} };
    if (!keep) return;
    if (this.approvalEntries.length >= MAX_APPROVAL_ENTRIES) this.approvalsOverflow = true;
    else this.approvalEntries.push(keep);
  }
}

interface BundleOutcome {
  checks: Check[];
  summary: BundleSummary;
  firstLink?: { seq: number; prev: string; entry: Entry };
  lastLink?: ChainLink;
  spki?: Uint8Array;
  entriesOk: boolean;
  /** Format 1: the manifest is not signed. */
  unsignedManifest: boolean;
}

interface StreamResult {
  problem?: { message: string; seq?: number };
  sha256: string;
  bytes: number;
  signatureOk?: boolean;
}

/**
 * Read transcript.jsonl once: parse and chain-check each line, hand each valid entry to `take`, hash every
 * byte (for the manifest digest) and feed the transcript signature check.
 */
async function streamTranscript(bundle: LoadedBundle, caps: BundleCaps, take: (e: Entry) => string | undefined, sig?: { spki: Uint8Array; signature: Uint8Array }): Promise<StreamResult> {
  const hash = createHash('sha256');
  const verifier = sig ? streamingAuditVerifier(sig.spki) : undefined;
  let bytes = 0;
  const end = { newline: true, empty: true };
  let problem: StreamResult['problem'];
  let before: ChainLink | null = null;
  const onChunk = (chunk: Uint8Array) => {
    hash.update(chunk);
    verifier?.update(chunk);
    bytes += chunk.length;
  };
  try {
    for await (const line of splitLines(transcriptChunks(bundle, caps.transcriptBytes), caps.lineBytes, onChunk, end)) {
      if (problem) continue;
      const expectedSeq: number | undefined = before === null ? undefined : before.seq + 1;
      const where = `transcript.jsonl line ${line.n}`;
      if (!('text' in line)) {
        problem = { message: `${where}${expectedSeq === undefined ? '' : ` (expected seq ${expectedSeq})`} is longer than ${sizeText(caps.lineBytes)}, the limit for one entry` };
        if (expectedSeq !== undefined) problem.seq = expectedSeq;
        continue;
      }
      const r = parseEntryLine(line.text, where, expectedSeq);
      if (!r.ok) {
        problem = r.seq === undefined ? { message: r.problem } : { message: r.problem, seq: r.seq };
        continue;
      }
      const entry = r.entry;
      const link = before ? linkProblem(before, entry) : undefined;
      if (link) {
        problem = { message: `${where} (seq ${entry.seq}): ${link}`, seq: entry.seq };
        continue;
      }
      const refused = take(entry);
      if (refused) {
        problem = { message: refused, seq: entry.seq };
        continue;
      }
      before = linkOf(entry);
    }
  } catch (error) {
    problem ??= { message: `transcript.jsonl cannot be read: ${(error as Error).message}` };
  }
  if (!problem && end.empty) problem = { message: 'transcript.jsonl is empty' };
  else if (!problem && !end.newline) problem = { message: 'transcript.jsonl does not end with a newline' };
  const result: StreamResult = { sha256: hash.digest('hex'), bytes };
  if (problem) result.problem = problem;
  if (verifier && sig) result.signatureOk = verifier.verify(sig.signature);
  return result;
}

async function checkBundle(bundle: LoadedBundle, caps: BundleCaps, feed: Feed): Promise<BundleOutcome> {
  const checks: Check[] = [];
  const b = bundle.path;
  const add = (id: CheckId, status: CheckStatus, detail: string, seq?: number) => {
    const c: Check = { id, status, detail, bundle: b };
    if (seq !== undefined) c.seq = seq;
    checks.push(c);
  };
  const summary: BundleSummary = { path: b, format: null, ceremonyIds: [], first: null, last: null, head: null, count: 0 };
  const outcome: BundleOutcome = { checks, summary, entriesOk: false, unsignedManifest: false };
  if (bundle.error) {
    add('files', 'fail', bundle.error);
    return outcome;
  }

  // manifest (parsed first: its format says which files the bundle must hold)
  let manifest: Manifest | undefined;
  let manifestProblem: string | undefined;
  const manifestBytes = bundle.files.get(FILES.manifest);
  if (manifestBytes) {
    const parsed = parseManifest(Buffer.from(manifestBytes).toString('utf8'));
    if (parsed.ok) manifest = parsed.value;
    else manifestProblem = parsed.error;
  }
  const format: 1 | 2 = bundle.files.has(FILES.manifestSignature) || manifest?.format === BUNDLE_FORMAT ? 2 : 1;
  summary.format = manifest || bundle.files.has(FILES.manifestSignature) ? format : null;
  const expected: readonly string[] = format === 2 ? BUNDLE_FILES : BUNDLE_FILES_1;

  // files
  const present = (n: string) => bundle.files.has(n) || (n === FILES.transcript && hasTranscript(bundle));
  const refused = bundle.refused ?? [];
  const missing = expected.filter((n) => !present(n) && !refused.some((o) => o.startsWith(`${n} `)));
  const unexpected = bundle.unexpected;
  if (refused.length > 0) add('files', 'fail', refused.join('; '));
  else if (missing.length > 0) add('files', 'fail', `missing file${missing.length > 1 ? 's' : ''} ${missing.map((n) => `'${n}'`).join(', ')}`);
  else if (unexpected.length > 0) add('files', 'fail', `unexpected file${unexpected.length > 1 ? 's' : ''} ${unexpected.map((n) => `'${n}'`).join(', ')}; a bundle holds exactly ${expected.join(', ')}`);
  else add('files', 'pass', `the ${expected.length === 6 ? 'six' : 'five'} bundle files are present`);

  if (!manifestBytes) add('manifest', 'skipped', 'manifest.json is missing');
  else if (manifest) add('manifest', 'pass', `format ${format}, entries ${manifest.entries.first}-${manifest.entries.last}, written by keyceremony ${manifest.appVersion} at ${manifest.createdAt}`);
  else add('manifest', 'fail', manifestProblem as string);

  // public key and the transcript signature (checked while the transcript streams)
  const pem = bundle.files.get(FILES.publicKey);
  const spki = pem ? p384SpkiFromPem(Buffer.from(pem).toString('utf8')) : undefined;
  if (spki) outcome.spki = spki;
  const sig = bundle.files.get(FILES.signature);

  // entries
  let stream: StreamResult | undefined;
  let first: Entry | undefined;
  let last: Entry | undefined;
  if (!hasTranscript(bundle)) add('entries', 'skipped', 'transcript.jsonl is missing or beyond its size limit');
  else {
    const ids: string[] = [];
    stream = await streamTranscript(
      bundle,
      caps,
      (e) => {
        if (!feed.add(e)) return `transcript.jsonl (seq ${e.seq}): the bundles name more than ${MAX_CEREMONIES} ceremonies, more than a verifier accepts`;
        first ??= e;
        last = e;
        summary.count += 1;
        if (ids.at(-1) !== e.ceremonyId && !ids.includes(e.ceremonyId)) ids.push(e.ceremonyId);
        return undefined;
      },
      spki && sig ? { spki, signature: sig } : undefined,
    );
    summary.ceremonyIds = ids;
    if (first && last) {
      summary.first = first.seq;
      summary.last = last.seq;
      summary.head = last.hash;
      outcome.firstLink = { seq: first.seq, prev: first.prev, entry: first };
      outcome.lastLink = linkOf(last);
    }
    if (stream.problem) add('entries', 'fail', stream.problem.message, stream.problem.seq);
    else {
      outcome.entriesOk = true;
      add('entries', 'pass', `${summary.count} ${summary.count === 1 ? 'entry' : 'entries'}, seq ${summary.first}-${summary.last}: every hash, prev link, seq and time in order`);
    }
  }

  // manifest-content: what the manifest says matches what the files hold
  if (!manifest || !outcome.entriesOk || !first || !last) add('manifest-content', 'skipped', !manifest ? 'manifest.json is missing or invalid' : 'transcript.jsonl is invalid');
  else {
    const problems: string[] = [];
    const m = manifest;
    if (m.entries.first !== first.seq) problems.push(`manifest.json says entries.first is ${m.entries.first} but transcript.jsonl starts at seq ${first.seq}`);
    if (m.entries.last !== last.seq) problems.push(`manifest.json says entries.last is ${m.entries.last} but transcript.jsonl ends at seq ${last.seq}`);
    if (m.entries.count !== summary.count) problems.push(`manifest.json says entries.count is ${m.entries.count} but transcript.jsonl holds ${summary.count} entries`);
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
      const want = manifest.files[name];
      const bytes = bundle.files.get(name);
      const got = name === FILES.transcript ? (stream ? { sha256: stream.sha256, bytes: stream.bytes } : undefined) : bytes ? { sha256: sha256Hex(bytes), bytes: bytes.length } : undefined;
      if (!got) problem = `${name} is missing`;
      else if (got.sha256 !== want.sha256) problem = `${name} has SHA-256 ${got.sha256} but manifest.json records ${want.sha256}`;
      else if (got.bytes !== want.bytes) problem = `${name} has ${got.bytes} bytes but manifest.json records ${want.bytes}`;
      if (problem) break;
    }
    if (problem) add('digests', 'fail', problem);
    else add('digests', 'pass', `SHA-256 of ${DIGESTED_FILES.join(', ')} match manifest.json`);
  }

  // signature over transcript.jsonl
  if (!pem || !sig || !stream) add('signature', 'skipped', `${!pem ? FILES.publicKey : !sig ? FILES.signature : FILES.transcript} is missing`);
  else if (!spki) add('signature', 'fail', 'audit-public-key.pem is not a P-384 public key in PEM');
  else if (!stream.signatureOk) add('signature', 'fail', 'transcript.jsonl.sig is not a valid ECDSA-SHA384 signature of transcript.jsonl by audit-public-key.pem');
  else add('signature', 'pass', `transcript.jsonl is signed by the key in audit-public-key.pem (SPKI SHA-256 ${sha256Hex(spki)})`);

  // signature over manifest.json, which holds the digest of every other file: it covers the whole bundle
  const manifestSig = bundle.files.get(FILES.manifestSignature);
  if (format === 1) {
    outcome.unsignedManifest = manifest !== undefined;
    add('manifest-signature', 'skipped', 'bundle format 1 has no manifest.json.sig: manifest.json and VERIFY.md are not signed');
  } else if (!pem || !manifestBytes || !manifestSig) add('manifest-signature', 'skipped', `${!pem ? FILES.publicKey : !manifestBytes ? FILES.manifest : FILES.manifestSignature} is missing`);
  else if (!spki) add('manifest-signature', 'fail', 'audit-public-key.pem is not a P-384 public key in PEM');
  else if (!verifyAuditSignature(spki, manifestBytes, manifestSig)) add('manifest-signature', 'fail', 'manifest.json.sig is not a valid ECDSA-SHA384 signature of manifest.json by audit-public-key.pem');
  else add('manifest-signature', 'pass', 'manifest.json (the digests of every other file) is signed by the key in audit-public-key.pem');
  return outcome;
}

const firstOf = (b: LoadedBundle): number => {
  const bytes = b.files.get(FILES.manifest);
  const m = bytes ? parseManifest(Buffer.from(bytes).toString('utf8')) : undefined;
  return m?.ok ? m.value.entries.first : Number.POSITIVE_INFINITY;
};

/** Verify bundles already opened (loadBundle), or built in memory. */
export async function verifyLoaded(bundles: LoadedBundle[], options: VerifyOptions = {}): Promise<VerifyReport> {
  const caps = { ...DEFAULT_CAPS, ...options.caps };
  const feed = new Feed();
  // Entries reach the per-ceremony and approval checks in chain order: bundles are read in the order their
  // manifests give (a manifest that lies about it fails manifest-content).
  const byManifest = [...bundles].sort((a, b) => firstOf(a) - firstOf(b));
  const outcomeOf = new Map<LoadedBundle, BundleOutcome>();
  for (const b of byManifest) outcomeOf.set(b, await checkBundle(b, caps, feed));
  const outcomes = bundles.map((b) => outcomeOf.get(b) as BundleOutcome);
  const checks: Check[] = outcomes.flatMap((o) => o.checks);
  const add = (id: CheckId, status: CheckStatus, detail: string, seq?: number, bundle?: string) => {
    const c: Check = { id, status, detail };
    if (bundle !== undefined) c.bundle = bundle;
    if (seq !== undefined) c.seq = seq;
    checks.push(c);
  };

  // chain: the bundles, ordered by their first seq, continue one another without gap or overlap.
  const usable = outcomes.filter((o) => o.entriesOk).sort((a, b) => (a.summary.first ?? 0) - (b.summary.first ?? 0));
  if (bundles.length === 0) add('chain', 'fail', 'no bundle given');
  else if (usable.length < outcomes.length) add('chain', 'skipped', 'a bundle has invalid entries');
  else {
    let problem: { message: string; seq: number; bundle: string } | undefined;
    let prev: BundleOutcome | undefined;
    for (const o of usable) {
      const s = o.summary;
      const first = o.firstLink as NonNullable<BundleOutcome['firstLink']>;
      if (prev && !problem) {
        const end = prev.lastLink as ChainLink;
        const p = prev.summary;
        if (first.seq <= end.seq) problem = { message: `${s.path} starts at seq ${first.seq}, which ${p.path} (seq ${p.first}-${end.seq}) already holds: bundles overlap`, seq: first.seq, bundle: s.path };
        else if (first.seq > end.seq + 1)
          problem = {
            message: `${s.path} starts at seq ${first.seq} but ${p.path} ends at seq ${end.seq}: ${first.seq === end.seq + 2 ? `entry ${end.seq + 1} is` : `entries ${end.seq + 1}-${first.seq - 1} are`} missing`,
            seq: end.seq + 1,
            bundle: s.path,
          };
        else {
          const link = linkProblem(end, first.entry);
          if (link) problem = { message: `${s.path} seq ${first.seq}: ${link}`, seq: first.seq, bundle: s.path };
        }
      }
      prev = o;
    }
    if (problem) add('chain', 'fail', problem.message, problem.seq, problem.bundle);
    else {
      const start = usable[0]?.firstLink as NonNullable<BundleOutcome['firstLink']>;
      const end = usable.at(-1)?.summary as BundleSummary;
      const from = start.seq === 0 ? 'from the genesis entry' : `from seq ${start.seq} (entries before it were not given; its prev is ${start.prev})`;
      add('chain', 'pass', `${usable.length > 1 ? `${usable.length} bundles form` : '1 bundle forms'} one chain ${from} to seq ${end.last}, head ${end.head}`);
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
      const genesis = feed.genesis;
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
  if (feed.approvalsOverflow) add('approvals', 'fail', `the bundles hold more than ${MAX_APPROVAL_ENTRIES} approval and quorum entries, more than a verifier accepts`);
  else add('approvals', ...checkApprovalEntries(feed.approvalEntries, options.enrolment ? { enrolment: options.enrolment } : {}));

  const firstFailure = checks.find((c) => c.status === 'fail') ?? null;
  const ceremonies = feed.judge.judgements(options);
  return {
    ok: firstFailure === null,
    checks,
    firstFailure,
    bundles: outcomes.map((o) => o.summary),
    entries: feed.timeline,
    entryCount: feed.count,
    ceremonies,
    verdict: verdictOf(firstFailure, ceremonies, outcomes.filter((o) => o.unsignedManifest).map((o) => o.summary.path)),
  };
}

function verdictOf(firstFailure: Check | null, ceremonies: CeremonyJudgement[], unsigned: string[]): Verdict {
  if (firstFailure) {
    const where = firstFailure.seq !== undefined ? `entry seq ${firstFailure.seq}` : `check '${firstFailure.id}'`;
    return { status: 'broken', reasons: [`${where}${firstFailure.bundle !== undefined ? ` in ${firstFailure.bundle}` : ''}: ${firstFailure.detail}`] };
  }
  const reasons: string[] = [];
  for (const c of ceremonies) for (const p of c.problems) reasons.push(`ceremony ${c.ceremonyId}: ${p}`);
  for (const path of unsigned)
    reasons.push(`${path} is a format-1 bundle: its transcript is signed but its manifest.json and VERIFY.md are not, so the bundle as a whole is not proven; import it and export it again with this version`);
  if (!ceremonies.some((c) => c.judged))
    reasons.push('no ceremony starts in these bundles (no pre-genesis or pre-chain entry), so what kind of ceremony they record cannot be judged; give the bundle that holds the start as well');
  return { status: reasons.length === 0 ? 'production' : 'not-production', reasons };
}

/**
 * Every entry of one verified bundle, in order (import reads bundles a second time rather than keeping
 * them in memory). Throws if the file no longer parses or chains as it did.
 */
export async function forEachEntry(bundle: LoadedBundle, caps: Partial<BundleCaps>, visit: (e: Entry) => void): Promise<void> {
  const r = await streamTranscript(bundle, { ...DEFAULT_CAPS, ...caps }, (e) => {
    visit(e);
    return undefined;
  });
  if (r.problem) throw new Error(`${bundle.path}: ${r.problem.message}`);
}

/** The first entry of a bundle's transcript.jsonl (reading only its first line), why it is unreadable, or undefined when there is no transcript. */
export async function firstEntryOf(path: string, capsIn: Partial<BundleCaps> = {}): Promise<{ entry: Entry } | { problem: string } | undefined> {
  const caps = { ...DEFAULT_CAPS, ...capsIn };
  const bundle = await loadBundle(path, caps);
  if (bundle.error || !hasTranscript(bundle)) return undefined;
  for await (const line of splitLines(transcriptChunks(bundle, caps.transcriptBytes), caps.lineBytes, () => undefined, { newline: true, empty: true })) {
    if (!('text' in line)) return { problem: `transcript.jsonl line 1 is longer than ${sizeText(caps.lineBytes)}, the limit for one entry` };
    const r = parseEntryLine(line.text, 'transcript.jsonl line 1');
    return r.ok ? { entry: r.entry } : { problem: r.problem };
  }
  return undefined;
}
