// Property: whatever bytes arrive as a "console zip", the reader either returns vetted entries within the
// limits or throws an AppError naming the file; never another exception, never an entry past the caps.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { zipSync } from 'fflate';
import { AppError } from '../../src-main/errors.js';
import { ZIP_LIMITS, readZipEntries } from '../../src-main/kms/params/index.js';

const base = zipSync({ 'WrappingPublicKey.bin': new Uint8Array(300).fill(1), 'ImportToken.bin': new Uint8Array(700).fill(2), 'README.txt': new TextEncoder().encode('hello') });

function check(bytes: Uint8Array): void {
  try {
    const entries = readZipEntries(bytes, 'stick.zip');
    let total = 0;
    for (const e of entries) {
      expect(e.data.length).toBeLessThanOrEqual(ZIP_LIMITS.entryBytes);
      expect(e.name.split('/')).not.toContain('..');
      total += e.data.length;
    }
    expect(total).toBeLessThanOrEqual(ZIP_LIMITS.totalBytes);
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    expect((e as AppError).message.startsWith('stick.zip')).toBe(true);
  }
}

describe('zip reader under mutation', () => {
  it('mutated bytes of a valid download', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), (edits) => {
        const z = new Uint8Array(base);
        for (const [i, v] of edits) z[i] = v;
        check(z);
      }),
      { numRuns: 400 },
    );
  });
  it('truncations', () => {
    fc.assert(fc.property(fc.nat(base.length), (n) => check(base.subarray(0, n))), { numRuns: 200 });
  });
  it('random bytes behind a zip signature', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), (tail) => check(new Uint8Array([0x50, 0x4b, 3, 4, ...tail]))), { numRuns: 200 });
  });
});
