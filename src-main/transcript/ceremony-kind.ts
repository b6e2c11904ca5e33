// What kind of ceremony the entries record, judged from the transcript alone: the script it ran (SHA-256,
// shipped by a keyceremony release or allowed by the caller), rehearsal or production, the air gap its
// check-airgap step recorded, and the app version. A ceremony's start is the `pre-genesis` (init-token) or
// `pre-chain` (a ceremony continuing a chain) entry, which carries the script and the records written before
// the ceremony joined the chain, the first of them its `ceremony-start`. Fed one entry at a time, in chain
// order, so a long transcript is judged in bounded memory.
import { canonicalJson, GENESIS_PREV, sha256Hex } from './canonical.js';
import type { Entry } from './entry.js';
import { SHIPPED_SCRIPTS } from './shipped-scripts.js';

/** Kinds of the entry that opens a ceremony in the chain (ceremony/actions: init-token.ts, existing-chain.ts). */
export const START_KINDS: readonly string[] = ['pre-genesis', 'pre-chain'];
const TERMINAL: Record<string, CeremonyState> = { completed: 'completed', abort: 'aborted', interrupted: 'interrupted' };

export type CeremonyState = 'completed' | 'aborted' | 'interrupted' | 'not finished in these entries';

export interface CeremonyJudgement {
  ceremonyId: string;
  /** False when its start is not among the entries (it began in an earlier bundle): nothing below is known. */
  judged: boolean;
  /** seq of its first entry among these. */
  firstSeq: number;
  /** seq of its start entry (pre-genesis or pre-chain). */
  startSeq?: number;
  script?: {
    name: string;
    kind: string;
    version: number | null;
    sha256: string;
    /** shipped: by the keyceremony versions in `shippedIn`; allowed: by --allow-script; unknown: neither. */
    status: 'shipped' | 'allowed' | 'unknown';
    shippedIn: string[];
  };
  rehearsal?: boolean;
  /** What the check-airgap step recorded: every check offline, one online, or none recorded. */
  airGap: 'offline' | 'online' | 'not recorded';
  /** App versions that ran it: the start's, then each resume's. */
  appVersions: string[];
  state: CeremonyState;
  /** Why this ceremony is not an acceptable production ceremony (empty when it is). */
  problems: string[];
}

export interface PolicyOptions {
  allowRehearsal?: boolean;
  /** SHA-256 (hex) of scripts the caller reviewed and accepts. */
  allowScripts?: readonly string[];
}

/** keyceremony versions that shipped a script with this SHA-256. */
export function shippedIn(sha256: string): string[] {
  return SHIPPED_SCRIPTS.filter((s) => s.sha256 === sha256).map((s) => s.version);
}

interface Tracked {
  ceremonyId: string;
  firstSeq: number;
  startSeq?: number;
  script?: { name: string; kind: string; version: number | null; sha256: string };
  rehearsal?: boolean;
  /** Where an air-gap check found the laptop online: 'seq 5', or 'record 1 of the pre-genesis entry, seq 1'. */
  online: string[];
  offline: number;
  appVersions: string[];
  state: CeremonyState;
  problems: string[];
}

const obj = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export class CeremonyJudge {
  private readonly ceremonies = new Map<string, Tracked>();

  get size(): number {
    return this.ceremonies.size;
  }

  has(ceremonyId: string): boolean {
    return this.ceremonies.has(ceremonyId);
  }

  add(entry: Entry): void {
    let c = this.ceremonies.get(entry.ceremonyId);
    if (!c) {
      c = { ceremonyId: entry.ceremonyId, firstSeq: entry.seq, online: [], offline: 0, appVersions: [], state: 'not finished in these entries', problems: [] };
      this.ceremonies.set(entry.ceremonyId, c);
    }
    const data = obj(entry.data);
    if (START_KINDS.includes(entry.kind)) this.start(c, entry, data);
    else if (entry.kind === 'result' && data.action === 'check-airgap') this.airGap(c, data, `seq ${entry.seq}`);
    else if (entry.kind === 'resumed') {
      const v = str(data.appVersion);
      if (v && !c.appVersions.includes(v)) c.appVersions.push(v);
    } else if (TERMINAL[entry.kind]) c.state = TERMINAL[entry.kind] as CeremonyState;
  }

  private airGap(c: Tracked, data: Record<string, unknown>, where: string): void {
    if (data.offline === true) c.offline += 1;
    else c.online.push(where);
  }

  /** The start entry: its script, and its records (checked to chain) with the ceremony-start first. */
  private start(c: Tracked, entry: Entry, data: Record<string, unknown>): void {
    const at = `seq ${entry.seq} (${entry.kind})`;
    if (c.startSeq !== undefined) {
      c.problems.push(`${at} starts it a second time (first at seq ${c.startSeq})`);
      return;
    }
    c.startSeq = entry.seq;
    const s = obj(data.script);
    const sha256 = str(s.sha256);
    if (!sha256 || !/^[0-9a-f]{64}$/.test(sha256)) c.problems.push(`${at} names no script SHA-256`);
    else c.script = { name: str(s.name) ?? '?', kind: str(s.kind) ?? '?', version: typeof s.version === 'number' ? s.version : null, sha256 };
    const records = Array.isArray(data.records) ? data.records.map(obj) : [];
    let prev = GENESIS_PREV;
    for (const [n, r] of records.entries()) {
      const { hash, ...rest } = r;
      if (r.n !== n || r.prev !== prev || hash !== sha256Hex(canonicalJson(rest as never)) || r.ceremonyId !== entry.ceremonyId) {
        c.problems.push(`${at}: record ${n} of the log written before the chain does not chain (n, prev, hash or ceremony id)`);
        return;
      }
      prev = hash as string;
      const rd = obj(r.data);
      if (r.kind === 'result' && rd.action === 'check-airgap') this.airGap(c, rd, `record ${n} of the ${entry.kind} entry, seq ${entry.seq}`);
    }
    const first = records[0];
    if (!first || first.kind !== 'ceremony-start') {
      c.problems.push(`${at} holds no ceremony-start record`);
      return;
    }
    const d = obj(first.data);
    c.rehearsal = d.rehearsal === true;
    const v = str(d.appVersion);
    if (v) c.appVersions.unshift(v);
    const startSha = str(obj(d.script).sha256);
    if (sha256 && startSha !== sha256) c.problems.push(`${at} names script SHA-256 ${sha256} but its ceremony-start record names ${startSha ?? 'none'}`);
  }

  /** The judgement of every ceremony met, in order of first appearance, under the caller's policy. */
  judgements(options: PolicyOptions = {}): CeremonyJudgement[] {
    const allowed = new Set((options.allowScripts ?? []).map((h) => h.toLowerCase()));
    return [...this.ceremonies.values()].map((c) => {
      const j: CeremonyJudgement = {
        ceremonyId: c.ceremonyId,
        judged: c.startSeq !== undefined,
        firstSeq: c.firstSeq,
        airGap: c.online.length > 0 ? 'online' : c.offline > 0 ? 'offline' : 'not recorded',
        appVersions: c.appVersions,
        state: c.state,
        problems: [...c.problems],
      };
      if (c.startSeq === undefined) return j;
      j.startSeq = c.startSeq;
      if (c.rehearsal !== undefined) j.rehearsal = c.rehearsal;
      if (c.script) {
        const versions = shippedIn(c.script.sha256);
        const status = versions.length > 0 ? 'shipped' : allowed.has(c.script.sha256) ? 'allowed' : 'unknown';
        j.script = { ...c.script, status, shippedIn: versions };
        if (status === 'unknown')
          j.problems.push(`it ran script '${c.script.name}' with SHA-256 ${c.script.sha256}, which no keyceremony release shipped; if you reviewed that script, pass --allow-script ${c.script.sha256}`);
      }
      if (c.rehearsal === true && !options.allowRehearsal) j.problems.push('it is a rehearsal, not a production ceremony (pass --allow-rehearsal to accept rehearsals)');
      if (c.rehearsal === false && j.airGap === 'online') j.problems.push(`it is recorded as a production ceremony, but its air-gap check found the laptop online (${c.online[0]})`);
      if (c.rehearsal === false && j.airGap === 'not recorded') j.problems.push('it is recorded as a production ceremony, but no air-gap check is recorded');
      return j;
    });
  }
}
