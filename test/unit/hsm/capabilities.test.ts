import { describe, expect, it } from 'vitest';
import { decideKmsCapabilities, type CapabilityProbeResults } from '../../../hsm/capabilities.js';
import type { MechanismInfo } from '../../../hsm/types.js';

const flags = { hw: false, encrypt: true, decrypt: true, digest: false, sign: false, verify: false, generate: false, generateKeyPair: false, wrap: true, unwrap: true, derive: false };
const mech = (code: number, wrap = true): Pick<MechanismInfo, 'code' | 'flags'> => ({ code, flags: { ...flags, wrap } });
const OAEP = mech(0x9);
const PAD = mech(0x210a);
const KWP = mech(0x210b);
const RSA_AES = mech(0x1054);

const ok = (length: number, rfc5649?: boolean) => (rfc5649 === undefined ? { ok: true, length } : { ok: true, length, rfc5649 });
const fail = (error: string) => ({ ok: false, error });

const softhsmProbe: CapabilityProbeResults = { oaep: { 'SHA-1': ok(256), 'SHA-256': fail('CKR_ARGUMENTS_BAD') }, pad: ok(40, true) };
const nssProbe: CapabilityProbeResults = { oaep: { 'SHA-1': ok(256), 'SHA-256': ok(256) }, kwp: ok(40, true), pad: ok(48, false) };

type Row = [string, Pick<MechanismInfo, 'code' | 'flags'>[], CapabilityProbeResults | null, [boolean, boolean, boolean, boolean]];

describe('decideKmsCapabilities', () => {
  const rows: Row[] = [
    ['SoftHSM 2.6.1 (OAEP SHA-1 only, PAD is RFC 5649)', [OAEP, PAD], softhsmProbe, [true, false, true, false]],
    ['NSS softoken (OAEP both, KWP, PAD is 3394+PKCS#7)', [OAEP, PAD, KWP], nssProbe, [true, true, true, true]],
    ['PAD listed but not RFC 5649, no KWP', [OAEP, PAD], { oaep: { 'SHA-1': ok(256), 'SHA-256': ok(256) }, pad: ok(48, false) }, [true, true, false, false]],
    ['KWP failing at run time', [OAEP, KWP], { oaep: { 'SHA-1': ok(256), 'SHA-256': ok(256) }, kwp: fail('CKR_MECHANISM_INVALID') }, [true, true, false, false]],
    ['no OAEP at all', [PAD, KWP], { oaep: {} }, [false, false, false, false]],
    ['OAEP listed without the wrap flag', [mech(0x9, false), KWP], { oaep: {} }, [false, false, false, false]],
    ['OAEP refused for both hashes', [OAEP, KWP], { oaep: { 'SHA-1': fail('CKR_MECHANISM_PARAM_INVALID'), 'SHA-256': fail('CKR_MECHANISM_PARAM_INVALID') }, kwp: ok(40, true) }, [false, false, false, false]],
    ['not probed: OAEP + KWP listed', [OAEP, KWP], null, [true, true, true, true]],
    ['not probed: OAEP + PAD only (cannot tell which PAD)', [OAEP, PAD], null, [true, true, false, false]],
    ['not probed: nothing', [], null, [false, false, false, false]],
  ];

  it.each(rows)('%s', (_name, mechs, probe, expected) => {
    const caps = decideKmsCapabilities(mechs, probe, 'the token is not initialised');
    expect(caps.map((c) => c.algorithm)).toEqual(['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_1', 'RSA_AES_KEY_WRAP_SHA_256']);
    expect(caps.map((c) => c.supported)).toEqual(expected);
    for (const c of caps) {
      expect(c.reason.length).toBeGreaterThan(10);
      if (c.supported) expect(c.method).toBeTruthy();
      else expect(c.method).toBeUndefined();
    }
    // probed is true only where a probe ran: never without probe results, never when OAEP is not listed.
    if (probe === null || !mechs.some((m) => m.code === 0x9 && m.flags.wrap)) for (const c of caps) expect(c.probed).toBe(false);
    else for (const c of caps) expect(c.probed).toBe(true);
  });

  it('says which composed mechanism it would use', () => {
    const [, , sha1, sha256] = decideKmsCapabilities([OAEP, PAD, KWP], nssProbe);
    expect(sha1?.method).toBe('composed: CKM_AES_KEY_WRAP_KWP + CKM_RSA_PKCS_OAEP (SHA-1, MGF1-SHA-1)');
    expect(sha256?.method).toBe('composed: CKM_AES_KEY_WRAP_KWP + CKM_RSA_PKCS_OAEP (SHA-256, MGF1-SHA-256)');
    const soft = decideKmsCapabilities([OAEP, PAD], softhsmProbe);
    expect(soft[2]?.method).toBe('composed: CKM_AES_KEY_WRAP_PAD (RFC 5649 here) + CKM_RSA_PKCS_OAEP (SHA-1, MGF1-SHA-1)');
    expect(soft[1]?.reason).toBe('The token refused RSA-OAEP with SHA-256 (CKR_ARGUMENTS_BAD).');
  });

  it('says what the composed path does to private keys, when the probe tried one', () => {
    const padded = decideKmsCapabilities([OAEP, PAD], { ...softhsmProbe, privateKey: { exact: false, der: 67, unwrapped: 72 } });
    expect(padded[2]).toMatchObject({ supported: true, probed: true });
    expect(padded[2]?.reason).toBe(
      'CKM_AES_KEY_WRAP_PAD produced RFC 5649 output (40 bytes for a 32-byte key) and CKM_RSA_PKCS_OAEP (SHA-1, MGF1-SHA-1) works. But it pads private keys: a throw-away P-256 PKCS#8 of 67 bytes came back as 72, which strict receivers reject, so only key specs whose PKCS#8 is a multiple of 8 bytes export exactly (kms-import proves each key spec before generating).',
    );
    const exact = decideKmsCapabilities([OAEP, PAD, KWP], { ...nssProbe, privateKey: { exact: true, der: 138, unwrapped: 138 } });
    expect(exact[3]?.reason).toMatch(/A throw-away P-256 private key came back as exactly its 138-byte PKCS#8\.$/);
    const untried = decideKmsCapabilities([OAEP, PAD, KWP], { ...nssProbe, privateKey: { error: 'CKR_USER_NOT_LOGGED_IN' } });
    expect(untried[3]?.reason).toMatch(/Private keys were not tried \(CKR_USER_NOT_LOGGED_IN\)\.$/);
  });

  it('explains a non-RFC 5649 PAD by its length', () => {
    const caps = decideKmsCapabilities([OAEP, PAD], { oaep: { 'SHA-1': ok(256), 'SHA-256': ok(256) }, pad: ok(48, false) });
    expect(caps[2]?.reason).toBe(
      'No RFC 5649 wrap inside the token: CKM_AES_KEY_WRAP_KWP is not listed; CKM_AES_KEY_WRAP_PAD is not RFC 5649 here (48 bytes for a 32-byte key, expected 40).',
    );
  });

  it('notes that a listed CKM_RSA_AES_KEY_WRAP is not used directly', () => {
    const caps = decideKmsCapabilities([OAEP, KWP, RSA_AES], nssProbe);
    expect(caps[2]?.reason).toMatch(/lists CKM_RSA_AES_KEY_WRAP, but pkcs11js cannot pass CK_RSA_AES_KEY_WRAP_PARAMS, so the composed path is used/);
  });

  it('a decision without a probe says why', () => {
    const caps = decideKmsCapabilities([OAEP, KWP], null, 'no session could be opened: CKR_TOKEN_NOT_RECOGNIZED');
    expect(caps[1]?.reason).toBe('Untested (no session could be opened: CKR_TOKEN_NOT_RECOGNIZED): CKM_RSA_PKCS_OAEP is listed, but only a probe can tell whether it does SHA-256.');
  });
});
