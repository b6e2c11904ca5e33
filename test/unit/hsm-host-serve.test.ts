// The token host's request handling (src-main/hsm-host/serve.ts) over a stand-in layer: which requests it
// runs, what it answers for the ones it refuses, and how failures become data.
import { describe, expect, it } from 'vitest';
import { TokenError } from '../../hsm/errors.js';
import type { TokenLayer } from '../../hsm/token.js';
import { answer } from '../../src-main/hsm-host/serve.js';
import { firstNonPlain } from '../../src-main/hsm-host/protocol.js';

const calls: unknown[][] = [];
const layer = {
  listSlots: async (moduleId: string) => {
    calls.push(['listSlots', moduleId]);
    return [{ moduleId, slotId: '1' }];
  },
  random: async (_s: string, n: number) => new Uint8Array(n),
  login: async () => {
    throw new TokenError('CKR_PIN_INCORRECT', 'The PIN is wrong.', 'Re-enter it.');
  },
  logout: async () => {
    throw new RangeError('index out of range');
  },
} as unknown as TokenLayer;

describe('token host requests', () => {
  it('runs a listed method with its arguments and answers with the same id', async () => {
    expect(await answer(layer, { id: 7, method: 'listSlots', args: ['/lib/x.so'] })).toEqual({ id: 7, ok: true, value: [{ moduleId: '/lib/x.so', slotId: '1' }] });
    expect(calls).toEqual([['listSlots', '/lib/x.so']]);
    expect(await answer(layer, { id: 8, method: 'random', args: ['s', 4] })).toEqual({ id: 8, ok: true, value: new Uint8Array(4) });
  });

  it('turns a TokenError into code, message and remedy, and anything else into its class name and message', async () => {
    expect(await answer(layer, { id: 1, method: 'login', args: ['s', 'user', 'x'] })).toEqual({
      id: 1,
      ok: false,
      error: { kind: 'token', code: 'CKR_PIN_INCORRECT', message: 'The PIN is wrong.', remedy: 'Re-enter it.' },
    });
    expect(await answer(layer, { id: 2, method: 'logout', args: ['s'] })).toEqual({ id: 2, ok: false, error: { kind: 'other', name: 'RangeError', message: 'index out of range' } });
  });

  it('says a listed method the driver lacks is not supported', async () => {
    expect(await answer(layer, { id: 3, method: 'encrypt', args: [] })).toMatchObject({ id: 3, ok: false, error: { code: 'CKR_FUNCTION_NOT_SUPPORTED' } });
  });

  it.each([
    [{ id: 4, method: 'hasOwnProperty', args: [] }, 'HOST_UNKNOWN_METHOD'],
    [{ id: 4, method: 42, args: [] }, 'HOST_UNKNOWN_METHOD'],
    [{ id: 4, method: 'listSlots' }, 'HOST_BAD_REQUEST'],
    [{ id: 4, method: 'listSlots', args: ['a', 'b'] }, 'HOST_BAD_REQUEST'],
    [{ id: 4, method: 'listSlots', args: [new Date()] }, 'HOST_BAD_REQUEST'],
  ])('refuses %j with %s and runs nothing', async (request, code) => {
    calls.length = 0;
    expect(await answer(layer, request)).toMatchObject({ id: 4, ok: false, error: { kind: 'token', code } });
    expect(calls).toEqual([]);
  });

  it('ignores a message without a usable id (nobody to answer)', async () => {
    expect(await answer(layer, { method: 'listSlots', args: ['x'] })).toBeNull();
    expect(await answer(layer, { id: 1.5, method: 'listSlots', args: ['x'] })).toBeNull();
    expect(await answer(layer, null)).toBeNull();
  });

  it('plain data is strings, numbers, booleans, null, bytes, arrays and plain objects', () => {
    expect(firstNonPlain([{ a: 'x', b: 1, c: true, d: null, e: new Uint8Array(2), f: [{ g: undefined }], h: Object.create(null) }])).toBeNull();
    expect(firstNonPlain([{ a: [1, new Map()] }])).toBe('args[0].a[1]');
    expect(firstNonPlain([new (class Slot {})()])).toBe('args[0]');
    expect(firstNonPlain([1n])).toBe('args[0]');
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = [deep];
    expect(firstNonPlain([deep])).toMatch(/nested too deeply/);
  });
});
