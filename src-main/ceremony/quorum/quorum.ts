// M-of-N for one quorum step: the collector the engine fills while custodians present their shares, and
// the pure checker the verifier runs over what the transcript recorded. Both apply one rule: at least M
// approvals, by M distinct enrolled custodians, each a valid signature over this ceremony, this step and
// this transcript head.
import { AppError } from '../../errors.js';
import { approvalFieldsProblem, deriveApprovalKey, signApproval, verifyApproval, type Approval, type ApprovalFields } from './approval.js';
import { checkQuorumShape } from './custodians.js';
import type { CustodianShare } from './secret.js';

export interface EnrolledCustodian {
  name: string;
  /** 1-based position, as in the share code. */
  index: number;
  /** Raw 32-byte Ed25519 public key, base64. */
  publicKey: string;
}

/** What init-token enrols in the transcript; every later quorum is checked against it. */
export interface Enrolment {
  /** The init-token ceremony: the id shares are bound to and keys derived with. */
  ceremonyId: string;
  threshold: number;
  custodians: EnrolledCustodian[];
}

/** The state a step's approvals must all sign: one head hash per step, taken when its quorum opens. */
export type StepContext = Omit<ApprovalFields, 'custodian'>;

/** Build the enrolment from freshly split shares (derives each custodian's approval public key). */
export function enrolCustodians(ceremonyId: string, threshold: number, shares: readonly CustodianShare[]): Enrolment {
  const enrolment: Enrolment = {
    ceremonyId,
    threshold,
    custodians: shares.map((s) => ({ name: s.custodian, index: s.index, publicKey: deriveApprovalKey(s.share, ceremonyId).publicKey })),
  };
  checkEnrolment(enrolment);
  return enrolment;
}

/** Refuse an enrolment that could let one person count twice (a repeated name, index or key). */
export function checkEnrolment(e: Enrolment): void {
  checkQuorumShape(
    e.custodians.map((c) => c.name),
    e.threshold,
  );
  const keys = new Set<string>();
  const indexes = new Set<number>();
  e.custodians.forEach((c, i) => {
    if (typeof c.publicKey !== 'string' || Buffer.from(c.publicKey, 'base64').length !== 32) {
      throw new AppError('quorum-enrolment', `custodians[${i}].publicKey: expected the base64 of a 32-byte Ed25519 key`, 'Use the enrolment recorded at init-token.');
    }
    if (keys.has(c.publicKey)) throw new AppError('quorum-enrolment', `custodians[${i}].publicKey: the same key is enrolled twice`, 'Every custodian needs their own share; re-run init-token.');
    if (indexes.has(c.index)) throw new AppError('quorum-enrolment', `custodians[${i}].index: ${c.index} is enrolled twice`, 'Use the enrolment recorded at init-token.');
    keys.add(c.publicKey);
    indexes.add(c.index);
  });
}

/**
 * Which enrolled custodian a share belongs to, by its derived approval key. A share that decodes but matches
 * no enrolled key (a share of a voided attempt, a damaged share whose checks happened to pass) is refused here,
 * before it is ever combined.
 */
export function identifyShare(enrolment: Enrolment, share: Uint8Array): EnrolledCustodian {
  const { publicKey } = deriveApprovalKey(share, enrolment.ceremonyId);
  const match = enrolment.custodians.find((c) => c.publicKey === publicKey);
  if (!match) {
    throw new AppError(
      'quorum-unknown-share',
      `share: it does not belong to any custodian enrolled in ceremony ${enrolment.ceremonyId}`,
      'Check that this share was handed out by the init-token ceremony of this token, and not by an earlier, interrupted attempt.',
    );
  }
  return match;
}

export interface AddResult {
  status: 'accepted' | 'duplicate';
  custodian: string;
  /** A sentence for the room: "bob approved (2 of 2)" or "alice has already approved ...". */
  message: string;
  /** Approvals still needed. */
  remaining: number;
}

const names = (list: readonly string[]) => (list.length <= 1 ? list.join('') : `${list.slice(0, -1).join(', ')} or ${list[list.length - 1]}`);

/** Collects the approvals of one quorum step. Refuses anything that would not count; counts a custodian once. */
export class QuorumCollector {
  readonly #enrolment: Enrolment;
  readonly #context: StepContext;
  readonly #accepted = new Map<string, Approval>();

  constructor(enrolment: Enrolment, context: StepContext) {
    checkEnrolment(enrolment);
    const problem = approvalFieldsProblem({ ...context, custodian: 'x' });
    if (problem) throw new AppError('quorum-context', `step context ${problem}`, 'Open the quorum with the current ceremony, step and transcript head.');
    this.#enrolment = enrolment;
    this.#context = { ceremonyId: context.ceremonyId, step: context.step, headHash: context.headHash };
  }

  get threshold(): number {
    return this.#enrolment.threshold;
  }

  get context(): StepContext {
    return { ...this.#context };
  }

  /** Add a signed approval. Throws (AppError) for an unenrolled custodian, another step or head, or a bad signature. */
  add(approval: Approval): AddResult {
    const who = typeof approval?.custodian === 'string' ? approval.custodian : '?';
    const enrolled = this.#enrolment.custodians.find((c) => c.name === who);
    if (!enrolled) {
      throw new AppError(
        'quorum-not-enrolled',
        `approval by '${who}': not a custodian enrolled in ceremony ${this.#enrolment.ceremonyId} (enrolled: ${this.#enrolment.custodians.map((c) => c.name).join(', ')})`,
        'Only enrolled custodians can approve; ask one of them.',
      );
    }
    for (const field of ['ceremonyId', 'step', 'headHash'] as const) {
      if (approval[field] !== this.#context[field]) {
        throw new AppError(
          'quorum-wrong-context',
          `approval by '${who}': it approves ${field} ${JSON.stringify(approval[field])}, not the current ${JSON.stringify(this.#context[field])}`,
          'Approve the step now shown on screen; approvals cannot be carried over from another step or transcript state.',
        );
      }
    }
    if (!verifyApproval(approval, enrolled.publicKey)) {
      throw new AppError('quorum-bad-signature', `approval by '${who}': the signature does not verify with ${who}'s enrolled key`, `${who} presents their share again; if this repeats, the share is not the one enrolled.`);
    }
    if (this.#accepted.has(who)) {
      return { status: 'duplicate', custodian: who, message: `${who} has already approved this step; an approval counts once`, remaining: this.remaining() };
    }
    this.#accepted.set(who, approval);
    return { status: 'accepted', custodian: who, message: `${who} approved (${this.#accepted.size} of ${this.threshold})`, remaining: this.remaining() };
  }

  /** Present a share: find its custodian by key, sign the approval and add it. The caller wipes the share. */
  approveWithShare(share: Uint8Array): { approval: Approval; result: AddResult } {
    const custodian = identifyShare(this.#enrolment, share);
    const approval = signApproval(deriveApprovalKey(share, this.#enrolment.ceremonyId), { ...this.#context, custodian: custodian.name });
    return { approval, result: this.add(approval) };
  }

  isSatisfied(): boolean {
    return this.#accepted.size >= this.threshold;
  }

  remaining(): number {
    return Math.max(0, this.threshold - this.#accepted.size);
  }

  /** Enrolled custodians who have not approved yet, in enrolment order. */
  missing(): string[] {
    return this.#enrolment.custodians.map((c) => c.name).filter((n) => !this.#accepted.has(n));
  }

  approvers(): string[] {
    return [...this.#accepted.keys()];
  }

  /** The accepted approvals, one per custodian, in the order they came: what the transcript records. */
  approvals(): Approval[] {
    return [...this.#accepted.values()];
  }

  /** Throw unless M distinct custodians approved: call this right before the step acts. */
  assertSatisfied(): void {
    if (this.isSatisfied()) return;
    const r = this.remaining();
    throw new AppError(
      'quorum-not-reached',
      `quorum not reached for step ${this.#context.step}: ${this.#accepted.size} of ${this.threshold} approvals`,
      `${r} more custodian${r === 1 ? '' : 's'} must approve (${names(this.missing())}).`,
    );
  }
}

export interface QuorumCheck {
  /** M distinct enrolled custodians gave valid approvals of this step at this head, and nothing recorded is invalid. */
  held: boolean;
  threshold: number;
  /** Custodians whose valid approval counted, in record order. */
  approvers: string[];
  /** Why the rule did not hold, or what is wrong in the record; each names the approval by position. */
  problems: string[];
  /** Harmless remarks (a repeated approval that counted once). */
  notes: string[];
}

/**
 * The verifier's check of one quorum step: given the enrolment, the step's context (ceremony, step, the head
 * hash its approvals had to sign) and the approvals recorded, did the M-of-N rule hold? Pure: no I/O, no
 * state. Any invalid approval in the record is a problem even when enough valid ones remain, because the
 * engine never records an approval it refused.
 */
export function checkQuorum(enrolment: Enrolment, context: StepContext, approvals: readonly unknown[]): QuorumCheck {
  const problems: string[] = [];
  const notes: string[] = [];
  const approvers: string[] = [];
  try {
    checkEnrolment(enrolment);
  } catch (e) {
    return { held: false, threshold: enrolment.threshold, approvers, problems: [`enrolment: ${(e as Error).message}`], notes };
  }
  approvals.forEach((value, i) => {
    const a = value as Approval;
    const who = a !== null && typeof a === 'object' && typeof a.custodian === 'string' ? a.custodian : undefined;
    const label = `approvals[${i}]${who === undefined ? '' : ` (${who})`}`;
    if (who === undefined || a.type !== 'approval') {
      problems.push(`${label}: not an approval record`);
      return;
    }
    const enrolled = enrolment.custodians.find((c) => c.name === who);
    if (!enrolled) {
      problems.push(`${label}: ${who} is not an enrolled custodian`);
      return;
    }
    for (const field of ['ceremonyId', 'step', 'headHash'] as const) {
      if (a[field] !== context[field]) {
        problems.push(`${label}: approves ${field} ${JSON.stringify(a[field])}, expected ${JSON.stringify(context[field])}`);
        return;
      }
    }
    if (!verifyApproval(a, enrolled.publicKey)) {
      problems.push(`${label}: the signature does not verify with ${who}'s enrolled key`);
      return;
    }
    if (approvers.includes(who)) {
      notes.push(`${label}: ${who} approved more than once; counted once`);
      return;
    }
    approvers.push(who);
  });
  if (approvers.length < enrolment.threshold) {
    problems.push(`step ${context.step}: ${approvers.length} distinct valid approval${approvers.length === 1 ? '' : 's'}; the threshold is ${enrolment.threshold}`);
  }
  return { held: problems.length === 0, threshold: enrolment.threshold, approvers, problems, notes };
}
