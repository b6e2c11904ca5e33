// The transcript chains on this laptop that belong to a token: chains/<enrolment id>/journal.jsonl whose
// genesis entry names the token's audit key (identity.ts decides what "names" means).
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { TokenInfo } from '../../hsm/types.js';
import type { Entry } from '../transcript/entry.js';
import { JOURNAL_FILE } from '../transcript/store.js';
import { chainBelongsTo, genesisTokenOf, type TokenIdentity } from './identity.js';

export interface ChainCandidate {
  name: string;
  dir: string;
  genesis: Entry;
}

/** Chains under dataDir/chains whose genesis entry names this token (by its audit key: chainBelongsTo). Reads only each journal's first line. */
export async function findChainsForToken(dataDir: string, token: Pick<TokenInfo, 'serial' | 'label'>, identity: TokenIdentity): Promise<ChainCandidate[]> {
  const root = join(dataDir, 'chains');
  let names: string[];
  try {
    names = (await readdir(root)).sort();
  } catch {
    return [];
  }
  const out: ChainCandidate[] = [];
  for (const name of names) {
    let genesis: Entry;
    try {
      genesis = JSON.parse(await firstLine(join(root, name, JOURNAL_FILE))) as Entry;
    } catch {
      continue;
    }
    const named = genesis.kind === 'genesis' ? genesisTokenOf(genesis.data) : undefined;
    if (named && chainBelongsTo(named, token, identity)) out.push({ name, dir: join(root, name), genesis });
  }
  return out;
}

/** The newest of several chains naming one token: this token lifetime's (only the serial fallback finds several). */
export const newestChain = (chains: readonly ChainCandidate[]): ChainCandidate | undefined => chains.reduce<ChainCandidate | undefined>((a, b) => (a && a.genesis.time >= b.genesis.time ? a : b), undefined);

/** The first line of a file, read in small pieces: Home lists tokens often, and a journal can be large. */
async function firstLine(path: string): Promise<string> {
  const file = await open(path, 'r');
  try {
    const chunks: Buffer[] = [];
    for (let position = 0; ; ) {
      const chunk = Buffer.alloc(16384);
      const { bytesRead } = await file.read(chunk, 0, chunk.length, position);
      const nl = chunk.subarray(0, bytesRead).indexOf(0x0a);
      chunks.push(chunk.subarray(0, nl >= 0 ? nl : bytesRead));
      if (nl >= 0 || bytesRead === 0) return Buffer.concat(chunks).toString('utf8');
      position += bytesRead;
    }
  } finally {
    await file.close();
  }
}
