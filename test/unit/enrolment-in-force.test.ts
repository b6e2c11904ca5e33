// The enrolment in force at a point of a chain (enrolment-in-force.ts): the first ceremony's, replaced by a
// rotation's from its user pin-changed entry on, never by a rotation that stopped before it; with a base (a
// chain held elsewhere), every enrolment among the entries is a later ceremony's.
import { describe, expect, it } from 'vitest';
import { enrolmentInForce } from '../../src-main/ceremony/actions/enrolment-in-force.js';

let seq = 0;
const e = (ceremonyId: string, kind: string, data: Record<string, unknown> = {}) => ({ ceremonyId, kind, data, seq: seq++ }) as never;
const enrolment = (id: string) => e(id, 'enrolment', { enrolment: { ceremonyId: id, threshold: 2, custodians: [] }, secretCheck: `check-${id}` });

describe('enrolmentInForce', () => {
  it('is the first ceremony\'s until a rotation changes the user PIN, then the rotation\'s', () => {
    seq = 0;
    const chain = [e('init', 'genesis'), enrolment('init'), e('rot', 'pre-chain'), enrolment('rot'), e('rot', 'intent', { action: 'rotate-pins' }), e('rot', 'pin-changed', { pin: 'user' }), e('rot', 'completed')];
    expect(enrolmentInForce(chain)?.enrolment.ceremonyId).toBe('rot');
    expect(enrolmentInForce(chain)?.by).toBe('rotation');
    // Before the pin-changed entry (seq 5), the first one.
    expect(enrolmentInForce(chain, 5)?.enrolment.ceremonyId).toBe('init');
    expect(enrolmentInForce(chain, 6)?.enrolment.ceremonyId).toBe('rot');
  });

  it('keeps the old enrolment when a rotation stopped before its PIN change, or changed only the SO PIN', () => {
    seq = 0;
    const stopped = [e('init', 'genesis'), enrolment('init'), enrolment('rot'), e('rot', 'intent', { action: 'rotate-pins' }), e('rot', 'abort')];
    expect(enrolmentInForce(stopped)?.enrolment.ceremonyId).toBe('init');
    const soOnly = [e('init', 'genesis'), enrolment('init'), enrolment('rot'), e('rot', 'pin-changed', { pin: 'so' })];
    expect(enrolmentInForce(soOnly)?.enrolment.ceremonyId).toBe('init');
  });

  it('does not take a pin-changed of another ceremony for the rotation\'s', () => {
    seq = 0;
    const chain = [e('init', 'genesis'), enrolment('init'), enrolment('rot'), e('other', 'pin-changed', { pin: 'user' })];
    expect(enrolmentInForce(chain)?.enrolment.ceremonyId).toBe('init');
  });

  it('starts from a base when the entries continue a chain held elsewhere', () => {
    seq = 10;
    const base = { enrolment: { ceremonyId: 'init', threshold: 2, custodians: [] }, secretCheck: '' } as never;
    const later = [e('kms', 'pre-chain'), enrolment('rot'), e('rot', 'pin-changed', { pin: 'user' })];
    expect(enrolmentInForce(later, 11, base)?.enrolment.ceremonyId).toBe('init');
    expect(enrolmentInForce(later, Number.POSITIVE_INFINITY, base)?.enrolment.ceremonyId).toBe('rot');
    // Without a base, a chain's first ceremony in these entries enrols.
    expect(enrolmentInForce(later)?.enrolment.ceremonyId).toBe('rot');
  });
});
