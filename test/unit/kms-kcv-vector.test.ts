// The check value conventions pinned to vectors computed by openssl (docs/key-check-values.md commands),
// so a change of convention cannot pass silently.
import { describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { ZERO_BLOCK, checkValueFromMac } from '../../src-main/kms/index.js';
import { aesCmac } from '../helpers/aes-cmac.js';

const KEY = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');

describe('check value vectors', () => {
  it('AES-CMAC over 16 zero bytes (openssl mac CMAC: 377822C0...)', () => {
    expect(checkValueFromMac(aesCmac(KEY, ZERO_BLOCK), 'AES-CMAC-ZERO-BLOCK').value).toBe('377822');
  });
  it('HMAC-SHA-256 over 16 zero bytes (openssl mac HMAC: FF921230...)', () => {
    expect(checkValueFromMac(createHmac('sha256', KEY).update(ZERO_BLOCK).digest(), 'HMAC-SHA256-ZERO-BLOCK').value).toBe('FF9212');
  });
});
