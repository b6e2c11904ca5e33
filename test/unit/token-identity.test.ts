// Which chain belongs to which token (src-main/tokens/identity.ts): the audit key decides where one was
// read; label and serial only where nothing could be read before a login, and never a serial of zeros.
import { describe, expect, it } from 'vitest';
import { chainBelongsTo, genesisTokenOf, meaninglessSerial, spkiSha256, type TokenIdentity } from '../../src-main/tokens/identity.js';

const KEY_A = Buffer.from('spki of token A').toString('base64');
const KEY_B = Buffer.from('spki of token B').toString('base64');
const byKey = (spki: string): TokenIdentity => ({ kind: 'audit-key', spki, sha256: spkiSha256(spki) });
const unreadable: TokenIdentity = { kind: 'none', why: 'not logged in' };

describe('chainBelongsTo', () => {
  const cases: [string, Parameters<typeof chainBelongsTo>[0], Parameters<typeof chainBelongsTo>[1], TokenIdentity, boolean][] = [
    ['same audit key, same label and serial', { label: 'L', serial: '1', auditKeySpki: KEY_A }, { label: 'L', serial: '1' }, byKey(KEY_A), true],
    ['same audit key, other label and serial (NSS, a relabelled token)', { label: 'L', serial: '1', auditKeySpki: KEY_A }, { label: 'NSS Certificate DB', serial: '0000000000000000' }, byKey(KEY_A), true],
    ['other audit key, same label and serial (a twin)', { label: 'L', serial: '1', auditKeySpki: KEY_A }, { label: 'L', serial: '1' }, byKey(KEY_B), false],
    ['token has an audit key, genesis names none', { label: 'L', serial: '1' }, { label: 'L', serial: '1' }, byKey(KEY_A), false],
    ['nothing readable: serial and label decide', { label: 'L', serial: '12345', auditKeySpki: KEY_A }, { label: 'L ', serial: ' 12345' }, unreadable, true],
    ['nothing readable: other serial', { label: 'L', serial: '12345', auditKeySpki: KEY_A }, { label: 'L', serial: '12346' }, unreadable, false],
    ['nothing readable: other label', { label: 'L', serial: '12345', auditKeySpki: KEY_A }, { label: 'M', serial: '12345' }, unreadable, false],
    ['nothing readable: a zeros serial never identifies', { label: 'L', serial: '0000000000000000' }, { label: 'L', serial: '0000000000000000' }, unreadable, false],
    ['nothing readable: a blank serial never identifies', { label: 'L', serial: '' }, { label: 'L', serial: '   ' }, unreadable, false],
  ];
  for (const [name, genesis, token, identity, want] of cases) it(name, () => expect(chainBelongsTo(genesis, token, identity)).toBe(want));
});

describe('meaninglessSerial', () => {
  it.each([
    ['0000000000000000', true],
    ['', true],
    ['  00 ', true],
    ['0000000000000001', false],
    ['7a1c5e0f', false],
  ])('%j -> %s', (serial, want) => expect(meaninglessSerial(serial)).toBe(want));
});

describe('genesisTokenOf', () => {
  it('reads label, serial and the audit key', () => {
    expect(genesisTokenOf({ token: { label: 'L', serial: '1', model: 'm' }, auditKey: { algorithm: 'ECDSA-P384-SHA384', spki: KEY_A } })).toEqual({ label: 'L', serial: '1', auditKeySpki: KEY_A });
  });
  it('without an audit key', () => expect(genesisTokenOf({ token: { label: 'L', serial: '1' } })).toEqual({ label: 'L', serial: '1' }));
  it.each([[undefined], [{}], [{ token: { label: 'L' } }], [{ token: { label: 1, serial: '1' } }]])('names no token: %j', (data) => expect(genesisTokenOf(data)).toBeUndefined());
});
