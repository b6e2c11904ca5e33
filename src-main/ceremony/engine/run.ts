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
import type { TranscriptStore } from '../../transcript/store.js';
import { actionImplementation } from '../actions/index.js';
import { pending } from '../actions/init-token.js';
import { describePresented, openPresentedShare, presentShareInput } from '../actions/presented-share.js';
import { enrolmentFromEntries } from '../actions/quorum-login.js';
import { QuorumCollector, wipe } from '../quorum/index.js';
import { ACTIONS, fillPlaceholders, resolveParameters, type LoadedScript, type ParameterValues, type ScriptStep } from '../script/index.js';
import { PRE_GENESIS_FILE, PreGenesisLog } from './pre-genesis-log.js';
import type {
  ActionContext,
  ActionImpl,
  CeremonyStatus,
  CeremonyView,
  EngineDeps,
  PerformResult,
  RecordedRef,
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
export const preGenesisPathOf = (dataDir: string, ceremonyId: string) => join(ceremonyDirOf(dataDir, ceremonyId), PRE_GENESIS_FILE);

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
    const parameters = resolveParameters(script, options.parameters);
    const rehearsal = script.rehearsal || options.rehearsal === true;
    const clock = deps.clock ?? (() => new Date());
    const ceremonyId = options.ceremonyId ?? newCeremonyId(script.kind, clock());
    const log = await PreGenesisLog.create(preGenesisPathOf(deps.dataDir, ceremonyId), clock);
    const run = new CeremonyRun(ceremonyId, loaded, options.scriptName, parameters, rehearsal, deps, log);
    await run.write('start', ENGINE_KINDS.start, {
      script: { name: options.scriptName, kind: script.kind, version: script.version, title: script.title, sha256: loaded.sha256, source: loaded.source },
      parameters: parameters as JsonObject,
      rehearsal,
      appVersion: deps.appVersion,
      chain: ceremonyId,
    });
    return run;
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
    if (this.store) {
      const e = await this.store.append({ ceremonyId: this.ceremonyId, step, kind, actor, data });
      return { seq: e.seq, time: e.time, step, kind, actor, hash: e.hash };
    }
    const r = await this.log.append({ ceremonyId: this.ceremonyId, step, kind, actor, data });
    const ref = { time: r.time, step, kind, actor, hash: r.hash };
    this.preTail.push(ref);
    return ref;
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
        void run.log.close();
      },
      preGenesisRecords: async () => ({ records: this.log.all() as unknown as JsonObject[], sha256: await this.log.sha256(), file: PRE_GENESIS_FILE }),
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
    if (spec.touchesToken) await this.write(step.id, 'intent', { action: step.action, input: described, ...extra });
    let outcome;
    try {
      outcome = await impl.perform(this.context(step), input);
    } catch (error) {
      const data = toErrorData(error);
      this.lastError = data;
      this.failedStep = step.id;
      await this.write(step.id, ENGINE_KINDS.failure, { action: step.action, input: described, error: data as unknown as JsonObject }).catch(() => undefined);
      if (error instanceof CodedError) throw error;
      throw new AppError(data.code, data.message, data.remedy);
    }
    this.lastError = undefined;
    this.failedStep = undefined;
    if (outcome.data !== undefined) await this.write(step.id, 'result', { action: step.action, ...outcome.data });
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
      share = (await openPresentedShare(parsed.data, this.enrolmentId())).share;
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
      const recorded = head ? enrolmentFromEntries(store.entries(0, head.seq)) : undefined;
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

  private async advance(step: ScriptStep): Promise<void> {
    this.done.add(step.id);
    if (this.state.quorum?.step === step.id) {
      wipe(...this.state.quorum.shares);
      this.state.quorum.shares = [];
    }
    this.index += 1;
    const next = this.steps[this.index];
    if (!next) {
      await this.write('end', ENGINE_KINDS.completed, { steps: this.steps.map((s) => s.id), outputs: this.state.outputs as unknown as JsonObject[] });
      this.status = 'completed';
      await this.cleanup();
      await this.releaseChain();
      return;
    }
    if (next.approvals === 'quorum' && this.store) await this.openQuorum(next);
  }

  /** Abort: recorded with the reason (and shares already handed out voided), the token session closed, secrets wiped. */
  async abort(reason: string): Promise<void> {
    if (this.status !== 'running') throw new AppError('ceremony-not-running', `ceremony ${this.ceremonyId} is ${this.status}; it cannot be aborted`, 'Nothing to do.');
    const at = this.currentStep?.id ?? 'end';
    try {
      await this.write(at, ENGINE_KINDS.abort, { reason, step: at });
      const issued = [...this.state.issued.keys()];
      if (issued.length > 0) await this.write(at, ENGINE_KINDS.sharesVoid, { custodians: issued, reason: 'the ceremony was aborted' });
    } finally {
      this.status = 'aborted';
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
    this.finalTail = store.tail(20).map((e) => ({ seq: e.seq, time: e.time, step: e.step, kind: e.kind, actor: e.actor, hash: e.hash }));
    this.store = undefined;
    await store.close();
  }

  /** Wipe every secret and leave the token logged out with no session open. */
  async cleanup(): Promise<void> {
    wipe(this.secrets.secret, ...(this.secrets.shares ?? []).map((s) => s.share), ...(this.state.quorum?.shares ?? []));
    this.secrets.secret = undefined;
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
