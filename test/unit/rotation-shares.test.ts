// A rotate-custodians stopped at or after its PIN step: its new shares are never voided (they may be the only
// way into the token), and the room is told to keep both sets, in the rotation's own words.
import { describe, expect, it } from 'vitest';
import { pinsMayHaveChanged, sharesOpenTokenWayOut, SHARES_OPEN_TOKEN_WAY_OUT } from '../../src-main/ceremony/actions/enrol-token.js';

describe('a rotation stopped in its PIN step', () => {
  it('may have changed the PINs from its rotate-pins intent on, as enrol-token from its change-pins intent', () => {
    expect(pinsMayHaveChanged([{ kind: 'intent', data: { action: 'rotate-pins' } }])).toBe(true);
    expect(pinsMayHaveChanged([{ kind: 'intent', data: { action: 'change-pins' } }])).toBe(true);
    expect(pinsMayHaveChanged([{ kind: 'intent', data: { action: 'prove-subsets' } }, { kind: 'result', data: { action: 'rotate-pins' } }])).toBe(false);
  });

  it('tells the room to keep the new shares and the old ones', () => {
    expect(sharesOpenTokenWayOut('rotate-custodians')).toContain('keep the new shares and the old ones; destroy neither');
    expect(sharesOpenTokenWayOut('enrol-token')).toBe(SHARES_OPEN_TOKEN_WAY_OUT);
  });
});
