// Bringing a token's bundles from another laptop into this one: each token lifetime has its own chain
// (chains/<init-token ceremony id>/). The chain is found by the bundles' genesis entry, or, for bundles that
// continue a chain, by the local chain whose entry before the first imported one is the bundles' prev.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError } from '../errors.js';
import { importBundles, type ImportResult } from '../transcript/import.js';
import { KINDS } from '../transcript/entry.js';
import { TranscriptStore } from '../transcript/store.js';
import { firstEntryOf, verifyBundles } from '../transcript/verify.js';

export interface ChainImportResult extends ImportResult {
  /** The chain's id: the init-token ceremony that started the token's history. */
  chain: string;
}

async function firstEntry(paths: string[]) {
  const firsts = [];
  for (const path of paths) {
    const first = await firstEntryOf(path);
    if (first && 'entry' in first) firsts.push(first.entry);
    else if (first) {
      throw new AppError('IMPORT_NOT_VERIFIED', `The bundles do not verify: ${path}: ${first.problem}. Nothing was imported.`, 'Check them in the Verify screen.');
    }
  }
  return firsts.sort((a, b) => a.seq - b.seq)[0];
}

async function findChain(dataDir: string, prev: string, seq: number): Promise<string | undefined> {
  const root = join(dataDir, 'chains');
  let names: string[] = [];
  try {
    names = await readdir(root);
  } catch {
    return undefined;
  }
  for (const name of names) {
    const { store } = await TranscriptStore.open(join(root, name), { readOnly: true });
    try {
      if (store.hashAt(seq - 1) === prev) return name;
    } finally {
      await store.close();
    }
  }
  return undefined;
}

export async function importIntoChain(dataDir: string, paths: string[]): Promise<ChainImportResult> {
  const first = await firstEntry(paths);
  if (!first) throw new AppError('IMPORT_EMPTY', 'The chosen folders hold no readable transcript entries.', 'Choose the transcript bundle folders exported by a ceremony.');
  const chain = first.seq === 0 && first.kind === KINDS.genesis ? first.ceremonyId : await findChain(dataDir, first.prev, first.seq);
  if (!chain) {
    throw new AppError(
      'IMPORT_NO_CHAIN',
      `The bundles start at entry ${first.seq}, which continues no transcript on this laptop.`,
      "Import the token's bundles from its first one (the init-token bundle) onwards.",
    );
  }
  // Bundles that start a chain are verified before a chain folder is created for them; bundles that continue
  // one are verified against that chain's audit key by importBundles.
  const report = first.seq === 0 ? await verifyBundles(paths) : undefined;
  if (report && !report.ok) {
    const f = report.firstFailure;
    throw new AppError('IMPORT_NOT_VERIFIED', `The bundles do not verify${f ? `: ${f.seq !== undefined ? `entry ${f.seq}: ` : ''}${f.detail}` : ''}. Nothing was imported.`, 'Check them in the Verify screen.');
  }
  const { store } = await TranscriptStore.open(join(dataDir, 'chains', chain));
  try {
    return { chain, ...(await importBundles(store, paths)) };
  } finally {
    await store.close();
  }
}
