// Export bundles: a new folder holding a range of the chain, signed by the audit key. Written as
// `<name>.partial` with exclusive creates, fsync and read-back, then renamed; on failure removed, so nothing
// half-written ever looks complete.
import { lstat, mkdir, rename, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { sha256Hex } from './canonical.js';
import { entryProblem, linkOf, linkProblem } from './chain.js';
import { entryLine, parseGenesisData, type Entry } from './entry.js';
import { TranscriptError, TranscriptErrorCodes } from './errors.js';
import { fsyncDirectory, writeNewFileVerified } from './fs-durable.js';
import { BUNDLE_FORMAT, FILES, manifestText, type Manifest } from './manifest.js';
import { sameBytes } from './public-key.js';
import { spkiToPem } from './ecdsa.js';
import { verifyAuditSignature, type AuditSigner } from './signer.js';
import type { TranscriptStore } from './store.js';
import { verifyBundles } from './verify.js';
import { verifyMarkdown } from './verify-md.js';
import { CeremonyJudge } from './ceremony-kind.js';

export interface ExportResult {
  path: string;
  manifest: Manifest;
  manifestSha256: string;
}

export interface WriteBundleOptions extends PrepareBundleOptions {
  /** The folder the bundle folder is created in. */
  parentDir: string;
  /** The bundle folder's name; must not exist. */
  name: string;
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function refuse(message: string, remedy: string, code: string = TranscriptErrorCodes.EXPORT_FAILED): never {
  throw new TranscriptError(code, message, remedy);
}

export interface PrepareBundleOptions {
  entries: Entry[];
  signer: AuditSigner;
  appVersion: string;
  now?: () => Date;
  /** The audit key of the chain's genesis entry, when it is not among `entries`. */
  genesisSpki?: Uint8Array;
}

export interface PreparedBundle {
  /** File name to bytes, manifest.json included. */
  files: Map<string, Uint8Array>;
  manifest: Manifest;
  pem: string;
  /** True when the audit key was checked against the genesis entry's. */
  anchored: boolean;
}

/** Everything a bundle holds, in memory: checks the entries, signs transcript.jsonl, writes and signs the manifest. */
export async function prepareBundle(options: PrepareBundleOptions): Promise<PreparedBundle> {
  const { entries, signer } = options;
  const first = entries[0];
  const last = entries.at(-1);
  if (!first || !last) refuse('There are no entries to export.', 'Choose a ceremony or range that has entries.', TranscriptErrorCodes.RANGE_INVALID);
  for (let i = 0; i < entries.length; i += 1) {
    const e = entries[i] as Entry;
    const problem = entryProblem(e) ?? (i > 0 ? linkProblem(linkOf(entries[i - 1] as Entry), e) : undefined);
    if (problem) refuse(`The entries to export are not a valid chain: seq ${e.seq}: ${problem}.`, 'Reopen the transcript store (its open report says what is wrong); nothing was written.', TranscriptErrorCodes.CHAIN_BROKEN);
  }
  const spki = signer.spkiDer();
  const genesis = first.seq === 0 ? parseGenesisData(first.data) : undefined;
  const recorded = genesis?.ok ? Buffer.from(genesis.value.auditKey.spki, 'base64') : options.genesisSpki;
  if (recorded && !sameBytes(recorded, spki))
    refuse('The audit key offered for signing is not the audit key recorded in the genesis entry.', 'Use the token this transcript belongs to.', TranscriptErrorCodes.AUDIT_KEY_REFUSED);

  const transcript = Buffer.from(entries.map(entryLine).join(''), 'utf8');
  const signature = await signer.sign(transcript);
  if (!verifyAuditSignature(spki, transcript, signature))
    refuse('The audit key returned a signature that does not verify over transcript.jsonl.', 'Check the token; nothing was written.', TranscriptErrorCodes.AUDIT_KEY_REFUSED);
  const pem = spkiToPem(spki);
  const pemBytes = Buffer.from(pem, 'utf8');

  const ceremonyIds: string[] = [];
  for (const e of entries) if (!ceremonyIds.includes(e.ceremonyId)) ceremonyIds.push(e.ceremonyId);
  const base = {
    format: BUNDLE_FORMAT as typeof BUNDLE_FORMAT,
    ceremony: ceremonyIds.length === 1 ? (ceremonyIds[0] as string) : null,
    ceremonyIds,
    entries: { first: first.seq, last: last.seq, count: entries.length },
    prev: first.prev,
    head: last.hash,
    auditKey: { algorithm: 'ECDSA-P384-SHA384' as const, spkiSha256: sha256Hex(spki) },
    appVersion: options.appVersion,
    createdAt: (options.now ?? (() => new Date()))().toISOString(),
  };
  const judge = new CeremonyJudge();
  for (const e of entries) judge.add(e);
  const verifyMd = Buffer.from(verifyMarkdown(base, judge.judgements()), 'utf8');
  const files = new Map<string, Uint8Array>([
    [FILES.transcript, transcript],
    [FILES.signature, signature],
    [FILES.publicKey, pemBytes],
    [FILES.verify, verifyMd],
  ]);
  const digests: Record<string, { sha256: string; bytes: number }> = {};
  for (const [file, bytes] of files) digests[file] = { sha256: sha256Hex(bytes), bytes: bytes.length };
  const manifest = { ...base, files: digests } as Manifest;
  const manifestBytes = Buffer.from(manifestText(manifest), 'utf8');
  // The manifest holds the digest of every other file: its signature covers the whole bundle.
  const manifestSignature = await signer.sign(manifestBytes);
  if (!verifyAuditSignature(spki, manifestBytes, manifestSignature))
    refuse('The audit key returned a signature that does not verify over manifest.json.', 'Check the token; nothing was written.', TranscriptErrorCodes.AUDIT_KEY_REFUSED);
  files.set(FILES.manifest, manifestBytes);
  files.set(FILES.manifestSignature, manifestSignature);
  return { files, manifest, pem, anchored: recorded !== undefined };
}

/** Write one bundle of `entries` (a contiguous, valid part of the chain) as a new folder. */
export async function writeBundle(options: WriteBundleOptions): Promise<ExportResult> {
  const { parentDir, name } = options;
  if (!NAME_PATTERN.test(name) || name.endsWith('.partial'))
    refuse(`The bundle name '${name}' is not allowed.`, 'Use 1-128 characters of A-Z a-z 0-9 . _ - starting with a letter or digit, not ending in .partial.', TranscriptErrorCodes.RANGE_INVALID);
  const prepared = await prepareBundle(options);
  const { manifest, pem } = prepared;

  const finalPath = join(parentDir, name);
  const partial = `${finalPath}.partial`;
  if (await exists(finalPath)) refuse(`${finalPath} already exists; an export never overwrites.`, 'Choose another name or folder.', TranscriptErrorCodes.EXPORT_EXISTS);
  try {
    await mkdir(partial);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST')
      refuse(`${partial} already exists: an earlier export into this folder was interrupted.`, 'Delete that folder (it is incomplete), then export again.', TranscriptErrorCodes.EXPORT_EXISTS);
    refuse(`Cannot create ${partial}: ${(error as Error).message}.`, 'Check that the folder exists and is writable.');
  }
  try {
    let manifestSha256 = '';
    // manifest.json and its signature last: a folder without them is never a complete bundle.
    for (const file of [FILES.transcript, FILES.signature, FILES.publicKey, FILES.verify, FILES.manifest, FILES.manifestSignature]) {
      const digest = await writeNewFileVerified(join(partial, file), prepared.files.get(file) as Uint8Array);
      if (file === FILES.manifest) manifestSha256 = digest;
    }
    await fsyncDirectory(partial);
    if (await exists(finalPath)) refuse(`${finalPath} appeared while exporting; an export never overwrites.`, 'Choose another name or folder.', TranscriptErrorCodes.EXPORT_EXISTS);
    await rename(partial, finalPath);
    await fsyncDirectory(parentDir);
    // Read the finished bundle back through the verifier before calling it exported.
    const report = await verifyBundles([finalPath], prepared.anchored ? { expectAuditKeyPem: pem } : {});
    const failed = report.checks.find((c) => c.status === 'fail' && c.id !== 'audit-key' && c.id !== 'approvals');
    if (failed) {
      await rm(finalPath, { recursive: true, force: true });
      refuse(`The written bundle does not verify (${failed.detail}); it was removed.`, 'Check the disk and export again.');
    }
    return { path: finalPath, manifest, manifestSha256 };
  } catch (error) {
    await rm(partial, { recursive: true, force: true });
    if (error instanceof TranscriptError) throw error;
    refuse(`Writing the bundle ${basename(finalPath)} failed: ${(error as Error).message}. Nothing was kept.`, 'Check the removable medium (space, write protection), then export again.');
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

export type ExportRange = { ceremonyId: string } | { first: number; last: number };

export interface ExportFromStoreOptions {
  parentDir: string;
  range: ExportRange;
  appVersion: string;
  /** Defaults to `keyceremony-transcript-<ceremony or range>-<first>-<last>`. */
  name?: string;
  now?: () => Date;
}

/** Export a ceremony (or a seq range) from the store, sign it with the audit key, and record the export. */
export async function exportFromStore(store: TranscriptStore, signer: AuditSigner, options: ExportFromStoreOptions): Promise<ExportResult> {
  let first: number;
  let last: number;
  if ('ceremonyId' in options.range) {
    const id = options.range.ceremonyId;
    const c = store.ceremonies().find((x) => x.ceremonyId === id);
    if (!c) refuse(`The transcript has no ceremony '${id}'.`, 'Choose a ceremony listed in the store.', TranscriptErrorCodes.RANGE_INVALID);
    first = c.firstSeq;
    last = c.lastSeq;
  } else {
    ({ first, last } = options.range);
    const head = store.head();
    if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last) || first < 0 || last < first || !head || last > head.seq)
      refuse(`The range ${first}-${last} is not within the transcript (seq 0-${head?.seq ?? 'none'}).`, 'Choose first <= last within the transcript.', TranscriptErrorCodes.RANGE_INVALID);
  }
  const entries = store.entries(first, last);
  const genesis = store.entryAt(0);
  const g = genesis ? parseGenesisData(genesis.data) : undefined;
  const label = 'ceremonyId' in options.range ? options.range.ceremonyId.replace(/[^A-Za-z0-9._-]/g, '_') : 'range';
  const name = options.name ?? `keyceremony-transcript-${label}-${String(first).padStart(6, '0')}-${String(last).padStart(6, '0')}`;
  const write: WriteBundleOptions = { entries, signer, parentDir: options.parentDir, name, appVersion: options.appVersion };
  if (options.now) write.now = options.now;
  if (g?.ok) write.genesisSpki = Buffer.from(g.value.auditKey.spki, 'base64');
  const result = await writeBundle(write);
  await store.recordExport({
    path: result.path,
    ceremonyId: result.manifest.ceremony,
    firstSeq: first,
    lastSeq: last,
    headHash: result.manifest.head,
    manifestSha256: result.manifestSha256,
    exportedAt: result.manifest.createdAt,
  });
  return result;
}

