// The quorum pieces wired together as the engine will use them, without a token: init-token hands out
// shares, a later ceremony collects M approvals from share files and typed codes, rebuilds S, derives the PIN.
import { describe, expect, it } from 'vitest';
import {
  checkQuorum,
  combineShares,
  decodeShareCode,
  derivePins,
  encodeShareCode,
  enrolCustodians,
  generateCeremonySecret,
  isWiped,
  openShareFile,
  QuorumCollector,
  secretCheck,
  secretMatchesCheck,
  splitSecret,
  wipe,
  writeShareFileBytes,
} from '../../src-main/ceremony/quorum/index.js';

const FAST = { N: 2 ** 10, r: 8, p: 1 };
const INIT = 'init-2026-01-31-a';

describe('quorum flow', () => {
  it('init-token, then a later ceremony logs in with 2 of 3', async () => {
    // init-token
    const S = generateCeremonySecret();
    const pins = derivePins(S, INIT, { minPinLength: 4, maxPinLength: 255 });
    const check = secretCheck(S, INIT);
    const shares = await splitSecret(S, ['alice', 'bob', 'carol'], 2);
    const enrolment = enrolCustodians(INIT, 2, shares);
    const files = await Promise.all(
      shares.map((s) => writeShareFileBytes({ ceremonyId: INIT, custodian: s.custodian, index: s.index, threshold: 2, share: s.share }, { passphrase: `${s.custodian} passphrase!`, scrypt: FAST })),
    );
    const bobCode = encodeShareCode({ ceremonyId: INIT, index: 2, threshold: 2, share: shares[1]!.share });
    wipe(S, ...shares.map((s) => s.share));
    expect(isWiped(shares[0]!.share)).toBe(true);

    // kms-import: alice brings her file, bob types his code (twice), the step opens at one head hash
    const ctx = { ceremonyId: 'kms-2026-02-01', step: 'login', headHash: '5a'.repeat(32) };
    const q = new QuorumCollector(enrolment, ctx);
    const presented: Uint8Array[] = [];
    const alice = await openShareFile(files[0]!, 'alice passphrase!', { ceremonyId: INIT });
    presented.push(alice.share);
    expect(q.approveWithShare(alice.share).result.status).toBe('accepted');
    expect(() => q.assertSatisfied()).toThrow('1 of 2 approvals');
    const bob = decodeShareCode(bobCode.toLowerCase(), { ceremonyId: INIT });
    presented.push(bob.share);
    expect(q.approveWithShare(bob.share).result.message).toBe('bob approved (2 of 2)');
    expect(q.approveWithShare(decodeShareCode(bobCode).share).result.status).toBe('duplicate');
    q.assertSatisfied();

    const rebuilt = await combineShares(presented, enrolment.threshold);
    expect(secretMatchesCheck(rebuilt, INIT, check)).toBe(true);
    expect(derivePins(rebuilt, INIT, { minPinLength: 4, maxPinLength: 255 })).toEqual(pins);
    wipe(rebuilt, ...presented);

    // the verifier, later, from the records alone
    expect(checkQuorum(enrolment, ctx, q.approvals())).toMatchObject({ held: true, approvers: ['alice', 'bob'] });
    expect(checkQuorum(enrolment, ctx, q.approvals().slice(1)).held).toBe(false);
  });
});
