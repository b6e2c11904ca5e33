import { describe, expect, it } from 'vitest';
import pkcs11js from 'pkcs11js';
import { describeCkr, knownCkrCodes, toTokenError } from '../../../hsm/pkcs11/ckr.js';
import { TokenError } from '../../../hsm/errors.js';
import { readFileSync } from 'node:fs';
import { ENROL_TOKEN_HELP } from '../../../src-main/cli/enrol-token-command.js';

const where = { modulePath: '/usr/lib/softhsm/libsofthsm2.so', moduleName: 'SoftHSM', slotId: '123', tokenLabel: 'ceremony' };

describe('describeCkr', () => {
  it.each([
    [0xa0, 'CKR_PIN_INCORRECT', 'the token did not accept the PIN'],
    [0xa4, 'CKR_PIN_LOCKED', 'the PIN is locked after too many wrong attempts'],
    [0xe0, 'CKR_TOKEN_NOT_PRESENT', 'no token is present in the slot'],
    [0x32, 'CKR_DEVICE_REMOVED', 'the token was removed during the operation'],
    [0x03, 'CKR_SLOT_ID_INVALID', 'the slot has disappeared (the token was removed, or the module renumbered its slots)'],
    [0x102, 'CKR_USER_PIN_NOT_INITIALIZED', 'the user PIN has not been set on this token'],
    [0xe1, 'CKR_TOKEN_NOT_RECOGNIZED', 'the token is not recognised: it has probably not been initialised yet'],
    [0x70, 'CKR_MECHANISM_INVALID', 'the token does not support this algorithm'],
    [0x71, 'CKR_MECHANISM_PARAM_INVALID', 'the token does not accept these algorithm parameters'],
    [0x07, 'CKR_ARGUMENTS_BAD', 'the token rejected the request as malformed or unsupported'],
    [0x90, 'CKR_OPERATION_ACTIVE', 'another operation is still in progress in this session'],
    [0x101, 'CKR_USER_NOT_LOGGED_IN', 'this step needs a custodian to log in to the token first'],
    [0x100, 'CKR_USER_ALREADY_LOGGED_IN', 'someone is already logged in to this token'],
    [0xb6, 'CKR_SESSION_EXISTS', 'sessions are still open on this token'],
    [0x6a, 'CKR_KEY_UNEXTRACTABLE', 'the key was created as non-extractable, so the token will not let it be wrapped or exported'],
    [0x11, 'CKR_ATTRIBUTE_SENSITIVE', 'the token refuses to reveal that value because it is sensitive'],
    [0xd1, 'CKR_TEMPLATE_INCONSISTENT', 'the token rejected the combination of key properties requested'],
    [0x140, 'CKR_CURVE_NOT_SUPPORTED', 'the token does not support this elliptic curve'],
  ])('0x%s is %s', (code, name, message) => {
    const d = describeCkr(code);
    expect(d.name).toBe(name);
    expect(d.message).toBe(message);
    expect(d.remedy.length).toBeGreaterThan(10);
  });

  it('PIN locked tells the custodian what the SO can do', () => {
    expect(describeCkr(0xa4).remedy).toMatch(/security officer.*new user PIN.*re-initialised/);
  });

  it('unknown codes carry the hex code', () => {
    expect(describeCkr(0x7777)).toEqual({
      name: '0x00007777',
      code: 0x7777,
      message: 'the token returned an unknown error code 0x00007777',
      remedy: expect.any(String),
    });
  });

  it('vendor-defined codes are named relative to CKR_VENDOR_DEFINED', () => {
    const d = describeCkr(0x80000123);
    expect(d.name).toBe('CKR_VENDOR_DEFINED+0x00000123');
    expect(d.message).toBe('the token returned a vendor-specific error 0x80000123');
  });

  it('every CKR_* that pkcs11js exports has its own sentence, not the generic fallback', () => {
    const lib = pkcs11js as unknown as Record<string, unknown>;
    const exported = Object.entries(lib).filter(([k, v]) => k.startsWith('CKR_') && typeof v === 'number');
    expect(exported.length).toBeGreaterThan(80);
    for (const [name, code] of exported) {
      const d = describeCkr(code as number);
      expect(d.name, name).toBe(name);
      expect(d.message, name).not.toMatch(/^the token returned/);
    }
    expect(knownCkrCodes().size).toBeGreaterThanOrEqual(exported.length);
  });
});

describe('toTokenError', () => {
  it('names module, slot and token in the sentence', () => {
    const e = toTokenError(new pkcs11js.Pkcs11Error('CKR_PIN_INCORRECT:160', 160, 'C_Login'), where);
    expect(e).toBeInstanceOf(TokenError);
    expect(e.code).toBe('CKR_PIN_INCORRECT');
    expect(e.message).toBe('SoftHSM slot 123 (token "ceremony") via /usr/lib/softhsm/libsofthsm2.so: the token did not accept the PIN');
    expect(e.remedy).toBe('Re-enter the PIN carefully; the token locks after a few wrong attempts.');
  });

  it('without a slot it names the module', () => {
    const e = toTokenError(new pkcs11js.Pkcs11Error('CKR_DEVICE_ERROR:48', 48, 'C_GetSlotList'), { modulePath: '/x/lib.so' });
    expect(e.message).toBe('PKCS#11 module via /x/lib.so: the token reported a hardware error');
  });

  it('a NativeError (no CK_RV) becomes an INVALID_ARGUMENT naming the reason', () => {
    const e = toTokenError(new pkcs11js.NativeError('Argument 1 has wrong type'), where);
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toContain('Argument 1 has wrong type');
  });

  it('passes TokenErrors through untouched', () => {
    const original = new TokenError('X', 'y');
    expect(toTokenError(original, where)).toBe(original);
  });
});

describe('remedies that fit the call that failed', () => {
  it('CKR_ARGUMENTS_BAD from C_InitToken is about initialising, not about choosing an algorithm', () => {
    const e = toTokenError(new pkcs11js.Pkcs11Error('CKR_ARGUMENTS_BAD:7', 7, 'C_InitToken'), { ...where, operation: 'C_InitToken' });
    expect(e.code).toBe('CKR_ARGUMENTS_BAD');
    expect(e.message).toBe(
      'SoftHSM slot 123 (token "ceremony") via /usr/lib/softhsm/libsofthsm2.so: the token refused to be initialised with this label and SO PIN (many HSM partitions and vendor modules do not allow an application to initialise a token at all)',
    );
    expect(e.remedy).toBe(
      "Check the token label (at most 32 bytes) and the SO PIN rules; if this token must be initialised with its vendor's tool, do that, then enrol its custodians with the enrol-token ceremony ('Enrol custodians on an initialized token' on the Ceremony screen; keyceremony enrol-token on the command line).",
    );
    expect(e.remedy).not.toMatch(/algorithm/);
  });

  it('the function pkcs11js names on the error chooses the remedy when the driver did not say', () => {
    const err = new pkcs11js.Pkcs11Error('CKR_FUNCTION_NOT_SUPPORTED:84', 84, 'C_InitToken');
    expect(toTokenError(err, where).remedy).toBe(
      "Initialise it with its vendor's tool, then enrol its custodians with the enrol-token ceremony ('Enrol custodians on an initialized token' on the Ceremony screen; keyceremony enrol-token on the command line).",
    );
  });

  it.each([
    ['C_WrapKey', /^Choose an algorithm this token supports/],
    ['C_GenerateKeyPair', /^Choose a key spec this token can generate/],
    ['C_InitPIN', /PIN meets the token's length and character rules/],
    ['C_SetPIN', /PIN meets the token's length and character rules/],
  ])('CKR_ARGUMENTS_BAD from %s', (operation, remedy) => {
    expect(describeCkr(0x07, operation).remedy).toMatch(remedy);
  });

  it('a token the app may not initialise is sent to enrol-token by the names the room sees: its screen title and its command', () => {
    const title = /^title: (.+)$/m.exec(readFileSync('ceremonies/enrol-token.yaml', 'utf8'))?.[1];
    expect(title).toBeDefined();
    expect(ENROL_TOKEN_HELP).toMatch(/^Usage: keyceremony enrol-token /);
    for (const code of [0x07, 0x54]) {
      const { remedy } = describeCkr(code, 'C_InitToken');
      expect(remedy).toContain(`'${title}' on the Ceremony screen`);
      expect(remedy).toContain('keyceremony enrol-token on the command line');
    }
  });

  it('a code without a function-specific entry keeps the general sentence', () => {
    expect(describeCkr(0xa0, 'C_InitToken').message).toBe('the token is already initialised and the SO PIN given is not its SO PIN, so it was not re-initialised');
    expect(describeCkr(0xa0, 'C_Login')).toEqual(describeCkr(0xa0));
  });
});

describe('raw pkcs11js messages', () => {
  it('an unparsed "CKR_NAME:value" error is still recognised', () => {
    const e = toTokenError(new Error('CKR_ATTRIBUTE_READ_ONLY:16'), where);
    expect(e.code).toBe('CKR_ATTRIBUTE_READ_ONLY');
  });
});
