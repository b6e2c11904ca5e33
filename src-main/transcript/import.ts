// Bringing a token's history from other laptops into this one: bundles are verified first (signature,
// chain, approvals), must be signed by this chain's audit key, and must continue exactly where the local
// store ends. Entries already held locally must be identical; anything else is a divergence and nothing
// is imported. Bundles are read twice as streams (verified, then their entries taken), never whole; the new
// entries are handed to the store, which holds its whole chain in memory anyway (sql.js).
import { spkiToPem } from './ecdsa.js';
import { parseGenesisData, type Entry } from './entry.js';
import { TranscriptError, TranscriptErrorCodes } from './errors.js';
import type { TranscriptStore } from './store.js';
import { forEachEntry, loadBundle, verifyBundles, type BundleCaps } from './verify.js';
import { enrolmentOfChain } from '../ceremony/actions/quorum-login.js';

export interface ImportResult {
  imported: number;
  /** Entries the bundles held that the store already had (identical). */
  alreadyHeld: number;
  head: { seq: number; hash: string } | null;
}

export async function importBundles(store: TranscriptStore, paths: string[], caps: Partial<BundleCaps> = {}): Promise<ImportResult> {
  const genesis = store.entryAt(0);
  const known = genesis ? parseGenesisData(genesis.data) : undefined;
  const expectAuditKeyPem = known?.ok ? spkiToPem(Buffer.from(known.value.auditKey.spki, 'base64')) : undefined;
  // Bundles that continue the chain need not carry the init-token bundle again: the custodians' enrolment
  // their approvals are checked against is the one this chain already holds.
  const enrolment = genesis ? enrolmentOfChain(store)?.enrolment : undefined;
  const report = await verifyBundles(paths, { caps, ...(expectAuditKeyPem ? { expectAuditKeyPem } : {}), ...(enrolment ? { enrolment } : {}) });
  if (!report.ok) {
    const f = report.firstFailure;
    throw new TranscriptError(
      TranscriptErrorCodes.CHAIN_BROKEN,
      `The bundles do not verify${f ? `: ${f.seq !== undefined ? `entry ${f.seq}: ` : ''}${f.detail}` : ''}. Nothing was imported.`,
      'Import only the bundles exported from this token, as they were written; check them in the Verify screen.',
    );
  }
  const head = store.head();
  let alreadyHeld = 0;
  const fresh: Entry[] = [];
  let last: Entry | undefined;
  const take = (entry: Entry) => {
    // The second read must be the chain the first one verified: every entry follows the one before.
    if (last && (entry.seq !== last.seq + 1 || entry.prev !== last.hash)) throw new Error(`entry ${entry.seq} does not follow entry ${last.seq} as it did when verified`);
    last = entry;
    if (head && entry.seq <= head.seq) {
      const local = store.hashAt(entry.seq);
      if (local !== entry.hash) {
        throw new TranscriptError(
          TranscriptErrorCodes.CHAIN_BROKEN,
          `Entry ${entry.seq} of the bundles (${entry.hash}) differs from the local entry ${entry.seq} (${local}): the histories diverged. Nothing was imported.`,
          'Find out which laptop holds the true history before any further ceremony on this token; keep both transcripts.',
        );
      }
      alreadyHeld += 1;
    } else {
      fresh.push(entry);
    }
  };
  const ordered = [...report.bundles].sort((a, b) => (a.first ?? 0) - (b.first ?? 0));
  const verifiedHead = ordered.at(-1)?.head;
  try {
    for (const b of ordered) await forEachEntry(await loadBundle(b.path, caps), caps, take);
    if (last?.hash !== verifiedHead) throw new Error(`the bundles now end at ${last?.hash ?? 'nothing'}, not at the verified head ${verifiedHead}`);
  } catch (error) {
    if (error instanceof TranscriptError) throw error;
    throw new TranscriptError(TranscriptErrorCodes.CHAIN_BROKEN, `The bundles changed while they were imported: ${(error as Error).message}. Nothing was imported.`, 'Leave the bundles as they are on the medium and import again.');
  }
  const first = fresh[0];
  const expectedSeq = head ? head.seq + 1 : 0;
  if (first && first.seq !== expectedSeq) {
    throw new TranscriptError(
      TranscriptErrorCodes.CHAIN_BROKEN,
      `The bundles continue at entry ${first.seq}, but the local transcript ends at ${head ? `entry ${head.seq}` : 'nothing (it is empty)'}: entries ${expectedSeq}-${first.seq - 1} are missing. Nothing was imported.`,
      `Add the bundle holding entry ${expectedSeq} and import again.`,
    );
  }
  const imported = fresh.length > 0 ? await store.importEntries(fresh) : 0;
  // The bundles now hold these entries for this laptop too: the next ceremony's export starts after them
  // instead of exporting another laptop's ceremony again (export-bundle's range, actions/general.ts).
  for (const b of report.bundles) {
    if (b.first !== null && b.last !== null) await store.recordExport({ path: b.path, ceremonyId: null, firstSeq: b.first, lastSeq: b.last, headHash: b.head ?? '', manifestSha256: '', exportedAt: new Date().toISOString() });
  }
  return { imported, alreadyHeld, head: store.head() };
}
