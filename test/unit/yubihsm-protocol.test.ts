// YubiHSM protocol pieces against published vectors:
// - AES-CMAC: RFC 4493 section 4 (AES-128) and NIST SP 800-38B appendix D.3 (AES-256).
// - SCP03 KDF: python-yubihsm tests/test_core.py TestDeriveFct.
// - PBKDF2 password to K-ENC/K-MAC: python-yubihsm tests/test_utils.py.
// - Whole session handshake bytes: python-yubihsm tests/test_core.py get_mocked_session (host challenge of
//   zeros, factory password, recorded device answers) and the AUTHENTICATE_SESSION frame it expects.
// - Log digest chain: python-yubihsm tests/test_core.py TestLogCorrect, and a real device's first two
//   entries after reset as printed in https://gist.github.com/karalabe/fb7ac43f3899f511b5547279c036bf4e.
import { describe, expect, it } from 'vitest';
import { fromHex, hex } from '../../hsm/yubihsm/bytes.js';
import { Command, DeviceError } from '../../hsm/yubihsm/constants.js';
import { aesCmac, cardCryptogram, deriveSessionKeys, messageIv, pad80, passwordToKeys, scp03Derive, unpad80 } from '../../hsm/yubihsm/crypto.js';
import { deviceError } from '../../hsm/yubihsm/errors.js';
import { decodeFrame, encodeFrame, expectResponse } from '../../hsm/yubihsm/frame.js';
import { chainDigest, logEntryData, parseLogEntry, verifyLogChain, type LogEntry } from '../../hsm/yubihsm/log.js';
import { YubiHsm } from '../../hsm/yubihsm/session.js';
import type { YubiHsmTransport } from '../../hsm/yubihsm/transport.js';
import { TokenError } from '../../hsm/errors.js';

const M = fromHex('6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710');

describe('AES-CMAC', () => {
  it.each([
    [0, 'bb1d6929e95937287fa37d129b756746'],
    [16, '070a16b46b4d4144f79bdd9dd04a287c'],
    [40, 'dfa66747de9ae63030ca32611497c827'],
    [64, '51f0bebf7e3b9d92fc49741779363cfe'],
  ])('RFC 4493 AES-128 over %i bytes', (len, mac) => {
    expect(hex(aesCmac(fromHex('2b7e151628aed2a6abf7158809cf4f3c'), M.subarray(0, len)))).toBe(mac);
  });

  it.each([
    [0, '028962f61b7bf89efc6b551f4667d983'],
    [16, '28a7023f452e8f82bd4bf28d8c37c35c'],
    [40, 'aaf3d8f1de5640c232f5b169b9c911e6'],
    [64, 'e1992190549f6ed5696a2c056c315410'],
  ])('SP 800-38B AES-256 over %i bytes', (len, mac) => {
    expect(hex(aesCmac(fromHex('603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4'), M.subarray(0, len)))).toBe(mac);
  });

  it('refuses a key that is not an AES key', () => {
    expect(() => aesCmac(new Uint8Array(15), M)).toThrow(/16, 24 or 32 bytes/);
  });
});

describe('SCP03 key derivation and password keys', () => {
  it('derives S-ENC as python-yubihsm does (TestDeriveFct)', () => {
    const key = new TextEncoder().encode('0xff0xff0x120xff0xff0xff0xff0xaf');
    expect(hex(scp03Derive(key, 0x04, fromHex('0cf4f54cb9df595b'), 128))).toBe('57a07f31b913bce5ff06364a0e39467a');
  });

  it.each([
    ['password', '090b47dbed595654901dee1cc655e420', '592fd483f759e29909a04c4505d2ce0a'],
    ['\u03ba\u1f79\u03c3\u03bc\u03b5', 'f320972c667ba5cd4d35119a6b0271a1', 'f10050ca688e5a6ce62b1ffb0f6f6869'],
  ])('PBKDF2 password %s', (password, enc, mac) => {
    const k = passwordToKeys(password);
    expect([hex(k.encKey), hex(k.macKey)]).toEqual([enc, mac]);
  });

  it('pads with 0x80 then zeros, always at least one byte', () => {
    expect(hex(pad80(fromHex('0102')))).toBe('0102800000000000' + '0000000000000000');
    expect(pad80(new Uint8Array(16)).length).toBe(32);
    expect(unpad80(pad80(fromHex('ff80')))).toEqual(fromHex('ff80'));
    expect(unpad80(new Uint8Array(16))).toBeUndefined();
  });

  it('IV is AES-ECB of the big-endian counter', () => {
    const key = fromHex('000102030405060708090a0b0c0d0e0f');
    expect(messageIv(key, 1n)).not.toEqual(messageIv(key, 2n));
    expect(messageIv(key, 1n).length).toBe(16);
  });
});

/** Replays recorded device answers and records what the host sent. */
function replay(answers: string[]): YubiHsmTransport & { sent: string[] } {
  const sent: string[] = [];
  return {
    sent,
    description: 'replay',
    async send(frame) {
      sent.push(hex(frame));
      const next = answers.shift();
      if (next === undefined) throw new Error('no more recorded answers');
      return fromHex(next);
    },
    async close() {},
  };
}

describe('session handshake (python-yubihsm recorded exchange)', () => {
  const DEVICE_INFO_2_0 = '860038020000007334bc3e040102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f';

  it('sends byte-for-byte the frames Yubico\'s library sends', async () => {
    const t = replay([DEVICE_INFO_2_0, '83001100054d5631c9186f803225ed8a3224f2cf', '840000']);
    const hsm = await YubiHsm.connect(t);
    expect(hsm.info?.serial).toBe(7550140);
    expect(hsm.info?.version).toEqual({ major: 2, minor: 0, patch: 0 });
    expect(hsm.maxMessageSize).toBe(2048);
    const session = await hsm.openSession(1, 'password', { hostChallenge: new Uint8Array(8) });
    expect(t.sent).toEqual(['060000', '03000a00010000000000000000', '040011001ce7552e0f7976dbcc2198fd155c335a']);
    expect(session.id).toBe(0);
  });

  it('the recorded card cryptogram verifies under the derived S-MAC', () => {
    const context = fromHex('0000000000000000054d5631c9186f80');
    const keys = deriveSessionKeys(passwordToKeys('password'), context);
    expect(hex(cardCryptogram(keys.sMac, context))).toBe('3225ed8a3224f2cf');
  });

  it('wrong password: the device refuses the host cryptogram and the error says so', async () => {
    const t = replay([DEVICE_INFO_2_0, '83001100054d5631c9186f803225ed8a3224f2cf', '7f000104']);
    const hsm = await YubiHsm.connect(t);
    const err = await hsm.openSession(1, 'not the password', { hostChallenge: new Uint8Array(8) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TokenError);
    expect((err as TokenError).code).toBe('YUBIHSM_WRONG_PASSWORD');
    expect((err as TokenError).message).toBe('The YubiHSM did not accept the password of authentication key 1.');
  });
});

describe('frames and device errors', () => {
  it('encodes and decodes', () => {
    expect(hex(encodeFrame(Command.GET_PSEUDO_RANDOM, fromHex('0010')))).toBe('5100020010');
    expect(decodeFrame(fromHex('d10002abcd'))).toEqual({ command: 0xd1, payload: fromHex('abcd') });
    expect(decodeFrame(fromHex('d10003abcd'))).toBeUndefined();
  });

  it.each([
    ['7f00010b', Command.GET_OBJECT_INFO, 'YUBIHSM_OBJECT_NOT_FOUND', /has no object/],
    ['7f000109', Command.SIGN_ECDSA, 'YUBIHSM_INSUFFICIENT_PERMISSIONS', /lacks a capability/],
    ['7f000105', Command.CREATE_SESSION, 'YUBIHSM_SESSIONS_FULL', /All 16 sessions/],
    ['7f000111', Command.GENERATE_ASYMMETRIC_KEY, 'YUBIHSM_OBJECT_EXISTS', /already holds/],
    ['7f000104', Command.AUTHENTICATE_SESSION, 'YUBIHSM_AUTHENTICATION_FAILED', /did not accept the authentication key password/],
    ['7f000104', Command.SIGN_ECDSA, 'YUBIHSM_AUTHENTICATION_FAILED', /MAC\) did not verify/],
    ['d30000', Command.SIGN_ECDSA, 'YUBIHSM_BAD_RESPONSE', /answer to SIGN_ECDSA was for command 0xd3/],
    ['d6', Command.SIGN_ECDSA, 'YUBIHSM_BAD_RESPONSE', /cut short/],
  ])('%s to %i', (raw, command, code, message) => {
    let caught: unknown;
    try {
      expectResponse(fromHex(raw), command);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(TokenError);
    expect((caught as TokenError).code).toBe(code);
    expect((caught as TokenError).message).toMatch(message);
    expect((caught as TokenError).remedy).toBeTruthy();
  });

  it('every device error has a sentence and a remedy', () => {
    for (const code of Object.values(DeviceError)) {
      const e = deviceError(code, Command.SIGN_ECDSA);
      expect(e.message.length).toBeGreaterThan(20);
      expect(e.remedy).toBeTruthy();
    }
  });
});

describe('log digest chain', () => {
  const entry = (n: number, cmd: number, len: number, sk: number, tk: number, sec: number, res: number, tick: number, digest: string): LogEntry => ({
    number: n, command: cmd, length: len, sessionKey: sk, targetKey: tk, secondKey: sec, result: res, tick, digest: fromHex(digest),
  });

  it('python-yubihsm TestLogCorrect entries chain, and a flipped digest bit does not', () => {
    const e1 = entry(2, 0, 0, 0xffff, 0, 0, 0, 0, 'f696906e5b3929c63ca6f10a83d2a0cc');
    const e2 = entry(3, 3, 10, 0xffff, 1, 0xffff, 131, 35, '2264d451b5eff5dfa94c544f33b787a9');
    expect(() => verifyLogChain([e1, e2])).not.toThrow();
    const bad = { ...e2, digest: fromHex('2264d451b5eff5dfa94c544f33b787a8') };
    expect(() => verifyLogChain([e1, bad])).toThrow(/entry 3 \(CREATE_SESSION\) does not chain to entry 2/);
    expect(() => verifyLogChain([e2], { ...e1, number: 1 })).toThrow(/skips from entry 1 to entry 3/);
  });

  it('a real device after reset: reset line then boot line', () => {
    const reset = parseLogEntry(fromHex('0001' + 'ff'.repeat(14) + '33012657537e4842f57fa6ed3b09b25b'));
    expect(reset.number).toBe(1);
    expect(reset.command).toBe(0xff);
    const boot = entry(2, 0, 0, 0xffff, 0, 0, 0, 0, 'fc153091560e18bca82621522c85bdba');
    expect(hex(chainDigest(logEntryData(boot), reset.digest))).toBe('fc153091560e18bca82621522c85bdba');
    expect(() => verifyLogChain([reset, boot])).not.toThrow();
  });
});
