// The transcript chains on this laptop that belong to a token: chains/<enrolment id>/journal.jsonl whose
// genesis entry names the token's audit key (identity.ts decides what "names" means).
import { readdir, readFile } from 'node:fs/promises';
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
    let text: string;
    try {
      text = await readFile(join(root, name, JOURNAL_FILE), 'utf8');
    } catch {
      continue;
    }
    const nl = text.indexOf('\n');
    let genesis: Entry;
    try {
      genesis = JSON.parse(nl < 0 ? text : text.slice(0, nl)) as Entry;
    } catch {
      continue;
    }
    const named = genesis.kind === 'genesis' ? genesisTokenOf(genesis.data) : undefined;
    if (named && chainBelongsTo(named, token, identity)) out.push({ name, dir: join(root, name), genesis });
  }
  return out;
}
