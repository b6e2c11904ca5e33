import { describe, expect, it } from 'vitest';
import { tokenUri } from '../../src-main/tokens/token-uri.js';

describe('tokenUri', () => {
  it('names model, manufacturer, serial and label', () => {
    expect(tokenUri({ label: 'ceremony', manufacturer: 'SoftHSM project', model: 'SoftHSM v2', serial: '9c1d2f3a' })).toBe(
      'pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=9c1d2f3a;token=ceremony',
    );
  });

  it('percent-encodes separators and non-ASCII, and leaves out empty fields', () => {
    expect(tokenUri({ label: 'a;b/c?d%é', manufacturer: '', model: '', serial: '' })).toBe('pkcs11:token=a%3Bb%2Fc%3Fd%25%C3%A9');
  });
});
