// The ceremony service: what the app shell wires to IPC and the CLI drives. Plain data in and out; files are
// absolute paths. It owns the running ceremonies, and on start (or when asked) finds ceremonies a crash left
// unfinished, records them as interrupted and voids the shares they had handed out.
import { refuseAbandonInPinWindow } from '../actions/rotate-abort.js';
import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CodedError, SESSION_LOST_CODES } from '../../../hsm/errors.js';
import { AppError } from '../../errors.js';
import type { Entry } from '../../transcript/entry.js';
import type { JsonObject } from '../../transcript/json-value.js';
import { JOURNAL_FILE, TranscriptStore } from '../../transcript/store.js';
import { liveHolder, WriterLock, type LockHolder } from '../../transcript/writer-lock.js';
import { PRE_CHAIN_KIND } from '../actions/existing-chain.js';
import { chainDirOf } from '../actions/init-token.js';
import { enrolmentFromEntries } from '../actions/quorum-login.js';
import { enrolAttemptFacts, SHARES_OPEN_TOKEN_KIND, sharesOpenTokenWayOut } from '../actions/enrol-token.js';
import { loadScriptFile, type LoadedScript } from '../script/index.js';
import { PRE_GENESIS_FILE, PreGenesisLog, readPreGenesisLog, type PreGenesisRecord } from './pre-genesis-log.js';
import { CeremonyRun, ceremonyDirOf, ENGINE_KINDS, readAfterCompleted, preGenesisPathOf, TERMINAL_KINDS } from './run.js';
import type { CeremonyStatus, CeremonyView, EngineDeps, PerformResult, PriorAttempt } from './types.js';
import { summarizeRecords, type CeremonySummary, type SummaryRecord } from '../summary.js';
import { assertMayStart, bringList, rolesPreview, type BringItem, type RolesPreview } from '../script/preview.js';

export interface CeremonyServiceOptions extends EngineDeps {
  /** The folder of shipped (or chosen) ceremony scripts, e.g. ceremonies/. */
  scriptsDir: string;
}

export interface ScriptParameterSummary {
  name: string;
  /** What the form field says (the script's `label`). */
  label: string;
  type: 'string' | 'integer' | 'boolean' | 'custodians';
  description: string;
  min?: number;
  max?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
}

export interface ScriptSummary {
  name: string;
  kind: string;
  version: number;
  /** The ceremony's name on buttons and lists, without placeholders. */
  label: string;
  title: string;
  description?: string;
  rehearsal: boolean;
  sha256: string;
  parameters: ScriptParameterSummary[];
  steps: { id: string; title: string; action: string; approvals: 'none' | 'quorum' }[];
  roles: RolesPreview;
  /** What the room must bring, derived from the steps' actions (script/preview.ts). */
  bring: BringItem[];
}

export interface StartRequest {
  /** A script name from listScripts() (its file name without .yaml). */
  script: string;
  parameters: Record<string, unknown>;
  rehearsal?: boolean;
}

export interface PastCeremonyRecord {
  ceremonyId: string;
  kind: string;
  status: CeremonyStatus;
  summary: CeremonySummary;
  entries: { seq?: number; time: string; step: string; kind: string; actor: string; hash: string }[];
}

/** One line of the list of past ceremonies (Home, `keyceremony ceremonies`). */
export interface PastCeremonyItem {
  ceremonyId: string;
  kind: string;
  status: CeremonyStatus;
  /** Interrupted after it joined its token's chain: the room may resume or abandon it. */
  resumable?: boolean;
  /** Aborted by the room's Abandon (Home, or `keyceremony abandon`) after an interruption. */
  abandoned?: boolean;
  /** When its first record was written. */
  startedAt?: string;
  token?: { serial: string; label: string };
  sharesVoid: string[];
}

export interface InterruptedCeremony {
  ceremonyId: string;
  kind: string;
  /** Where the attempt's record lives: only the pre-genesis log, or a chain. */
  recordedIn: 'pre-genesis-log' | 'chain';
  /** Custodians whose shares were voided. */
  sharesVoid: string[];
  token?: { serial: string; label: string };
  /** True when this call recorded the interruption; false when an earlier call had. */
  newlyRecorded: boolean;
  /** enrol-token interrupted after it changed the PINs: these shares open the token, and the way out. */
  sharesOpenToken?: { custodians: string[]; wayOut: string };
}

const SCRIPT_NAME = /^[a-z][a-z0-9-]{0,63}$/;
/**
 * Token errors after which the run cannot go on with its session: the token host process stopped, the
 * session is gone, or its login is (a device unplugged after the quorum login).
 */
const RECOVERY_ACTOR = 'keyceremony';

interface Scanned {
  ceremonyId: string;
  kind: string;
  status: CeremonyStatus;
  /** Unfinished, and it had joined an existing token's chain: the room may resume or abandon it. */
  resumable: boolean;
  /** Its abort entry says the room abandoned it after an interruption. */
  abandoned: boolean;
  /** Unfinished while another live process holds its chain's writer lock: it is running there. */
  runningIn?: LockHolder;
  terminalKind?: string;
  token?: { serial: string; label: string };
  /** init-token only: the label its init step was initializing a token to (see PriorAttempt). */
  initAttempted?: string;
  sharesIssued: string[];
  sharesVoided: boolean;
  /** enrol-token: the PINs it changed (or may have); its shares then open the token. */
  pinsChanged?: ('user' | 'so')[];
  records: PreGenesisRecord[];
  chainEntries: Entry[];
  chainDir: string;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

export class CeremonyService {
  private readonly runs = new Map<string, CeremonyRun>();
  constructor(private readonly options: CeremonyServiceOptions) {}

  /** The run's view with its sign-off summary, made from what the run recorded (summary.ts). */
  private viewOf(run: CeremonyRun): CeremonyView {
    return { ...run.view(), summary: summarizeRecords(run.ceremonyId, run.records()) };
  }

  private deps(): EngineDeps {
    return { ...this.options, priorAttempts: async () => [...(await this.priorAttempts()), ...this.finishedHere()] };
  }

  async listScripts(): Promise<ScriptSummary[]> {
    const names = (await readdir(this.options.scriptsDir)).filter((n) => n.endsWith('.yaml')).sort();
    const out: ScriptSummary[] = [];
    for (const file of names) {
      const loaded = await loadScriptFile(join(this.options.scriptsDir, file));
      out.push(summarize(file.slice(0, -'.yaml'.length), loaded));
    }
    return out;
  }

  private async loadScript(name: string): Promise<LoadedScript> {
    if (typeof name !== 'string' || !SCRIPT_NAME.test(name)) throw new AppError('ceremony-script', `script: '${String(name)}' is not a script name`, 'Choose a script from the list.');
    const path = join(this.options.scriptsDir, `${name}.yaml`);
    if (!(await exists(path))) throw new AppError('ceremony-script', `script: there is no ceremony script '${name}'`, 'Choose a script from the list.');
    return loadScriptFile(path);
  }

  /** Start a ceremony (after recording any interrupted ones). */
  async start(request: StartRequest): Promise<CeremonyView> {
    const loaded = await this.loadScript(request.script);
    assertMayStart(loaded.script, request.rehearsal, this.options.airGap());
    await this.interrupted();
    const run = await CeremonyRun.start(this.deps(), { loaded, scriptName: request.script, parameters: request.parameters ?? {}, rehearsal: request.rehearsal === true });
    this.runs.set(run.ceremonyId, run);
    return this.viewOf(run);
  }

  private run(ceremonyId: string): CeremonyRun {
    const run = this.runs.get(ceremonyId);
    if (!run) throw new AppError('ceremony-unknown', `ceremony ${ceremonyId} is not running in this app`, 'Start the ceremony, or look at its transcript.');
    return run;
  }

  view(ceremonyId: string): CeremonyView {
    return this.viewOf(this.run(ceremonyId));
  }

  async perform(ceremonyId: string, stepId: string, input: unknown): Promise<PerformResult> {
    const run = this.run(ceremonyId);
    let reveal: PerformResult['reveal'];
    try {
      reveal = await run.perform(stepId, input);
    } catch (error) {
      if (error instanceof CodedError && SESSION_LOST_CODES.has(error.code)) throw await this.letGo(run, stepId, error);
      throw error;
    }
    return reveal ? { view: this.viewOf(run), reveal } : { view: this.viewOf(run) };
  }

  /**
   * The run's token session died under it (the token host process stopped, or the device went away): no
   * retry on this run can work, so the service lets go of it (secrets wiped, its log and chain closed; the
   * failure is already recorded). Home then lists it: a ceremony on an enrolled token can be resumed there
   * (the token is reopened, custodians log in again); an init-token is recorded as interrupted.
   */
  private async letGo(run: CeremonyRun, stepId: string, cause: CodedError): Promise<AppError> {
    this.runs.delete(run.ceremonyId);
    await run.cleanup();
    await run.dispose().catch(() => undefined);
    const resumable = (await this.scan()).find((x) => x.ceremonyId === run.ceremonyId)?.resumable === true;
    return new AppError(
      'ceremony-token-lost',
      `step '${stepId}': the token's session ended (${cause.message}); ceremony ${run.ceremonyId} stopped here, and what it did so far is recorded`,
      resumable
        ? 'Reconnect the token if it was unplugged, then on Home resume this ceremony: the custodians open the token again and it goes on from this step.'
        : 'Reconnect the token if it was unplugged, then on Home start the ceremony again: this attempt is recorded as interrupted.',
    );
  }

  async abort(ceremonyId: string, reason: string): Promise<CeremonyView> {
    if (typeof reason !== 'string' || reason.trim().length < 3) throw new AppError('ceremony-abort-reason', 'reason: say why the ceremony is aborted (at least 3 characters)', 'Type the reason the room agreed on.');
    const run = this.run(ceremonyId);
    await run.abort(reason.trim());
    return this.viewOf(run);
  }

  /**
   * Resume an interrupted ceremony that had joined its token's chain (see resumable()): the same ceremony
   * id continues in a new run. Its script must be the one it started with (same SHA-256).
   */
  async resume(ceremonyId: string): Promise<CeremonyView> {
    if (this.runs.has(ceremonyId)) throw new AppError('ceremony-running', `ceremony ${ceremonyId} is already running in this app`, 'Go on with it on the Ceremony screen.');
    const s = (await this.scan()).find((x) => x.ceremonyId === ceremonyId);
    if (!s) {
      throw new AppError(
        'ceremony-unknown',
        `ceremony ${ceremonyId} is not in this laptop's data directory, or its token's transcript is in use by a ceremony running now`,
        'Finish or abort the running ceremony first, then choose this one from the list of past ceremonies.',
      );
    }
    if (!s.resumable) throw new AppError('ceremony-not-resumable', notResumable(s), 'Start a new ceremony.');
    const start = s.records[0]?.data as { script?: { name?: unknown; sha256?: unknown } } | undefined;
    const name = typeof start?.script?.name === 'string' ? start.script.name : '';
    const loaded = await this.loadScript(name);
    if (loaded.sha256 !== start?.script?.sha256) {
      throw new AppError(
        'ceremony-resume-script',
        `ceremony ${ceremonyId} ran script '${name}' with SHA-256 ${String(start?.script?.sha256)}, but ${loaded.source} now has SHA-256 ${loaded.sha256}: a resumed ceremony runs the script it started with`,
        'Put the original script back (the transcript names its SHA-256), or abandon this ceremony and start a new one.',
      );
    }
    const run = await CeremonyRun.resume(this.deps(), {
      loaded,
      scriptName: name,
      ceremonyId,
      records: s.records,
      chainDir: s.chainDir,
      reason: 'the ceremony was interrupted (a crash, a power loss or the app was closed) and the room chose to resume it',
    });
    this.runs.set(ceremonyId, run);
    return run.view();
  }

  /** Abandon a resumable ceremony instead: recorded as aborted (with what it leaves behind), never resumable again. */
  async abandon(ceremonyId: string, reason: string): Promise<{ ceremonyId: string; status: CeremonyStatus }> {
    if (typeof reason !== 'string' || reason.trim().length < 3) throw new AppError('ceremony-abort-reason', 'reason: say why the ceremony is abandoned (at least 3 characters)', 'Type the reason the room agreed on.');
    if (this.runs.has(ceremonyId)) throw new AppError('ceremony-running', `ceremony ${ceremonyId} is running in this app`, 'Abort it on the Ceremony screen instead.');
    const s = (await this.scan()).find((x) => x.ceremonyId === ceremonyId);
    if (!s?.resumable) throw new AppError('ceremony-not-resumable', s ? notResumable(s, 'abandoned') : `ceremony ${ceremonyId} is not in this laptop's data directory`, 'Nothing to abandon.');
    if (s.kind === 'rotate-custodians') refuseAbandonInPinWindow(ceremonyId, s.chainEntries);
    const last = s.chainEntries.at(-1);
    const keys = s.chainEntries.filter((e) => (e.data as { action?: unknown }).action === 'generate-key');
    const keyLabel = [...s.records, ...s.chainEntries].map((e) => (e.data as { parameters?: { keyLabel?: unknown } }).parameters?.keyLabel).find((l) => typeof l === 'string');
    await this.recordFor(s, 'chain', [
      {
        kind: ENGINE_KINDS.abort,
        data: {
          reason: reason.trim(),
          abandoned: true,
          after: 'interruption',
          lastRecord: last ? { seq: last.seq, kind: last.kind, step: last.step, hash: last.hash } : null,
          ...(keys.length > 0 && typeof keyLabel === 'string' ? { leftInToken: `the key labelled '${keyLabel}' may be in the token (this ceremony recorded ${keys.map((e) => e.kind).join(', ')} for it); it stays there until the room destroys it` } : {}),
        },
      },
    ]);
    return { ceremonyId, status: 'aborted' };
  }

  /**
   * Every ceremony this data directory knows, earlier ones and those of this session, oldest first: what
   * Home lists and `keyceremony ceremonies` prints. An abandoned ceremony is aborted and says so.
   */
  async history(): Promise<PastCeremonyItem[]> {
    const scanned = await this.scan();
    const resumable = new Set(scanned.filter((s) => s.resumable).map((s) => s.ceremonyId));
    // The token each ceremony worked on, as its summary reads it from its records (any kind of ceremony).
    const tokenOf = (ceremonyId: string, records: readonly SummaryRecord[]) => {
      const t = summarizeRecords(ceremonyId, records).token;
      return t ? { token: { serial: t.serial, label: t.label } } : {};
    };
    const prior = await this.priorAttempts(scanned);
    const finished = this.finishedHere();
    const wayOut = (ceremonyId: string) => {
      const text = reinitWayOut([...prior, ...finished], ceremonyId);
      return text ? { wayOut: text } : {};
    };
    const before = prior.map((a, i) => {
      const s = scanned[i] as Scanned;
      return {
        ceremonyId: a.ceremonyId,
        kind: a.kind,
        status: a.status,
        ...(resumable.has(a.ceremonyId) ? { resumable: true } : {}),
        ...(s.abandoned ? { abandoned: true } : {}),
        ...(s.records[0] ? { startedAt: s.records[0].time } : {}),
        // A token chosen blank has no label or serial yet: name it by the label its init step was writing.
        ...(a.token ? { token: a.token } : a.initAttempted ? { token: { serial: '', label: a.initAttempted } } : tokenOf(s.ceremonyId, [...s.records, ...s.chainEntries])),
        sharesVoid: (a.status === 'interrupted' || a.status === 'aborted') && !a.pinsChanged ? a.sharesIssued : [],
        ...wayOut(a.ceremonyId),
      };
    });
    const here = [...this.runs.values()].map((r) => {
      const v = r.view();
      const started = r.records()[0]?.time;
      return { ceremonyId: v.ceremonyId, kind: v.script.kind, status: v.status, ...(started ? { startedAt: started } : {}), ...tokenOf(v.ceremonyId, r.records()), sharesVoid: [] as string[], ...wayOut(v.ceremonyId) };
    });
    // Ceremony ids start with the kind and a UTC timestamp to the second, then a random suffix: order by the
    // first record's time (milliseconds) where there is one, so two ceremonies of the same second keep their order.
    const when = (c: { ceremonyId: string; startedAt?: string }) => {
      if (c.startedAt) return c.startedAt;
      const t = /(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z/.exec(c.ceremonyId);
      return t ? `${t[1]}-${t[2]}-${t[3]}T${t[4]}:${t[5]}:${t[6]}.000Z` : c.ceremonyId;
    };
    return [...before, ...here].sort((a, b) => when(a).localeCompare(when(b)) || a.ceremonyId.localeCompare(b.ceremonyId));
  }

  /**
   * The record of an earlier ceremony for the Home screen: its sign-off summary and every entry it wrote
   * (pre-genesis log, then its entries in the token's chain), as found in this data directory. Only ids
   * the scan found are answered, so the id never becomes a path of the caller's choosing.
   */
  async pastCeremony(ceremonyId: string): Promise<PastCeremonyRecord> {
    const run = this.runs.get(ceremonyId);
    let found: { kind: string; status: CeremonyStatus; records: SummaryRecord[] };
    if (run) {
      // Finished here, in this app: its records are in memory (its chain is already released).
      const view = run.view();
      if (view.status === 'running') throw new AppError('ceremony-running', `ceremonyId: ceremony ${ceremonyId} is running in this app`, 'Look at it on the Ceremony screen.');
      found = { kind: view.script.kind, status: view.status, records: run.records() };
    } else {
      const s = (await this.scan()).find((x) => x.ceremonyId === ceremonyId);
      if (!s) throw new AppError('ceremony-unknown', `ceremonyId: there is no ceremony ${ceremonyId} in this laptop's data directory`, 'Choose one from the list of past ceremonies.');
      // What it did after `completed` (the final export, logout) is in its local note, not in the chain.
      const after = await readAfterCompleted(this.options.dataDir, ceremonyId);
      found = { kind: s.kind, status: s.status, records: [...s.records, ...s.chainEntries, ...after] };
    }
    return {
      ceremonyId,
      kind: found.kind,
      status: found.status,
      summary: summarizeRecords(ceremonyId, found.records),
      entries: found.records.map((r) => ({ ...(r.seq === undefined ? {} : { seq: r.seq }), time: r.time, step: r.step, kind: r.kind, actor: r.actor, hash: r.hash })),
    };
  }

  /** Every earlier ceremony in the data directory that is not running here, with its status. */
  async priorAttempts(scanned?: Scanned[]): Promise<PriorAttempt[]> {
    return (scanned ?? (await this.scan())).map((s) => {
      const a: PriorAttempt = { ceremonyId: s.ceremonyId, kind: s.kind, status: s.status, sharesIssued: s.sharesIssued };
      if (s.token) a.token = s.token;
      if (s.initAttempted) a.initAttempted = s.initAttempted;
      // init-token and enrol-token record their enrolment before they touch the token (pre-genesis log) and again in the chain.
      const recorded = enrolmentFromEntries([...(s.records as unknown as Entry[]), ...s.chainEntries]);
      if (recorded) a.enrolment = recorded;
      Object.assign(a, enrolAttemptFacts([...s.records, ...s.chainEntries]));
      return a;
    });
  }

  /**
   * Ceremonies that ended in this app since it started (the scan leaves them to the runs that hold them): an
   * init-token aborted here must be found by the next attempt on its token just as one found on disk.
   */
  private finishedHere(): PriorAttempt[] {
    return [...this.runs.values()]
      .filter((r) => r.status !== 'running')
      .map((r) => {
        const all = r.records().map((x) => ({ kind: x.kind, data: x.data as JsonObject }));
        const a: PriorAttempt = { ceremonyId: r.ceremonyId, kind: r.loaded.script.kind, status: r.status, ...tokenFacts(all) };
        const recorded = enrolmentFromEntries(all);
        if (recorded) a.enrolment = recorded;
        Object.assign(a, enrolAttemptFacts(all));
        return a;
      });
  }

  /**
   * Find ceremonies that started but never ended (no completed, abort or interrupted record; or a
   * pre-genesis log without genesis), record each as interrupted and void the shares it handed out.
   * Returns every interrupted ceremony, including those recorded earlier.
   */
  async interrupted(): Promise<InterruptedCeremony[]> {
    const out: InterruptedCeremony[] = [];
    for (const s of await this.scan()) {
      // A resumable ceremony waits for the room's choice (resume or abandon); it is not ended behind its back.
      if (s.status !== 'interrupted' || s.resumable) continue;
      const newly = s.terminalKind === undefined;
      const recordedIn = s.chainEntries.length > 0 ? 'chain' : 'pre-genesis-log';
      if (newly || (s.sharesIssued.length > 0 && !s.sharesVoided)) {
        const last = s.chainEntries.at(-1) ?? s.records.at(-1);
        const entries: { kind: string; data: JsonObject }[] = [];
        if (newly) {
          entries.push({
            kind: ENGINE_KINDS.interrupted,
            data: {
              reason: 'the ceremony was found unfinished when the app started again (a crash or power loss)',
              lastRecord: last ? { kind: last.kind, step: last.step, time: last.time, hash: last.hash } : null,
              preGenesisLog: PRE_GENESIS_FILE,
            },
          });
        }
        if (s.pinsChanged && newly) {
          // enrol-token after its PIN change: the shares are the only way into the token now.
          entries.push({ kind: SHARES_OPEN_TOKEN_KIND, data: { custodians: s.sharesIssued, pinsChanged: s.pinsChanged, wayOut: sharesOpenTokenWayOut(s.kind) } });
        } else if (s.sharesIssued.length > 0 && !s.sharesVoided && !s.pinsChanged) {
          entries.push({ kind: ENGINE_KINDS.sharesVoid, data: { custodians: s.sharesIssued, reason: 'the ceremony was interrupted; these shares open nothing and must be destroyed' } });
        }
        await this.recordFor(s, recordedIn, entries);
      }
      const i: InterruptedCeremony = { ceremonyId: s.ceremonyId, kind: s.kind, recordedIn, sharesVoid: s.pinsChanged ? [] : s.sharesIssued, newlyRecorded: newly };
      if (s.pinsChanged) i.sharesOpenToken = { custodians: s.sharesIssued, wayOut: sharesOpenTokenWayOut(s.kind) };
      if (s.token) i.token = s.token;
      out.push(i);
    }
    return out;
  }

  private async recordFor(s: Scanned, where: 'chain' | 'pre-genesis-log', entries: { kind: string; data: JsonObject }[]): Promise<void> {
    if (where === 'chain') {
      const { store } = await TranscriptStore.open(s.chainDir);
      try {
        for (const e of entries) await store.append({ ceremonyId: s.ceremonyId, step: 'recovery', kind: e.kind, actor: RECOVERY_ACTOR, data: e.data });
      } finally {
        await store.close();
      }
    } else {
      // One recorder per ceremony folder: two apps starting at once do not both record the interruption.
      const lock = await WriterLock.acquire(ceremonyDirOf(this.options.dataDir, s.ceremonyId));
      try {
        const log = await PreGenesisLog.reopen(preGenesisPathOf(this.options.dataDir, s.ceremonyId), this.options.clock);
        try {
          for (const e of entries) await log.append({ ceremonyId: s.ceremonyId, step: 'recovery', kind: e.kind, actor: RECOVERY_ACTOR, data: e.data });
        } finally {
          await log.close();
        }
      } finally {
        await lock.release();
      }
    }
  }

  private async scan(): Promise<Scanned[]> {
    const root = join(this.options.dataDir, 'ceremonies');
    let ids: string[];
    try {
      ids = (await readdir(root)).sort();
    } catch {
      return [];
    }
    const out: Scanned[] = [];
    // Many ceremonies share one chain (a token's lifetime): open each chain once per scan, not once per ceremony.
    const stores = new Map<string, TranscriptStore>();
    try {
      for (const ceremonyId of ids) {
        const s = await this.scanOne(root, ceremonyId, stores);
        if (s) out.push(s);
      }
    } finally {
      for (const store of stores.values()) await store.close();
    }
    return out;
  }

  private async scanOne(root: string, ceremonyId: string, stores: Map<string, TranscriptStore>): Promise<Scanned | undefined> {
    if (this.runs.has(ceremonyId)) return undefined;
    const path = join(root, ceremonyId, PRE_GENESIS_FILE);
    if (!(await exists(path))) return undefined;
    const { records } = await readPreGenesisLog(path);
    const start = records[0];
    if (!start) return undefined;
    const startData = start.data as { script?: { kind?: string }; chain?: string };
    // A ceremony on an existing token records the chain it continues (a later record naming `chain`).
    const attached = [...records].reverse().find((r) => typeof (r.data as { chain?: unknown }).chain === 'string');
    const chainName = attached ? String((attached.data as { chain: string }).chain) : ceremonyId;
    const chainDir = chainDirOf(this.options.dataDir, chainName);
    let chainEntries: Entry[] = [];
    if (await exists(join(chainDir, JOURNAL_FILE))) {
      if ([...this.runs.values()].some((r) => r.chain()?.dir === chainDir)) return undefined;
      let store = stores.get(chainDir);
      if (!store) {
        // Read-only: a chain another process is writing is read, never cut or checkpointed, and not locked.
        store = (await TranscriptStore.open(chainDir, { readOnly: true })).store;
        stores.set(chainDir, store);
      }
      const c = store.ceremonies().find((x) => x.ceremonyId === ceremonyId);
      if (c) chainEntries = store.entries(c.firstSeq, c.lastSeq).filter((e) => e.ceremonyId === ceremonyId);
    }
    const all: { kind: string; data: JsonObject }[] = [...records, ...chainEntries];
    const terminal = all.find((e) => TERMINAL_KINDS.includes(e.kind));
    let status: CeremonyStatus = terminal?.kind === ENGINE_KINDS.completed ? 'completed' : terminal?.kind === ENGINE_KINDS.abort ? 'aborted' : 'interrupted';
    // Unfinished here, but its chain is held by a live process (the CLI, or another app): running there, not interrupted.
    const runningIn = status === 'interrupted' ? ((await liveHolder(join(root, ceremonyId))) ?? (chainEntries.length > 0 ? await liveHolder(chainDir) : null)) : null;
    if (runningIn) status = 'running';
    const { sharesIssued, token, initAttempted } = tokenFacts(all);
    const sharesVoided = all.some((e) => e.kind === ENGINE_KINDS.sharesVoid);
    const resumable = status === 'interrupted' && terminal === undefined && attached !== undefined && chainEntries.some((e) => e.kind === PRE_CHAIN_KIND);
    const abandoned = terminal?.kind === ENGINE_KINDS.abort && (terminal.data as { abandoned?: unknown }).abandoned === true;
    const s: Scanned = { ceremonyId, kind: typeof startData.script?.kind === 'string' ? startData.script.kind : 'unknown', status, resumable, abandoned, sharesIssued, sharesVoided, records, chainEntries, chainDir };
    if (terminal) s.terminalKind = terminal.kind;
    if (token) s.token = token;
    if (runningIn) s.runningIn = runningIn;
    const { pinsChanged } = enrolAttemptFacts(all);
    if (pinsChanged) s.pinsChanged = pinsChanged;
    if (initAttempted) s.initAttempted = initAttempted;
    return s;
  }

  /** Wipe every running ceremony's secrets, close sessions, logs and chains. */
  async close(): Promise<void> {
    for (const run of this.runs.values()) {
      await run.cleanup();
      await run.dispose();
    }
    this.runs.clear();
  }
}

/**
 * What a ceremony's records say about the token it worked on: the shares it handed out, the token its init
 * step left (serial and label), and the label its init step was initializing to once it recorded an intent
 * (the token may have been initialized even if no result was recorded: a kill inside C_InitToken).
 */
function tokenFacts(all: readonly { kind: string; data: JsonObject }[]): Pick<PriorAttempt, 'sharesIssued' | 'token' | 'initAttempted'> {
  const sharesIssued = all.filter((e) => e.kind === 'share-issued').map((e) => String(e.data.custodian));
  const out: Pick<PriorAttempt, 'sharesIssued' | 'token' | 'initAttempted'> = { sharesIssued };
  for (const e of all) {
    const d = e.data as { action?: string; token?: { serial?: unknown; label?: unknown } };
    if (e.kind === 'result' && d.action === 'init-token' && typeof d.token?.serial === 'string' && typeof d.token.label === 'string') out.token = { serial: d.token.serial, label: d.token.label };
  }
  const label = (all[0]?.data as { parameters?: { tokenLabel?: unknown } } | undefined)?.parameters?.tokenLabel;
  if (typeof label === 'string' && all.some((e) => e.kind === 'intent' && (e.data as { action?: unknown }).action === 'init-token')) out.initAttempted = label;
  return out;
}

/**
 * The way out of an init-token attempt that stopped (interrupted or aborted) once it began initializing its
 * token, for Home: its shares, void for anything else, still rebuild that token's SO PIN. Nothing once a later
 * init-token completed on a token of that label (the way out was taken).
 */
export function reinitWayOut(attempts: readonly PriorAttempt[], ceremonyId: string): string | undefined {
  const at = attempts.findIndex((x) => x.ceremonyId === ceremonyId);
  const a = attempts[at];
  if (!a || a.kind !== 'init-token' || (a.status !== 'interrupted' && a.status !== 'aborted') || !a.initAttempted) return undefined;
  const label = a.initAttempted;
  if (attempts.some((x) => x.kind === 'init-token' && x.status === 'completed' && x.ceremonyId > ceremonyId && x.token?.label === label)) return undefined;
  const m = a.enrolment?.enrolment.threshold;
  if (m === undefined || a.sharesIssued.length < m) {
    return `It may have initialized token '${label}' without enough shares handed out to rebuild its SO PIN: reset that token with its vendor's tool (SoftHSM: softhsm2-util --delete-token --token ${label}), then start again.`;
  }
  return (
    `It stopped after it began initializing token '${label}'. Its share files (void for anything else) still rebuild that token's SO PIN: ` +
    `start "Initialize token" again on that token and, at the step that initializes it, add ${m} of the share files of ${a.sharesIssued.join(', ')}, each with its passphrase ` +
    `(command line: keyceremony init-token ... --previous-share FILE:PASSPHRASE_FILE, ${m} times).`
  );
}

function notResumable(s: Scanned, verb: 'resumed' | 'abandoned' = 'resumed'): string {
  if (s.runningIn) return `ceremony ${s.ceremonyId} is running: it is in use by process ${s.runningIn.pid} since ${s.runningIn.since}, command ${s.runningIn.command || '(unknown)'}`;
  if (s.status !== 'interrupted') return `ceremony ${s.ceremonyId} is ${s.abandoned ? 'already abandoned' : s.status}; only an interrupted ceremony can be ${verb}`;
  if (s.terminalKind) return `ceremony ${s.ceremonyId} was recorded as interrupted and ended; it cannot be ${verb}`;
  return `ceremony ${s.ceremonyId} was interrupted before it joined a token's transcript chain (only its pre-genesis log exists), so there is nothing to ${verb === 'resumed' ? 'resume' : 'abandon'}`;
}

function summarize(name: string, loaded: LoadedScript): ScriptSummary {
  const { script } = loaded;
  const s: ScriptSummary = {
    name,
    kind: script.kind,
    version: script.version,
    label: script.label,
    title: script.title,
    rehearsal: script.rehearsal,
    sha256: loaded.sha256,
    parameters: Object.entries(script.parameters).map(([pname, p]) => ({ name: pname, ...p }) as ScriptParameterSummary),
    steps: script.steps.map((st) => ({ id: st.id, title: st.title, action: st.action, approvals: st.approvals })),
    roles: rolesPreview(script),
    bring: bringList(script),
  };
  if (script.description !== undefined) s.description = script.description;
  return s;
}
