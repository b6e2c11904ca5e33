// verifyApprovals on resumed ceremonies (synthetic chains): a quorum may open a second time only after a
// `resumed` entry of the same ceremony, and each opening is held to the rule on its own, so an approval of
// the interrupted attempt does not count towards the resumed one.
import { describe, expect, it } from 'vitest';
import { deriveApprovalKey, enrolCustodians, generateCeremonySecret, secretCheck, signApproval, splitSecret } from '../../src-main/ceremony/quorum/index.js';
import { verifyApprovals } from '../../src-main/ceremony/verify-approvals.js';
import { GENESIS_PREV, sealEntry, type Entry } from '../../src-main/transcript/entry.js';
import type { JsonObject } from '../../src-main/transcript/json-value.js';

const ENROLMENT = 'init-token-unit';
const C = 'kms-import-unit';
const secret = generateCeremonySecret();
const shares = await splitSecret(secret, ['alice', 'bob', 'carol'], 2);
const enrolment = enrolCustodians(ENROLMENT, 2, shares);
const key = (name: string) => deriveApprovalKey(shares.find((s) => s.custodian === name)!.share, ENROLMENT);

type Spec = { step: string; kind: string; ceremonyId?: string; custodian?: string; data?: JsonObject; /** Sign the head of this earlier opening (0-based) instead of the latest. */ signOpening?: number };

function chain(specs: Spec[]): Entry[] {
  const out: Entry[] = [];
  const heads: string[] = [];
  for (const s of specs) {
    const prev = out.at(-1)?.hash ?? GENESIS_PREV;
    let data = s.data ?? {};
    if (s.kind === 'quorum-open') {
      heads.push(prev);
      data = { headHash: prev, threshold: 2 };
    }
    if (s.kind === 'approval') {
      const headHash = heads[s.signOpening ?? heads.length - 1] as string;
      data = signApproval(key(s.custodian as string), { ceremonyId: C, step: s.step, headHash, custodian: s.custodian as string }) as unknown as JsonObject;
    }
    const ceremonyId = s.ceremonyId ?? (s.step === 'enrol' ? ENROLMENT : C);
    out.push(sealEntry({ seq: out.length, time: '2026-01-31T12:00:00.000Z', ceremonyId, step: s.step, kind: s.kind, actor: s.custodian ?? 'admin', data, prev }));
  }
  return out;
}

const enrolled: Spec = { step: 'enrol', kind: 'enrolment', data: { enrolment: enrolment as unknown as JsonObject, secretCheck: secretCheck(secret, ENROLMENT) } };
const open: Spec = { step: 'login', kind: 'quorum-open' };
const act: Spec = { step: 'login', kind: 'intent' };
const resumed: Spec = { step: 'resume', kind: 'resumed', data: { attempt: 1 } };
const approve = (custodian: string, signOpening?: number): Spec => ({ step: 'login', kind: 'approval', custodian, ...(signOpening === undefined ? {} : { signOpening }) });

describe('verifyApprovals on a resumed ceremony', () => {
  it('accepts a quorum opened again after the resumed entry, each opening checked on its own', () => {
    const r = verifyApprovals(chain([enrolled, open, approve('alice'), approve('bob'), act, resumed, open, approve('bob'), approve('carol'), act]));
    expect(r.status).toBe('pass');
    expect(r.steps.map((s) => ({ openedAt: s.openedAt, approvers: s.approvers, acted: s.acted }))).toEqual([
      { openedAt: 1, approvers: ['alice', 'bob'], acted: true },
      { openedAt: 6, approvers: ['bob', 'carol'], acted: true },
    ]);
  });

  it('accepts an interrupted quorum that never acted, followed by the resumed one', () => {
    expect(verifyApprovals(chain([enrolled, open, approve('alice'), resumed, open, approve('bob'), approve('carol'), act])).status).toBe('pass');
  });

  it('accepts a quorum opened again after its step failed (the failed attempt spent the approvals)', () => {
    const failed: Spec = { step: 'login', kind: 'failure', data: { error: { code: 'CKR_FUNCTION_FAILED' } } };
    const r = verifyApprovals(chain([enrolled, open, approve('alice'), approve('bob'), act, failed, open, approve('bob'), approve('carol'), act]));
    expect(r.status, r.detail).toBe('pass');
    expect(r.steps.map((s) => s.openedAt)).toEqual([1, 6]);
  });

  it.each([
    [
      'a second opening after a failure of another step',
      [enrolled, open, approve('alice'), { step: 'generate', kind: 'failure' }, open, approve('bob'), approve('carol'), act],
      'seq 4: the quorum of step login of ceremony kms-import-unit was opened twice',
      4,
    ],
    ['a second opening with no resumed entry', [enrolled, open, approve('alice'), open, approve('bob'), approve('carol'), act], 'seq 3: the quorum of step login of ceremony kms-import-unit was opened twice', 3],
    [
      'a resumed entry of another ceremony',
      [enrolled, open, approve('alice'), { ...resumed, ceremonyId: 'kms-import-other' }, open, approve('bob'), approve('carol'), act],
      'seq 4: the quorum of step login of ceremony kms-import-unit was opened twice',
      4,
    ],
    [
      'the resumed quorum acting with one new approval and one of the interrupted attempt',
      [enrolled, open, approve('alice'), resumed, open, approve('bob'), act],
      'step login of ceremony kms-import-unit acted at seq 6 with 1 distinct valid approval; the threshold is 2',
      6,
    ],
    [
      'an approval of the interrupted attempt copied after the resumed opening',
      [enrolled, open, approve('alice'), resumed, open, approve('alice', 0), approve('bob'), act],
      'step login of ceremony kms-import-unit: approvals[0] (alice)',
      5,
    ],
  ] as const)('fails %s', (_name, specs, detail, seq) => {
    const r = verifyApprovals(chain([...specs] as Spec[]));
    expect(r.status).toBe('fail');
    expect(r.detail.startsWith(detail), r.detail).toBe(true);
    expect(r.seq).toBe(seq);
  });
});
