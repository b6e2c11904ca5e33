// The verifier's check of custodian approvals (issue 4): pure, over a chain's entries. Every `approval`
// entry must belong to a quorum that was opened (`quorum-open`, whose headHash must be the hash of the entry
// before it), its signature must verify with the custodian's enrolled key, and every quorum step that went on
// to act (an intent or result entry of that step after the quorum opened) must have had M distinct valid
// approvals of that ceremony, step and head (checkQuorum). The enrolment comes from the `enrolment` entry
// among the entries, or from the caller (a later ceremony verified without its init-token bundle).
import type { Entry } from '../transcript/entry.js';
import { checkQuorum, type Enrolment } from './quorum/index.js';
import { enrolmentFromEntries } from './actions/quorum-login.js';
import { enrolmentInForce } from './actions/enrolment-in-force.js';

export type ApprovalCheckStatus = 'pass' | 'fail' | 'skipped';

export interface ApprovalStepReport {
  ceremonyId: string;
  step: string;
  headHash: string;
  /** seq of the quorum-open entry. */
  openedAt: number;
  approvers: string[];
  held: boolean;
  /** The step acted after its quorum opened (so the quorum had to hold). */
  acted: boolean;
  problems: string[];
  notes: string[];
}

export interface ApprovalsReport {
  status: ApprovalCheckStatus;
  /** One sentence: what passed, or the first problem. */
  detail: string;
  /** The first entry at fault, when there is one. */
  seq?: number;
  steps: ApprovalStepReport[];
}

export interface VerifyApprovalsOptions {
  /** The enrolment, when the entries do not include the init-token ceremony's `enrolment` entry. */
  enrolment?: Enrolment;
}

const key = (ceremonyId: string, step: string) => `${ceremonyId}\u0000${step}`;

export function verifyApprovals(entries: readonly Entry[], options: VerifyApprovalsOptions = {}): ApprovalsReport {
  const approvals = entries.filter((e) => e.kind === 'approval');
  const opens = entries.filter((e) => e.kind === 'quorum-open');
  if (approvals.length === 0 && opens.length === 0) return { status: 'skipped', detail: 'no quorum steps and no custodian approvals in these entries', steps: [] };
  // The enrolment each quorum is checked against is the one in force when it opened (a rotate-custodians
  // replaces it from its PIN change on); the last one in these entries names the threshold in the summary.
  const base = options.enrolment ? { enrolment: options.enrolment, secretCheck: '' } : undefined;
  const inForceAt = (seq: number) => enrolmentInForce(entries, seq, base)?.enrolment;
  const enrolment = enrolmentInForce(entries, Number.POSITIVE_INFINITY, base)?.enrolment ?? enrolmentFromEntries(entries)?.enrolment;
  if (!enrolment) {
    const first = opens[0] ?? approvals[0];
    const r: ApprovalsReport = { status: 'fail', detail: 'these entries hold custodian approvals but no enrolment to check them against; verify them together with the init-token bundle', steps: [] };
    if (first) r.seq = first.seq;
    return r;
  }
  const fail = (detail: string, seq: number, steps: ApprovalStepReport[]): ApprovalsReport => ({ status: 'fail', detail, seq, steps });
  // A rotate-custodians resumed after it stopped inside its PIN step (its rotate-pins intent recorded before
  // this quorum opened) opens its quorum to its own enrolment: only its new shares may open the token then,
  // and the token is the judge (their PIN is refused if the change never acted).
  const ownStoppedRotation = (o: Entry) => {
    if ((o.data as { enrolmentCeremonyId?: unknown }).enrolmentCeremonyId !== o.ceremonyId) return undefined;
    if (!entries.some((e) => e.ceremonyId === o.ceremonyId && e.seq < o.seq && e.kind === 'intent' && (e.data as { action?: unknown }).action === 'rotate-pins')) return undefined;
    return enrolmentFromEntries(entries.filter((e) => e.ceremonyId === o.ceremonyId && e.seq < o.seq))?.enrolment;
  };
  const steps: ApprovalStepReport[] = [];
  const bySeq = new Map(entries.map((e) => [e.seq, e]));
  const openFor = new Map<string, Entry>();
  // A quorum opens once per step, except that it opens again at the current head after a resumed entry of
  // that ceremony (the login did not survive the interruption) or after its step failed (the approvals were
  // spent on the failed attempt).
  const reopenedBy = (e: Entry, o: Entry) => (e.kind === 'resumed' && e.ceremonyId === o.ceremonyId) || (e.kind === 'failure' && e.ceremonyId === o.ceremonyId && e.step === o.step);
  const nextOpen = new Map<number, number>();
  for (const o of opens) {
    const k = key(o.ceremonyId, o.step);
    const earlier = openFor.get(k);
    if (earlier) {
      if (!entries.some((e) => e.seq > earlier.seq && e.seq < o.seq && reopenedBy(e, o))) {
        return fail(`seq ${o.seq}: the quorum of step ${o.step} of ceremony ${o.ceremonyId} was opened twice`, o.seq, steps);
      }
      nextOpen.set(earlier.seq, o.seq);
    }
    const headHash = (o.data as { headHash?: unknown }).headHash;
    if (typeof headHash !== 'string') return fail(`seq ${o.seq}: quorum-open has no headHash`, o.seq, steps);
    const before = bySeq.get(o.seq - 1);
    if (o.prev !== headHash || (before && before.hash !== headHash)) return fail(`seq ${o.seq}: quorum-open says headHash ${headHash.slice(0, 16)}…, but the head when it opened was ${o.prev.slice(0, 16)}…`, o.seq, steps);
    openFor.set(k, o);
  }
  // The opening an entry belongs to: the last one of its ceremony and step before it.
  const openOf = (e: Entry): Entry | undefined => opens.filter((o) => o.ceremonyId === e.ceremonyId && o.step === e.step && o.seq < e.seq).at(-1);
  for (const a of approvals) {
    if (!openFor.has(key(a.ceremonyId, a.step))) return fail(`seq ${a.seq}: an approval of step ${a.step} of ceremony ${a.ceremonyId}, whose quorum was never opened`, a.seq, steps);
    const o = openOf(a);
    if (!o) return fail(`seq ${a.seq}: an approval recorded before its quorum opened (seq ${(openFor.get(key(a.ceremonyId, a.step)) as Entry).seq})`, a.seq, steps);
    const who = (a.data as { custodian?: unknown }).custodian;
    if (a.actor !== who) return fail(`seq ${a.seq}: the approval's actor '${a.actor}' is not its custodian '${String(who)}'`, a.seq, steps);
  }
  for (const o of opens) {
    const headHash = (o.data as { headHash: string }).headHash;
    const until = nextOpen.get(o.seq) ?? Infinity;
    const within = (e: Entry) => e.seq > o.seq && e.seq < until && e.ceremonyId === o.ceremonyId && e.step === o.step;
    const mine = approvals.filter(within);
    const acted = entries.some((e) => within(e) && (e.kind === 'intent' || e.kind === 'result'));
    const atOpen = ownStoppedRotation(o) ?? inForceAt(o.seq);
    if (!atOpen) return fail(`seq ${o.seq}: the quorum of step ${o.step} of ceremony ${o.ceremonyId} opened before any enrolment in these entries; verify them together with the init-token bundle`, o.seq, steps);
    const check = checkQuorum(atOpen, { ceremonyId: o.ceremonyId, step: o.step, headHash }, mine.map((a) => a.data));
    const report: ApprovalStepReport = { ceremonyId: o.ceremonyId, step: o.step, headHash, openedAt: o.seq, approvers: check.approvers, held: check.held, acted, problems: check.problems, notes: check.notes };
    steps.push(report);
    // An invalid approval is always a failure; too few approvals only when the step went on to act.
    const enrolmentProblem = check.problems.find((p) => p.startsWith('enrolment:'));
    if (enrolmentProblem) return fail(`the enrolment is not acceptable: ${enrolmentProblem}`, o.seq, steps);
    const invalid = check.problems.filter((p) => p.startsWith('approvals['));
    if (invalid.length > 0) {
      const m = /^approvals\[(\d+)\]/.exec(invalid[0] as string);
      const at = mine[Number(m?.[1] ?? 0)]?.seq ?? o.seq;
      return fail(`step ${o.step} of ceremony ${o.ceremonyId}: ${invalid[0]}`, at, steps);
    }
    if (acted && !check.held) {
      const firstAct = entries.find((e) => within(e) && (e.kind === 'intent' || e.kind === 'result')) as Entry;
      return fail(`step ${o.step} of ceremony ${o.ceremonyId} acted at seq ${firstAct.seq} with ${check.approvers.length} distinct valid approval${check.approvers.length === 1 ? '' : 's'}; the threshold is ${atOpen.threshold}`, firstAct.seq, steps);
    }
  }
  const held = steps.filter((s) => s.acted);
  return {
    status: 'pass',
    detail: `${approvals.length} approval${approvals.length === 1 ? '' : 's'} verified against the enrolled keys; ${held.length} quorum step${held.length === 1 ? '' : 's'} had ${enrolment.threshold} distinct custodians (${held.map((s) => `${s.step}: ${s.approvers.join(', ')}`).join('; ') || 'none acted'})`,
    steps,
  };
}

/** The same check in the shape of the transcript verifier's checkApprovals: [status, detail, seq?]. */
export function checkApprovalEntries(entries: Entry[], options: VerifyApprovalsOptions = {}): [ApprovalCheckStatus, string, number?] {
  const r = verifyApprovals(entries, options);
  return r.seq === undefined ? [r.status, r.detail] : [r.status, r.detail, r.seq];
}
