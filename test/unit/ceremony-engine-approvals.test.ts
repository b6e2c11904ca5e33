// verifyApprovals over synthetic chains: the quorum rule holds, and each way of breaking it is named.
import { describe, expect, it } from 'vitest';
import { deriveApprovalKey, enrolCustodians, generateCeremonySecret, secretCheck, signApproval, splitSecret } from '../../src-main/ceremony/quorum/index.js';
import { verifyApprovals } from '../../src-main/ceremony/verify-approvals.js';
import { GENESIS_PREV, sealEntry, type Entry } from '../../src-main/transcript/entry.js';
import type { JsonObject } from '../../src-main/transcript/json-value.js';

const C = 'init-token-unit';
const secret = generateCeremonySecret();
const shares = await splitSecret(secret, ['alice', 'bob', 'carol'], 2);
const enrolment = enrolCustodians(C, 2, shares);
const key = (name: string) => deriveApprovalKey(shares.find((s) => s.custodian === name)!.share, C);

type Spec = { step: string; kind: string; actor?: string; data?: JsonObject };

/** Build a chain; `quorum-open` gets the head hash before it, approvals sign it (with `signer` if given). */
function chain(specs: (Spec & { signer?: string; custodian?: string; headHash?: string })[]): Entry[] {
  const out: Entry[] = [];
  let openHead = 'b'.repeat(64);
  for (const s of specs) {
    const prev = out.at(-1)?.hash ?? GENESIS_PREV;
    let data = s.data ?? {};
    if (s.kind === 'quorum-open') {
      openHead = s.headHash ?? prev;
      data = { headHash: openHead, threshold: 2 };
    }
    if (s.kind === 'approval') data = signApproval(key(s.signer ?? (s.custodian as string)), { ceremonyId: C, step: s.step, headHash: openHead, custodian: s.custodian as string }) as unknown as JsonObject;
    out.push(sealEntry({ seq: out.length, time: '2026-01-31T12:00:00.000Z', ceremonyId: C, step: s.step, kind: s.kind, actor: s.actor ?? s.custodian ?? 'admin', data, prev }));
  }
  return out;
}

const enrolled: Spec = { step: 'enrol', kind: 'enrolment', data: { enrolment: enrolment as unknown as JsonObject, secretCheck: secretCheck(secret, C) } };
const open = { step: 'head', kind: 'quorum-open' };
const act = { step: 'head', kind: 'intent' };
const approve = (custodian: string, signer?: string) => ({ step: 'head', kind: 'approval', custodian, ...(signer ? { signer } : {}) });

describe('verifyApprovals', () => {
  it('passes M distinct valid approvals, and counts a repeat once', () => {
    const r = verifyApprovals(chain([enrolled, open, approve('alice'), approve('alice'), approve('carol'), act]));
    expect(r.status).toBe('pass');
    expect(r.detail).toBe('3 approvals verified against the enrolled keys; 1 quorum step had 2 distinct custodians (head: alice, carol)');
    expect(r.steps[0]?.notes).toEqual(['approvals[1] (alice): alice approved more than once; counted once']);
  });

  it.each([
    ['M-1 approvals before the step acted', [enrolled, open, approve('alice'), act], 'step head of ceremony init-token-unit acted at seq 3 with 1 distinct valid approval; the threshold is 2', 3],
    ['an approval signed with another custodian\'s key', [enrolled, open, approve('alice'), approve('bob', 'carol'), act], "step head of ceremony init-token-unit: approvals[1] (bob): the signature does not verify with bob's enrolled key", 3],
    ['an approval without an opened quorum', [enrolled, approve('alice'), approve('bob'), act], 'seq 1: an approval of step head of ceremony init-token-unit, whose quorum was never opened', 1],
    ['a quorum opened on another head', [enrolled, { ...open, headHash: 'a'.repeat(64) }, approve('alice'), approve('bob'), act], `seq 1: quorum-open says headHash aaaaaaaaaaaaaaaa…, but the head when it opened was `, 1],
  ] as const)('fails %s', (_name, specs, detail, seq) => {
    const r = verifyApprovals(chain([...specs] as never));
    expect(r.status).toBe('fail');
    expect(r.detail.startsWith(detail)).toBe(true);
    expect(r.seq).toBe(seq);
  });

  it('does not require a quorum for a step that never acted (the ceremony was aborted)', () => {
    expect(verifyApprovals(chain([enrolled, open, approve('alice'), { step: 'head', kind: 'abort' }])).status).toBe('pass');
  });

  it('fails approvals with no enrolment to check them against, unless one is given', () => {
    const entries = chain([open, approve('alice'), approve('bob'), act]);
    expect(verifyApprovals(entries)).toMatchObject({ status: 'fail', detail: 'these entries hold custodian approvals but no enrolment to check them against; verify them together with the init-token bundle', seq: 0 });
    expect(verifyApprovals(entries, { enrolment }).status).toBe('pass');
  });
});
