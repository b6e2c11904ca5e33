import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createPublicKey, verify } from 'node:crypto';
import { generateCeremonySecret, splitSecret } from '../../src-main/ceremony/quorum/secret.js';
import {
  approvalMessage,
  approvalPublicKey,
  approvalPublicKeyPem,
  deriveApprovalKey,
  signApproval,
  verifyApproval,
  type Approval,
} from '../../src-main/ceremony/quorum/approval.js';
import { checkQuorum, enrolCustodians, identifyShare, QuorumCollector, type StepContext } from '../../src-main/ceremony/quorum/quorum.js';

const CER = 'init-1';
const secret = generateCeremonySecret();
const shares = await splitSecret(secret, ['alice', 'bob', 'carol'], 2);
const enrolment = enrolCustodians(CER, 2, shares);
const keys = shares.map((s) => deriveApprovalKey(s.share, CER));
const HEAD = 'ab'.repeat(32);
const ctx: StepContext = { ceremonyId: 'kms-7', step: 'quorum-login', headHash: HEAD };
const approve = (i: number, c: StepContext = ctx) => signApproval(keys[i]!, { ...c, custodian: shares[i]!.custodian });

describe('approval keys and signatures', () => {
  it('derives a stable key per share and ceremony', () => {
    expect(deriveApprovalKey(shares[0]!.share, CER).publicKey).toBe(keys[0]!.publicKey);
    expect(deriveApprovalKey(shares[0]!.share, 'other').publicKey).not.toBe(keys[0]!.publicKey);
    expect(new Set(keys.map((k) => k.publicKey)).size).toBe(3);
    expect(Buffer.from(keys[0]!.publicKey, 'base64')).toHaveLength(32);
    const pem = approvalPublicKeyPem(keys[0]!.publicKey);
    expect(pem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    expect(createPublicKey(pem).asymmetricKeyType).toBe('ed25519');
  });

  it('signs the JCS canonical JSON of the five fields, checkable with plain node:crypto', () => {
    const a = approve(0);
    expect(approvalMessage(a).toString()).toBe(`{"ceremonyId":"kms-7","custodian":"alice","headHash":"${HEAD}","step":"quorum-login","type":"approval"}`);
    expect(verify(null, approvalMessage(a), createPublicKey(approvalPublicKeyPem(keys[0]!.publicKey)), Buffer.from(a.signature, 'base64'))).toBe(true);
    expect(verifyApproval(a, keys[0]!.publicKey)).toBe(true);
    expect(verifyApproval(a, approvalPublicKey(keys[0]!.publicKey).export({ format: 'der', type: 'spki' }).subarray(12))).toBe(true);
  });

  it('fails when any field changes, or with another custodian\'s key', () => {
    const a = approve(1);
    fc.assert(
      fc.property(
        fc.constantFrom('ceremonyId', 'step', 'headHash', 'custodian'),
        fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/),
        (field, value) => {
          const v = field === 'headHash' ? Buffer.from(value).toString('hex').padEnd(64, '0').slice(0, 64) : value;
          fc.pre(v !== a[field]);
          expect(verifyApproval({ ...a, [field]: v }, keys[1]!.publicKey)).toBe(false);
        },
      ),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 63 }), fc.integer({ min: 1, max: 255 }), (byte, flip) => {
        const sig = Buffer.from(a.signature, 'base64');
        sig[byte]! ^= flip;
        expect(verifyApproval({ ...a, signature: sig.toString('base64') }, keys[1]!.publicKey)).toBe(false);
      }),
    );
    expect(verifyApproval(a, keys[0]!.publicKey)).toBe(false);
    expect(verifyApproval(a, keys[2]!.publicKey)).toBe(false);
    expect(verifyApproval({ ...a, type: 'approve' } as unknown as Approval, keys[1]!.publicKey)).toBe(false);
  });

  it('refuses to sign malformed fields', () => {
    expect(() => signApproval(keys[0]!, { ...ctx, headHash: 'AB'.repeat(32), custodian: 'alice' })).toThrow(
      'approval headHash: must be 64 lowercase hexadecimal digits (a SHA-256)',
    );
  });
});

describe('quorum collector', () => {
  it('needs M distinct custodians; the same custodian twice counts once', () => {
    const q = new QuorumCollector(enrolment, ctx);
    expect(q.missing()).toEqual(['alice', 'bob', 'carol']);
    expect(() => q.assertSatisfied()).toThrow('quorum not reached for step quorum-login: 0 of 2 approvals');
    expect(q.add(approve(0))).toEqual({ status: 'accepted', custodian: 'alice', message: 'alice approved (1 of 2)', remaining: 1 });
    expect(q.add(approve(0))).toEqual({ status: 'duplicate', custodian: 'alice', message: 'alice has already approved this step; an approval counts once', remaining: 1 });
    expect(q.isSatisfied()).toBe(false);
    let error: unknown;
    try {
      q.assertSatisfied();
    } catch (e) {
      error = e;
    }
    expect((error as Error).message).toBe('quorum not reached for step quorum-login: 1 of 2 approvals');
    expect((error as { remedy: string }).remedy).toBe('1 more custodian must approve (bob or carol).');
    expect(q.add(approve(2)).message).toBe('carol approved (2 of 2)');
    expect(q.isSatisfied()).toBe(true);
    expect(q.missing()).toEqual(['bob']);
    expect(q.approvers()).toEqual(['alice', 'carol']);
    expect(() => q.assertSatisfied()).not.toThrow();
  });

  it('approves with a share and identifies it by key', () => {
    const q = new QuorumCollector(enrolment, ctx);
    const { approval, result } = q.approveWithShare(shares[1]!.share);
    expect(result.status).toBe('accepted');
    expect(approval.custodian).toBe('bob');
    expect(identifyShare(enrolment, shares[2]!.share).name).toBe('carol');
  });

  it('refuses unenrolled custodians, bad signatures, other steps or heads, and foreign shares', async () => {
    const q = new QuorumCollector(enrolment, ctx);
    const mallory = signApproval(keys[0]!, { ...ctx, custodian: 'mallory' });
    expect(() => q.add(mallory)).toThrow("approval by 'mallory': not a custodian enrolled in ceremony init-1 (enrolled: alice, bob, carol)");
    const forged = signApproval(keys[0]!, { ...ctx, custodian: 'bob' });
    expect(() => q.add(forged)).toThrow("approval by 'bob': the signature does not verify with bob's enrolled key");
    expect(() => q.add(approve(0, { ...ctx, step: 'export-bundle' }))).toThrow(
      'approval by \'alice\': it approves step "export-bundle", not the current "quorum-login"',
    );
    expect(() => q.add(approve(0, { ...ctx, headHash: 'cd'.repeat(32) }))).toThrow("approval by 'alice': it approves headHash");
    const other = await splitSecret(generateCeremonySecret(), ['alice', 'bob'], 2);
    expect(() => q.approveWithShare(other[0]!.share)).toThrow('share: it does not belong to any custodian enrolled in ceremony init-1');
    expect(q.approvers()).toEqual([]);
  });

  it('refuses an enrolment where one key counts twice', () => {
    const twice = { ...enrolment, custodians: [enrolment.custodians[0]!, { ...enrolment.custodians[1]!, publicKey: enrolment.custodians[0]!.publicKey }] };
    expect(() => new QuorumCollector(twice, ctx)).toThrow('custodians[1].publicKey: the same key is enrolled twice');
  });
});

describe('quorum checker (verifier)', () => {
  it('holds with M distinct valid approvals, noting a repeat', () => {
    expect(checkQuorum(enrolment, ctx, [approve(0), approve(1)])).toEqual({ held: true, threshold: 2, approvers: ['alice', 'bob'], problems: [], notes: [] });
    expect(checkQuorum(enrolment, ctx, [approve(0), approve(0), approve(2)])).toMatchObject({
      held: true,
      approvers: ['alice', 'carol'],
      notes: ['approvals[1] (alice): alice approved more than once; counted once'],
    });
  });

  const cases: [string, unknown[], string[]][] = [
    ['M-1 approvals', [approve(0)], ['step quorum-login: 1 distinct valid approval; the threshold is 2']],
    ['the same custodian twice', [approve(1), approve(1)], ['step quorum-login: 1 distinct valid approval; the threshold is 2']],
    ['an approval removed', [], ['step quorum-login: 0 distinct valid approvals; the threshold is 2']],
    [
      'a forged approval',
      [approve(0), signApproval(keys[0]!, { ...ctx, custodian: 'carol' })],
      ["approvals[1] (carol): the signature does not verify with carol's enrolled key", 'step quorum-login: 1 distinct valid approval; the threshold is 2'],
    ],
    [
      'an approval of another head',
      [approve(0), approve(1, { ...ctx, headHash: '00'.repeat(32) }), approve(2)],
      [`approvals[1] (bob): approves headHash "${'00'.repeat(32)}", expected "${HEAD}"`],
    ],
    ['junk', [null, { custodian: 'x' }], ['approvals[0]: not an approval record', 'approvals[1] (x): not an approval record', 'step quorum-login: 0 distinct valid approvals; the threshold is 2']],
  ];
  it.each(cases)('does not hold with %s', (_n, approvals, problems) => {
    const r = checkQuorum(enrolment, ctx, approvals);
    expect(r.held).toBe(false);
    expect(r.problems).toEqual(problems);
  });
});
