// The ceremony state machine: runs a parsed script step by step. Every call is checked before anything
// happens (the step exists, is the current one, is not done; the confirmation word; the input against the
// action's schema), and every refusal is recorded. A step that touches the token is bracketed by an intent
// entry and a result (or failure) entry. Before genesis everything goes to the pre-genesis log, after it to
// the chain. Secrets live in RunSecrets and are wiped as soon as no step needs them, and on abort.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { z } from 'zod';
import type { ErrorData } from '../../../hsm/types.js';
import { CodedError } from '../../../hsm/errors.js';
import { AppError, toErrorData } from '../../errors.js';
import type { JsonObject } from '../../transcript/json-value.js';
import { actionImplementation } from '../actions/index.js';
import { pending } from '../actions/never-brick.js';
import { pinsMayHaveChanged, SHARES_OPEN_TOKEN_KIND, sharesOpenTokenWayOut } from '../actions/enrol-token.js';
import { describePresented, openPresentedShare, presentShareInput } from '../actions/presented-share.js';
import { enrolmentOfChain } from '../actions/quorum-login.js';
import { finishingRotation, rotatesCustodians, stoppedRotationEnrolment } from '../actions/rotate-login.js';
import { settleRotationBeforeAbort } from '../actions/rotate-abort.js';
import { explainReplacedShare } from '../actions/replaced-shares.js';
import type { Enrolment } from '../quorum/quorum.js';
import { QuorumCollector, wipe } from '../quorum/index.js';
import { ACTIONS, fillPlaceholders, resolveParameters, type LoadedScript, type ParameterValues, type ScriptStep } from '../script/index.js';
import { PRE_GENESIS_FILE, PreGenesisLog, readPreGenesisLog, type PreGenesisRecord } from './pre-genesis-log.js';
import { planResume, RESUMED_KIND, type PlanEntry, type ResumePlan } from './resume-plan.js';
import { reopenChainToken, type ReopenedToken } from './resume-token.js';
import { TranscriptStore } from '../../transcript/store.js';
import { WriterLock } from '../../transcript/writer-lock.js';
import { copyDeviceLog } from './device-log.js';
import type { SummaryRecord } from '../summary.js';
import type {
  ActionContext,
  ActionImpl,
  CeremonyStatus,
  CeremonyView,
  EngineDeps,
  PerformResult,
  RecordedRef,
  ResumeContext,
  RunSecrets,
  RunState,
  RunToken,
  StepView,
  TailEntryView,
} from './types.js';

/** Entry kinds the engine writes (besides intent, result, approval and genesis). */
export const ENGINE_KINDS = {
  start: 'ceremony-start',
  refused: 'refused',
  failure: 'failure',
  abort: 'abort',
  completed: 'completed',
  interrupted: 'interrupted',
  sharesVoid: 'shares-void',
  quorumOpen: 'quorum-open',
  approvalRepeated: 'approval-repeated',
} as const;

/** Kinds that end a ceremony: recovery treats a ceremony without one as interrupted. */
export const TERMINAL_KINDS: readonly string[] = [ENGINE_KINDS.completed, ENGINE_KINDS.abort, ENGINE_KINDS.interrupted];

export const ceremonyDirOf = (dataDir: string, ceremonyId: string) => join(dataDir, 'ceremonies', ceremonyId);
/**
 * The local, unchained note of what a ceremony did after its `completed` entry: the final transcript
 * export (folder, digests) and what follows it (logout). Same record format as the pre-genesis log.
 */
export const AFTER_COMPLETED_FILE = 'after-completed.jsonl';

/** A ceremony's after-completed note, read back (none when it never got there). */
export async function readAfterCompleted(dataDir: string, ceremonyId: string): Promise<PreGenesisRecord[]> {
  try {
    return (await readPreGenesisLog(join(ceremonyDirOf(dataDir, ceremonyId), AFTER_COMPLETED_FILE))).records;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/**
 * The index of the step before which `completed` is recorded: the script's last export-bundle step. Its
 * bundle then holds every chained entry of the ceremony, and nothing after it is chained, so a laptop that
 * imports the bundle holds exactly what this one does. -1 when the script exports no bundle.
 */
export function closingStepIndex(steps: readonly Pick<ScriptStep, 'action'>[]): number {
  return steps.map((s) => s.action).lastIndexOf('export-bundle');
}
export const preGenesisPathOf = (dataDir: string, ceremonyId: string) => join(ceremonyDirOf(dataDir, ceremonyId), PRE_GENESIS_FILE);

/** The seq of the first of the ceremony's entries that end the chain (it has just joined it). */
function firstSeqOf(store: TranscriptStore, ceremonyId: string): number | undefined {
  const head = store.head();
  if (!head) return undefined;
  let seq = head.seq;
  while (seq > 0 && store.entryAt(seq - 1)?.ceremonyId === ceremonyId) seq -= 1;
  return store.entryAt(seq)?.ceremonyId === ceremonyId ? seq : undefined;
}

export function newCeremonyId(kind: string, now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
  return `${kind}-${stamp}-${randomBytes(3).toString('hex')}`;
}

/** The first problem of a zod error, naming the input field; never echoes a value. */
export function inputProblem(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'input is invalid';
  const path = issue.path.map(String).join('.');
  const where = path === '' ? 'input' : `input.${path}`;
  if (issue.code === 'unrecognized_keys') return `${where} has unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
  if (issue.code === 'invalid_type' && (issue as { input?: unknown }).input === undefined && path !== '') return `${where} is missing`;
  return `${where}: ${issue.message}`;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

export interface StartOptions {
  loaded: LoadedScript;
  /** The script's name (file name without .yaml). */
  scriptName: string;
  parameters: Readonly<Record<string, unknown>>;
  rehearsal?: boolean;
  /** For tests; normally generated. */
  ceremonyId?: string;
}

export interface ResumeOptions {
  loaded: LoadedScript;
  scriptName: string;
  ceremonyId: string;
  /** The ceremony's pre-genesis log records; the first is its ceremony-start. */
  records: readonly PreGenesisRecord[];
  /** The chain it joined (chains/<enrolment id>/). */
  chainDir: string;
  /** Why the room resumes, for the `resumed` entry. */
  reason: string;
}

/** In-memory state a resumed run takes from the records of steps it does not redo. */
function restoreFromRecords(state: RunState, steps: readonly ScriptStep[], plan: ResumePlan, all: readonly PlanEntry[]): void {
  const resultOf = (id: string) => [...all].reverse().find((e) => e.step === id && e.kind === 'result')?.data;
  for (const step of steps) {
    const p = plan.steps.find((x) => x.id === step.id);
    if (p?.state !== 'done') continue;
    const r = resultOf(step.id) as Record<string, unknown> | undefined;
    if (!r) continue;
    if (step.action === 'record-participants' && typeof r.administrator === 'string' && Array.isArray(r.witnesses)) {
      state.participants = { administrator: r.administrator, witnesses: r.witnesses.map(String) };
    }
    if (step.action === 'export-wrapped-key' && typeof r.path === 'string') {
      const manifest = (r.files as { name?: unknown; sha256?: unknown }[] | undefined)?.find((f) => f.name === 'import-manifest.json');
      state.outputs.push({ kind: 'kms-import', path: r.path, sha256: typeof manifest?.sha256 === 'string' ? manifest.sha256 : '' });
    }
    if (step.action === 'export-bundle' && typeof r.path === 'string') state.outputs.push({ kind: 'bundle', path: r.path, sha256: typeof r.manifestSha256 === 'string' ? r.manifestSha256 : '' });
  }
}

export class CeremonyRun {
  status: CeremonyStatus = 'running';
  lastError: ErrorData | undefined;
  private index = 0;
  private readonly done = new Set<string>();
  private failedStep: string | undefined;
  private store: TranscriptStore | undefined;
  private finalTail: TailEntryView[] | undefined;
  private readonly preTail: TailEntryView[] = [];
  readonly secrets: RunSecrets = {};
  readonly token: RunToken = {};
  readonly state: RunState = { issued: new Map(), outputs: [] };
  private resumedFrom: ResumeContext | undefined;
  /** seq of this ceremony's first entry in its token's chain, once it has joined one. */
  private chainFrom: number | undefined;
  /** What records() answers once the chain is released (a finished ceremony). */
  private finalRecords: SummaryRecord[] | undefined;
  /** Once `completed` is chained (before the final export), every later record goes to this local note. */
  private afterCompleted: PreGenesisLog | undefined;
  /**
   * The writer lock of the ceremony's own folder (ceremonies/<id>/), held while it runs: another process
   * (the app, the CLI) sees it running, not interrupted, even before it has a chain (init-token).
   */
  private ceremonyLock: WriterLock | undefined;

  private constructor(
    readonly ceremonyId: string,
    readonly loaded: LoadedScript,
    readonly scriptName: string,
    readonly parameters: ParameterValues,
    readonly rehearsal: boolean,
    readonly deps: EngineDeps,
    private readonly log: PreGenesisLog,
  ) {}

  /** Check the script and the parameters, create the pre-genesis log and record the start. Nothing touches a token. */
  static async start(deps: EngineDeps, options: StartOptions): Promise<CeremonyRun> {
    const { loaded } = options;
    const { script } = loaded;
    for (const [i, step] of script.steps.entries()) {
      if (!actionImplementation(step.action)) {
        throw new AppError('ceremony-action-missing', `${loaded.source}: steps[${i}] (${step.id}): action '${step.action}' is not implemented by this version`, 'Use a script for a ceremony this version can run.');
      }
    }
    for (const step of script.steps) {
      const problem = actionImplementation(step.action)?.checkParameters?.(options.parameters);
      if (problem) throw new AppError('script-parameter', `parameters.${problem}`, 'Correct the value and start the ceremony again. Nothing was recorded and no token was touched.');
    }
    const parameters = resolveParameters(script, options.parameters);
    const rehearsal = script.rehearsal || options.rehearsal === true;
    const clock = deps.clock ?? (() => new Date());
    const ceremonyId = options.ceremonyId ?? newCeremonyId(script.kind, clock());
    const log = await PreGenesisLog.create(preGenesisPathOf(deps.dataDir, ceremonyId), clock);
    const run = new CeremonyRun(ceremonyId, loaded, options.scriptName, parameters, rehearsal, deps, log);
    run.ceremonyLock = await WriterLock.acquire(ceremonyDirOf(deps.dataDir, ceremonyId));
    await run.write('start', ENGINE_KINDS.start, {
      script: { name: options.scriptName, kind: script.kind, version: script.version, title: script.title, sha256: loaded.sha256, source: loaded.source },
      parameters: parameters as JsonObject,
      rehearsal,
      appVersion: deps.appVersion,
      chain: ceremonyId,
    });
    return run;
  }

  /**
   * Continue an interrupted ceremony that had joined its token's chain: same ceremony id, parameters and
   * rehearsal flag as its ceremony-start record; a new session on the token the chain's genesis names; a
   * `resumed` entry with the plan (resume-plan.ts); then the first step that is not done is current.
   * Throws, recording nothing, when the token is not connected.
   */
  static async resume(deps: EngineDeps, options: ResumeOptions): Promise<CeremonyRun> {
    const { loaded, ceremonyId } = options;
    const { script } = loaded;
    const start = options.records[0];
    const startData = (start?.data ?? {}) as { parameters?: Record<string, unknown>; rehearsal?: unknown };
    const parameters = resolveParameters(script, startData.parameters ?? {});
    const rehearsal = startData.rehearsal === true;
    const clock = deps.clock ?? (() => new Date());
    const { store } = await TranscriptStore.open(options.chainDir, deps.clock ? { clock: deps.clock } : {});
    let log: PreGenesisLog | undefined;
    let reopened: ReopenedToken | undefined;
    let lock: WriterLock | undefined;
    try {
      lock = await WriterLock.acquire(ceremonyDirOf(deps.dataDir, ceremonyId));
      const genesisToken = (store.entryAt(0)?.data as { token?: { serial?: unknown; label?: unknown } } | undefined)?.token;
      if (typeof genesisToken?.serial !== 'string' || typeof genesisToken.label !== 'string') {
        throw new AppError('ceremony-resume-chain', `the chain ${options.chainDir} has no genesis entry naming its token`, 'Abandon this ceremony; the transcript store is damaged.');
      }
      const head = store.head();
      const chainEntries = head ? store.entries(0, head.seq).filter((e) => e.ceremonyId === ceremonyId) : [];
      const all: PlanEntry[] = [...options.records, ...chainEntries].map((e) => ({ step: e.step, kind: e.kind, data: e.data }));
      const plan = planResume(script.steps, all);
      const tokenStep = script.steps.find((s) => s.action === 'select-token');
      const tokenResult = all.find((e) => e.step === tokenStep?.id && e.kind === 'result')?.data as { moduleId?: unknown } | undefined;
      const auditKeySpki = (store.entryAt(0)?.data as { auditKey?: { spki?: unknown } } | undefined)?.auditKey?.spki;
      const named = { serial: genesisToken.serial.trim(), label: genesisToken.label.trim(), ...(typeof auditKeySpki === 'string' ? { auditKeySpki } : {}) };
      reopened = await reopenChainToken(deps.layer, named, typeof tokenResult?.moduleId === 'string' ? tokenResult.moduleId : undefined);
      log = await PreGenesisLog.reopen(preGenesisPathOf(deps.dataDir, ceremonyId), clock);
      const run = new CeremonyRun(ceremonyId, loaded, options.scriptName, parameters, rehearsal, deps, log);
      run.ceremonyLock = lock;
      run.store = store;
      run.chainFrom = chainEntries[0]?.seq ?? firstSeqOf(store, ceremonyId);
      run.token.slot = reopened.slot;
      run.token.info = reopened.info;
      run.token.session = reopened.session;
      // A rotate-custodians stopped inside its PIN step: only its own new shares may open the token now.
      const stoppedRotation = rotatesCustodians(script) ? stoppedRotationEnrolment(all) : undefined;
      const recorded = stoppedRotation ?? (head ? enrolmentOfChain(store) : undefined);
      if (stoppedRotation) finishingRotation.add(run.state);
      if (recorded) {
        run.state.enrolment = recorded.enrolment;
        run.state.secretCheck = recorded.secretCheck;
      }
      restoreFromRecords(run.state, script.steps, plan, all);
      for (const p of plan.steps) if (p.state === 'done') run.done.add(p.id);
      run.index = plan.currentStepId === null ? script.steps.length : script.steps.findIndex((s) => s.id === plan.currentStepId);
      run.resumedFrom = {
        attempt: plan.attempt,
        entriesOf: (stepId) => all.filter((e) => e.step === stepId).map((e) => ({ kind: e.kind, data: e.data })),
      };
      const last = chainEntries.at(-1);
      await run.write('resume', RESUMED_KIND, {
        attempt: plan.attempt,
        reason: options.reason,
        lastRecord: last ? { seq: last.seq, step: last.step, kind: last.kind, hash: last.hash } : null,
        steps: plan.steps.map((p) => ({ id: p.id, state: p.state, why: p.why })),
        currentStep: plan.currentStepId,
        token: { moduleId: reopened.slot.moduleId, slotId: reopened.slot.slotId, serial: reopened.info.serial.trim(), label: reopened.info.label.trim() },
        appVersion: deps.appVersion,
      });
      const current = run.currentStep;
      if (current && run.index === closingStepIndex(script.steps)) await run.recordCompleted();
      if (!current) await run.finish();
      else if (current.approvals === 'quorum') await run.openQuorum(current);
      return run;
    } catch (error) {
      if (reopened) await deps.layer.closeSession(reopened.session).catch(() => undefined);
      await log?.close();
      await store.close();
      await lock?.release();
      throw error;
    }
  }

  get steps(): readonly ScriptStep[] {
    return this.loaded.script.steps;
  }

  get currentStep(): ScriptStep | undefined {
    return this.status === 'running' ? this.steps[this.index] : undefined;
  }

  get administrator(): string {
    return this.state.participants?.administrator ?? 'administrator';
  }

  chain(): TranscriptStore | undefined {
    return this.store;
  }

  /** Record an entry: to the chain once it exists, to the pre-genesis log before. */
  async write(step: string, kind: string, data: JsonObject, actor: string = this.administrator): Promise<RecordedRef> {
    if (this.finalTail) throw new AppError('ceremony-finished', `ceremony ${this.ceremonyId} is ${this.status}; its transcript is closed`, 'Start a new ceremony.');
    let ref: RecordedRef;
    if (this.afterCompleted) {
      const r = await this.afterCompleted.append({ ceremonyId: this.ceremonyId, step, kind, actor, data });
      ref = { time: r.time, step, kind, actor, hash: r.hash };
    } else if (this.store) {
      const e = await this.store.append({ ceremonyId: this.ceremonyId, step, kind, actor, data });
      ref = { seq: e.seq, time: e.time, step, kind, actor, hash: e.hash };
    } else {
      const r = await this.log.append({ ceremonyId: this.ceremonyId, step, kind, actor, data });
      ref = { time: r.time, step, kind, actor, hash: r.hash };
      this.preTail.push(ref);
    }
    await this.deps.onRecorded?.(ref);
    return ref;
  }

  /**
   * Everything this ceremony has recorded, its pre-genesis log then its own chain entries, from memory (the
   * open store holds them): what the sign-off summary is made of, without re-reading the journal.
   */
  records(): SummaryRecord[] {
    if (this.finalRecords) return this.finalRecords;
    const pre: SummaryRecord[] = this.log.all().map((r) => ({ time: r.time, step: r.step, kind: r.kind, actor: r.actor, data: r.data, hash: r.hash }));
    const head = this.store?.head();
    if (!this.store || !head || this.chainFrom === undefined) return pre;
    const mine = this.store.entries(this.chainFrom, head.seq).filter((e) => e.ceremonyId === this.ceremonyId);
    const after: SummaryRecord[] = (this.afterCompleted?.all() ?? []).map((r) => ({ time: r.time, step: r.step, kind: r.kind, actor: r.actor, data: r.data, hash: r.hash }));
    return [...pre, ...mine.map((e) => ({ seq: e.seq, time: e.time, step: e.step, kind: e.kind, actor: e.actor, data: e.data, hash: e.hash })), ...after];
  }

  /** Record a refusal and throw it. */
  private async refuse(step: string, code: string, message: string, remedy: string, extra: JsonObject = {}): Promise<never> {
    const error = new AppError(code, message, remedy);
    this.lastError = error.toData();
    try {
      await this.write(step, ENGINE_KINDS.refused, { ...extra, error: error.toData() as unknown as JsonObject });
    } catch {
      // The refusal stands even if it could not be recorded (the recorder itself failed).
    }
    throw error;
  }

  private context(step: ScriptStep): ActionContext {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const run = this;
    return {
      ceremonyId: this.ceremonyId,
      loaded: this.loaded,
      scriptName: this.scriptName,
      parameters: this.parameters,
      rehearsal: this.rehearsal,
      step,
      deps: this.deps,
      secrets: this.secrets,
      token: this.token,
      state: this.state,
      get administrator() {
        return run.administrator;
      },
      record: (kind, data, actor) => run.write(step.id, kind, data, actor),
      chain: () => run.store,
      startChain: (store) => {
        run.store = store;
        run.chainFrom = firstSeqOf(store, run.ceremonyId);
        void run.log.close();
      },
      preGenesisRecords: async () => ({ records: this.log.all() as unknown as JsonObject[], sha256: await this.log.sha256(), file: PRE_GENESIS_FILE }),
      ...(this.resumedFrom ? { resumed: this.resumedFrom } : {}),
    };
  }

  /** Run (part of) a step. Refused, and recorded, unless it is the current step with valid input. */
  async perform(stepId: string, input: unknown): Promise<PerformResult['reveal']> {
    const current = this.currentStep;
    const at = current?.id ?? 'end';
    const requested = typeof stepId === 'string' ? stepId.slice(0, 128) : String(stepId);
    if (this.status !== 'running') {
      return this.refuse(at, 'ceremony-not-running', `ceremony ${this.ceremonyId} is ${this.status}; no step can run`, 'Start a new ceremony.', { requestedStep: requested });
    }
    const idx = this.steps.findIndex((s) => s.id === stepId);
    if (idx < 0) {
      return this.refuse(at, 'ceremony-unknown-step', `step '${requested}' is not a step of ${this.loaded.script.kind} (its steps: ${this.steps.map((s) => s.id).join(', ')})`, 'Run the step shown on screen.', {
        requestedStep: requested,
      });
    }
    const step = this.steps[idx] as ScriptStep;
    if (this.done.has(step.id)) {
      return this.refuse(at, 'ceremony-step-repeated', `step '${step.id}' is already done; a step runs once`, `Go on with step '${at}'.`, { requestedStep: step.id });
    }
    if (idx !== this.index) {
      return this.refuse(at, 'ceremony-out-of-order', `step '${step.id}' cannot run yet: the current step is '${at}'`, 'Steps run in the order of the script.', { requestedStep: step.id });
    }
    const impl = actionImplementation(step.action) as ActionImpl<unknown>;
    if (!isPlainObject(input)) return this.refuse(step.id, 'ceremony-input', `step '${step.id}': input must be a JSON object`, 'Fix the caller.', { action: step.action });
    const body: Record<string, unknown> = { ...input };
    if (step.confirm) {
      const word = body.confirm;
      delete body.confirm;
      if (word === undefined || word === '') {
        return this.refuse(step.id, 'ceremony-confirm', `step '${step.id}': type ${step.confirm.word} to confirm`, this.fill(step.confirm.prompt), { action: step.action });
      }
      if (word !== step.confirm.word) {
        return this.refuse(step.id, 'ceremony-confirm', `step '${step.id}': the confirmation word does not match; type ${step.confirm.word} exactly`, this.fill(step.confirm.prompt), { action: step.action });
      }
    }
    if (step.approvals === 'quorum') return this.performQuorum(step, impl, body);
    const parsed = impl.input.safeParse(body, { reportInput: true });
    if (!parsed.success) return this.refuse(step.id, 'ceremony-input', `step '${step.id}': ${inputProblem(parsed.error)}`, 'Correct the input and run the step again.', { action: step.action });
    return this.act(step, impl, parsed.data);
  }

  private async act(step: ScriptStep, impl: ActionImpl<unknown>, input: unknown, extra: JsonObject = {}): Promise<PerformResult['reveal']> {
    const spec = ACTIONS[step.action];
    const described = impl.describe?.(input) ?? {};
    const ctx = this.context(step);
    let outcome;
    try {
      const planned = (await impl.intent?.(ctx, input)) ?? {};
      if (spec.touchesToken) await this.write(step.id, 'intent', { action: step.action, input: described, ...extra, ...planned });
      outcome = await impl.perform(ctx, input);
      await this.deps.onActionDone?.(step.id, step.action);
    } catch (error) {
      const data = toErrorData(error);
      this.lastError = data;
      this.failedStep = step.id;
      await this.write(step.id, ENGINE_KINDS.failure, { action: step.action, input: described, error: data as unknown as JsonObject }).catch(() => undefined);
      if (step.approvals === 'quorum') await this.reopenQuorum(step);
      if (error instanceof CodedError) throw error;
      throw new AppError(data.code, data.message, data.remedy);
    }
    this.lastError = undefined;
    this.failedStep = undefined;
    if (outcome.data !== undefined) await this.write(step.id, 'result', { action: step.action, ...outcome.data });
    // The device's own audit log since the last copy (YubiHSM 2), for cross-checking: device-log.ts.
    if (spec.touchesToken) await copyDeviceLog({ layer: this.deps.layer, session: this.token.session, key: this.token, chain: this.store, record: (kind, data) => this.write(step.id, kind, data) });
    if (outcome.done) await this.advance(step);
    return outcome.reveal;
  }

  private async performQuorum(step: ScriptStep, impl: ActionImpl<unknown>, body: Record<string, unknown>): Promise<PerformResult['reveal']> {
    const parsed = presentShareInput.safeParse(body, { reportInput: true });
    if (!parsed.success) return this.refuse(step.id, 'ceremony-input', `step '${step.id}': ${inputProblem(parsed.error)}`, 'Present a share file (with its passphrase) or type a share code.', { action: step.action });
    if (!this.state.quorum || this.state.quorum.step !== step.id) await this.openQuorum(step);
    const q = this.state.quorum;
    if (!q) throw new AppError('ceremony-state', `step '${step.id}': the quorum could not open`, 'Abort the ceremony.');
    const presented = describePresented(parsed.data);
    let share: Uint8Array | undefined;
    try {
      share = await openPresentedShare(parsed.data, this.enrolmentId()).then(
        (o) => o.share,
        (error: unknown) => {
          const head = this.store?.head();
          throw explainReplacedShare(error, this.store && head ? this.store.entries(0, head.seq) : [], this.state.enrolment as Enrolment);
        },
      );
      const { approval, result } = q.collector.approveWithShare(share);
      if (result.status === 'duplicate') {
        await this.write(step.id, ENGINE_KINDS.approvalRepeated, { custodian: result.custodian, message: result.message }, result.custodian);
      } else {
        await this.write(step.id, 'approval', approval as unknown as JsonObject, result.custodian);
        if (impl.needsShares) {
          q.shares.push(share);
          share = undefined;
        }
      }
    } catch (error) {
      const data = toErrorData(error);
      this.lastError = data;
      await this.write(step.id, ENGINE_KINDS.refused, { action: step.action, presented, error: data as unknown as JsonObject }).catch(() => undefined);
      throw error;
    } finally {
      wipe(share);
    }
    this.lastError = undefined;
    if (!q.collector.isSatisfied()) return undefined;
    q.collector.assertSatisfied();
    return this.act(step, impl, impl.input.parse({}), { approvers: q.collector.approvers(), headHash: q.headHash });
  }

  private enrolmentId(): string {
    const e = this.state.enrolment;
    if (!e) throw new AppError('ceremony-no-enrolment', 'no custodians are enrolled', 'Enrol the custodians first.');
    return e.ceremonyId;
  }

  private async openQuorum(step: ScriptStep): Promise<void> {
    const store = this.store;
    if (!store) throw new AppError('ceremony-no-chain', `step '${step.id}': a quorum step needs the transcript chain, which does not exist yet`, 'Put quorum steps after write-genesis in the script.');
    if (!this.state.enrolment) {
      const head = store.head();
      const recorded = head ? enrolmentOfChain(store) : undefined;
      if (!recorded) throw new AppError('ceremony-no-enrolment', `step '${step.id}': the transcript holds no enrolment`, 'This token was not initialized by init-token.');
      this.state.enrolment = recorded.enrolment;
      this.state.secretCheck = recorded.secretCheck;
    }
    const enrolment = this.state.enrolment;
    const headHash = (store.head() as { hash: string }).hash;
    const collector = new QuorumCollector(enrolment, { ceremonyId: this.ceremonyId, step: step.id, headHash });
    await this.write(step.id, ENGINE_KINDS.quorumOpen, { headHash, threshold: enrolment.threshold, enrolmentCeremonyId: enrolment.ceremonyId, enrolled: enrolment.custodians.map((c) => c.name) });
    this.state.quorum = { step: step.id, headHash, collector, shares: [] };
  }

  /**
   * A quorum step whose action failed has spent its approvals (they signed a head the failure moved on from)
   * and its shares (the action wiped them): a retry needs M custodians again, so a new quorum opens now.
   */
  private async reopenQuorum(step: ScriptStep): Promise<void> {
    if (this.state.quorum?.step === step.id) wipe(...this.state.quorum.shares);
    this.state.quorum = undefined;
    await this.openQuorum(step).catch(() => undefined);
  }

  private async advance(step: ScriptStep): Promise<void> {
    this.done.add(step.id);
    if (this.state.quorum?.step === step.id) {
      wipe(...this.state.quorum.shares);
      this.state.quorum.shares = [];
    }
    this.index += 1;
    // A resumed run passes over the steps the interrupted attempt finished (resume-plan.ts).
    while (this.steps[this.index] && this.done.has((this.steps[this.index] as ScriptStep).id)) this.index += 1;
    const next = this.steps[this.index];
    if (!next) return this.finish();
    if (this.index === closingStepIndex(this.steps) && this.store) await this.recordCompleted();
    if (next.approvals === 'quorum' && this.store) await this.openQuorum(next);
  }

  /**
   * Chain `completed` (with the outputs the sign-off names) before the final transcript export, so that
   * bundle holds every chained entry of the ceremony; from here on, records go to the local note
   * (AFTER_COMPLETED_FILE), which no other laptop needs to agree with.
   */
  private async recordCompleted(): Promise<void> {
    const closing = this.steps.slice(closingStepIndex(this.steps)).map((s) => s.id);
    await this.write('end', ENGINE_KINDS.completed, { steps: this.steps.map((s) => s.id), outputs: this.state.outputs as unknown as JsonObject[], afterCompleted: { steps: closing, note: AFTER_COMPLETED_FILE } });
    this.afterCompleted = await PreGenesisLog.create(join(ceremonyDirOf(this.deps.dataDir, this.ceremonyId), AFTER_COMPLETED_FILE), this.deps.clock);
  }

  private async finish(): Promise<void> {
    if (!this.afterCompleted) await this.write('end', ENGINE_KINDS.completed, { steps: this.steps.map((s) => s.id), outputs: this.state.outputs as unknown as JsonObject[] });
    this.status = 'completed';
    await this.cleanup();
    await this.releaseChain();
  }

  /** Abort: recorded with the reason (and shares already handed out voided), the token session closed, secrets wiped. */
  async abort(reason: string): Promise<void> {
    if (this.status !== 'running') throw new AppError('ceremony-not-running', `ceremony ${this.ceremonyId} is ${this.status}; it cannot be aborted`, 'Nothing to do.');
    const at = this.currentStep?.id ?? 'end';
    // A rotation aborted inside its PIN window: the token is asked first and its answer recorded (or the abort
    // refused in words while the ceremony still runs), so the chain names the custodians who open the token.
    if (rotatesCustodians(this.loaded.script) && this.store && !this.afterCompleted) {
      const head = this.store.head();
      const own = head ? this.store.entries(0, head.seq).filter((e) => e.ceremonyId === this.ceremonyId) : [];
      await settleRotationBeforeAbort({ ceremonyId: this.ceremonyId, own, layer: this.deps.layer, slot: this.token.slot, info: this.token.info, secret: this.secrets.secret, write: (kind, data) => this.write(at, kind, data) });
    }
    try {
      await this.write(at, ENGINE_KINDS.abort, { reason, step: at });
      const issued = [...this.state.issued.keys()];
      // After `completed` the shares are those of a finished ceremony: an aborted final export voids nothing.
      if (this.afterCompleted) {
        // nothing to void or hand back
      } else if (pinsMayHaveChanged(this.records())) {
        // enrol-token past its PIN change: the shares are the way into the token, not void.
        await this.write(at, SHARES_OPEN_TOKEN_KIND, { custodians: issued, wayOut: sharesOpenTokenWayOut(this.loaded.script.kind) });
      } else if (issued.length > 0) await this.write(at, ENGINE_KINDS.sharesVoid, { custodians: issued, reason: 'the ceremony was aborted' });
    } finally {
      // After `completed` was chained the chain says completed; the abort (say, of a failed final export) is in the note.
      this.status = this.afterCompleted ? 'completed' : 'aborted';
      await this.cleanup();
      await this.releaseChain();
    }
  }

  /**
   * A finished ceremony lets go of its token's chain at once, so the next ceremony on the same token opens
   * the only writer of that journal. Its view keeps the last entries it saw.
   */
  private async releaseChain(): Promise<void> {
    const store = this.store;
    if (!store) return;
    this.finalRecords = this.records();
    this.finalTail = store.tail(20).map((e) => ({ seq: e.seq, time: e.time, step: e.step, kind: e.kind, actor: e.actor, hash: e.hash }));
    this.store = undefined;
    await store.close();
    await this.afterCompleted?.close();
    await this.ceremonyLock?.release();
  }

  /** Wipe every secret and leave the token logged out with no session open. */
  async cleanup(): Promise<void> {
    wipe(this.secrets.secret, ...(this.secrets.shares ?? []).map((s) => s.share), ...(this.state.quorum?.shares ?? []), this.secrets.currentPins?.user, this.secrets.currentPins?.so);
    this.secrets.secret = undefined;
    this.secrets.currentPins = undefined;
    this.secrets.shares = undefined;
    this.secrets.pins = undefined;
    if (this.state.quorum) this.state.quorum.shares = [];
    const { layer } = this.deps;
    const session = this.token.session;
    if (session) {
      if (this.token.loggedIn) await layer.logout(session).catch(() => undefined);
      await layer.closeSession(session).catch(() => undefined);
    }
    this.token.session = undefined;
    this.token.loggedIn = undefined;
    this.token.signer = undefined;
  }

  /** Close the log and the chain (the service owns their lifetime). */
  async dispose(): Promise<void> {
    await this.log.close();
    await this.afterCompleted?.close();
    await this.ceremonyLock?.release();
    await this.store?.close();
  }

  private fill(text: string): string {
    return fillPlaceholders(text, { ...this.parameters, ceremonyId: this.ceremonyId });
  }

  view(): CeremonyView {
    const { script } = this.loaded;
    const current = this.currentStep;
    const steps: StepView[] = this.steps.map((s, i) => {
      const status: StepView['status'] = this.done.has(s.id) ? 'done' : current && i === this.index ? (this.failedStep === s.id ? 'failed' : 'current') : 'pending';
      const v: StepView = { id: s.id, title: this.fill(s.title), instructions: this.fill(s.instructions), action: s.action, approvals: s.approvals, status };
      if (s.confirm) v.confirm = { prompt: this.fill(s.confirm.prompt), word: s.confirm.word };
      return v;
    });
    const tail: TailEntryView[] = this.finalTail
      ? this.finalTail.map((e) => ({ ...e }))
      : this.store
      ? this.store.tail(20).map((e) => ({ seq: e.seq, time: e.time, step: e.step, kind: e.kind, actor: e.actor, hash: e.hash }))
      : this.preTail.slice(-20).map((e) => ({ ...e }));
    const view: CeremonyView = {
      ceremonyId: this.ceremonyId,
      script: { name: this.scriptName, kind: script.kind, version: script.version, title: this.fill(script.title), sha256: this.loaded.sha256, rehearsal: this.rehearsal },
      status: this.status,
      steps,
      currentStepId: current?.id ?? null,
      tail,
      outputs: this.state.outputs.map((o) => ({ ...o })),
    };
    const q = this.state.quorum;
    if (current && q && q.step === current.id) {
      view.quorum = { threshold: q.collector.threshold, enrolled: (this.state.enrolment?.custodians ?? []).map((c) => c.name), approved: q.collector.approvers(), remaining: q.collector.remaining() };
    }
    if (current?.action === 'distribute-shares') view.pendingCustodians = pending(this);
    if (this.lastError) view.lastError = { ...this.lastError };
    return view;
  }
}
