// A share of an enrolment the chain replaced (or of a rotation that never came into force) is refused in words
// that say what became of it; any other error passes through unchanged.
import { describe, expect, it } from 'vitest';
import { explainReplacedShare } from '../../src-main/ceremony/actions/replaced-shares.js';
import type { Enrolment } from '../../src-main/ceremony/quorum/quorum.js';
import { checkShareFileCeremony, ShareOtherCeremonyError } from '../../src-main/ceremony/quorum/share-file.js';

const enrolment = (ceremonyId: string, names: string[]): Enrolment => ({ ceremonyId, threshold: 2, custodians: names.map((name, i) => ({ name, index: i + 1, publicKey: '' })) as Enrolment['custodians'] });
const entry = (seq: number, ceremonyId: string, e: Enrolment) => ({ seq, ceremonyId, kind: 'enrolment', data: { enrolment: e, secretCheck: 'x' } as never });
const init = enrolment('init-1', ['alice', 'bob', 'carol']);
const rot = enrolment('rotate-2', ['dave', 'fay', 'gus']);
const stopped = enrolment('rotate-3', ['hal', 'ida']);
const chain = [entry(3, 'init-1', init), entry(20, 'rotate-2', rot), entry(40, 'rotate-3', stopped)];

function refusal(shareCeremony: string, custodian: string): ShareOtherCeremonyError {
  try {
    checkShareFileCeremony({ ceremonyId: shareCeremony, custodian } as never, 'rotate-2');
  } catch (error) {
    return error as ShareOtherCeremonyError;
  }
  throw new Error('checkShareFileCeremony accepted a share of another ceremony');
}

describe('explainReplacedShare', () => {
  it('an old custodian after a rotation: names the rotation and who opens the token now', () => {
    const e = explainReplacedShare(refusal('init-1', 'alice'), chain, rot) as Error & { code: string };
    expect(e.code).toBe('share-other-ceremony');
    expect(e.message).toBe("alice's share file is from ceremony init-1, whose custodians were replaced by ceremony rotate-2: the token refuses their shares and opens now only with 2 of dave, fay, gus");
  });

  it('a custodian of a rotation that never came into force', () => {
    const e = explainReplacedShare(refusal('rotate-3', 'hal'), chain, rot) as Error;
    expect(e.message).toBe("hal's share file is from ceremony rotate-3, a rotation that never came into force (it stopped before the token's PINs changed): the token opens with the shares of ceremony rotate-2, 2 of dave, fay, gus");
  });

  it("a share of a ceremony this chain does not know, or any other error, is left as it is", () => {
    const foreign = refusal('elsewhere-9', 'zoe');
    expect(explainReplacedShare(foreign, chain, rot)).toBe(foreign);
    const other = new Error('disk');
    expect(explainReplacedShare(other, chain, rot)).toBe(other);
  });
});
