// Remedies tell the truth: an uncoded failure may have stopped part-way, so its remedy never promises that
// nothing changed; a coded refusal (a quorum not reached, a bad share) is never called unexpected.
import { describe, expect, it } from 'vitest';
import { dispatch, type Handlers } from '../../src-main/ipc/dispatch.js';
import { AppError, INTERNAL_REMEDY, toErrorData } from '../../src-main/errors.js';

describe('toErrorData', () => {
  it('an uncoded failure is internal, and its remedy sends the room to look at what was recorded', () => {
    expect(toErrorData(new TypeError('boom'))).toEqual({ code: 'INTERNAL', message: 'Unexpected failure in the main process: boom', remedy: INTERNAL_REMEDY });
    expect(INTERNAL_REMEDY).not.toMatch(/not changed|unchanged|nothing changed/i);
    expect(INTERNAL_REMEDY).toMatch(/may have stopped part-way/);
    expect(toErrorData('a thrown string').message).toBe('Unexpected failure in the main process: a thrown string');
  });

  it('a coded refusal passes as it is, never prefixed as unexpected', () => {
    const refused = new AppError('quorum-not-reached', 'the quorum was not reached: 1 distinct custodian(s) (bob) presented a share; 2 are needed.', 'Run it again with two shares.');
    expect(toErrorData(refused)).toEqual({ code: 'quorum-not-reached', message: refused.message, remedy: 'Run it again with two shares.' });
  });

  it('an answer outside the IPC contract carries the same remedy: the handler did run', async () => {
    const result = await dispatch({ getAirGapStatus: () => ({ offline: 'yes' }) } as unknown as Handlers, 'getAirGapStatus', {});
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.remedy).toBe(INTERNAL_REMEDY);
  });
});
