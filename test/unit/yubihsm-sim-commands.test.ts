// The simulator's other device commands that Yubico's device tests exercise (test_rsa.py, test_ec.py,
// test_attestation.py, test_otp.py, test_auth.py): RSA signing and decryption, ECDH, the P-224 and Brainpool
// curves, attestation certificates, Yubico OTP and asymmetric authentication. Driven with raw command frames over our secure session (the
// driver has no wrappers for them: the ceremonies do not use them); every answer is checked with node:crypto
// or Python `cryptography`, never with the simulator's own code.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { X509Certificate, constants, createCipheriv, createDecipheriv, createECDH, createHash, createPublicKey, generateKeyPairSync, publicEncrypt, randomBytes, verify } from 'node:crypto';
import { TokenError } from '../../hsm/errors.js';
import { concat, u16, u8 } from '../../hsm/yubihsm/bytes.js';
import { Algorithm, Command, capabilities } from '../../hsm/yubihsm/constants.js';
import * as cmd from '../../hsm/yubihsm/commands.js';
import { YubiHsm, YubiHsmSession } from '../../hsm/yubihsm/session.js';
import { aesCmac } from '../../hsm/yubihsm/crypto.js';
import { YubiHsmSimulator, SimulatorTransport } from '../yubihsm-sim/index.js';

async function session(): Promise<YubiHsmSession> {
  const hsm = await YubiHsm.connect(new SimulatorTransport(new YubiHsmSimulator({ serial: 3333333 })));
  return hsm.openSession(1, 'password');
}

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 65537 });

async function putRsa(s: YubiHsmSession, caps: bigint): Promise<number> {
  return cmd.putAsymmetricKey(s, { id: 0, label: 'rsa', domains: 1, capabilities: caps, key: rsa.privateKey });
}

async function code(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(TokenError);
  return (e as TokenError).code;
}

describe('RSA in the simulator, checked by node:crypto', () => {
  it('SIGN_PKCS1 over a SHA-256 and a SHA-512 digest verifies as RSASSA-PKCS1-v1_5', async () => {
    const s = await session();
    const id = await putRsa(s, capabilities('SIGN_PKCS'));
    for (const hash of ['sha256', 'sha512']) {
      const message = randomBytes(64);
      const sig = await s.send(Command.SIGN_PKCS1, concat(u16(id), createHash(hash).update(message).digest()));
      expect(verify(hash, message, rsa.publicKey, sig)).toBe(true);
    }
  });

  it('SIGN_PSS with no salt and with the longest salt verifies as RSASSA-PSS', async () => {
    const s = await session();
    const id = await putRsa(s, capabilities('SIGN_PSS'));
    for (const saltLength of [0, 256 - 32 - 2]) {
      const message = randomBytes(64);
      const sig = await s.send(Command.SIGN_PSS, concat(u16(id), u8(Algorithm.RSA_MGF1_SHA256), u16(saltLength), createHash('sha256').update(message).digest()));
      expect(verify('sha256', message, { key: rsa.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength }, sig)).toBe(true);
    }
  });

  it('DECRYPT_PKCS1 and DECRYPT_OAEP return what node encrypted; a ciphertext of a bad padding is INVALID_DATA', async () => {
    const s = await session();
    const id = await putRsa(s, capabilities('DECRYPT_PKCS', 'DECRYPT_OAEP'));
    const message = randomBytes(48);
    const pkcs1 = publicEncrypt({ key: rsa.publicKey, padding: constants.RSA_PKCS1_PADDING }, message);
    expect(Buffer.from(await s.send(Command.DECRYPT_PKCS1, concat(u16(id), pkcs1)))).toEqual(message);
    const oaep = publicEncrypt({ key: rsa.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, message);
    const labelDigest = createHash('sha256').digest();
    expect(Buffer.from(await s.send(Command.DECRYPT_OAEP, concat(u16(id), u8(Algorithm.RSA_MGF1_SHA256), oaep, labelDigest)))).toEqual(message);
    // The OAEP ciphertext is not PKCS#1 v1.5 padded.
    expect(await code(s.send(Command.DECRYPT_PKCS1, concat(u16(id), oaep)))).toBe('YUBIHSM_INVALID_DATA');
    // A key without the capability is refused.
    const signer = await putRsa(s, capabilities('SIGN_PKCS'));
    expect(await code(s.send(Command.DECRYPT_PKCS1, concat(u16(signer), pkcs1)))).toBe('YUBIHSM_INSUFFICIENT_PERMISSIONS');
  });
});

describe('EC curves beyond the driver\'s (P-224, Brainpool), in the simulator', () => {
  it('generates, reports the public point and signs ECDSA that node verifies', async () => {
    const s = await session();
    const curves: [number, string, number, string][] = [
      [Algorithm.EC_P224, 'secp224r1', 28, 'sha224'],
      [Algorithm.EC_BP256, 'brainpoolP256r1', 32, 'sha256'],
      [Algorithm.EC_BP384, 'brainpoolP384r1', 48, 'sha384'],
      [Algorithm.EC_BP512, 'brainpoolP512r1', 64, 'sha512'],
    ];
    for (const [algorithm, nodeCurve, bytes, hash] of curves) {
      const id = await cmd.generateAsymmetricKey(s, { id: 0, label: nodeCurve, domains: 1, capabilities: capabilities('SIGN_ECDSA'), algorithm });
      const raw = await s.send(Command.GET_PUBLIC_KEY, u16(id));
      expect(raw[0]).toBe(algorithm);
      // node builds the public key from the point (it refuses a point off the curve).
      const point = Buffer.concat([Buffer.of(4), raw.subarray(1)]);
      expect(point).toHaveLength(1 + 2 * bytes);
      const spkiKey = createPublicKey({ key: ecdhSpki(nodeCurve, point), format: 'der', type: 'spki' });
      const message = randomBytes(64);
      const sig = await cmd.signEcdsa(s, id, createHash(hash).update(message).digest());
      expect(verify(hash, message, spkiKey, sig)).toBe(true);
    }
  });
});

/** SubjectPublicKeyInfo for a named curve's uncompressed point, via a throw-away node key of that curve. */
function ecdhSpki(nodeCurve: string, point: Buffer): Buffer {
  const template = generateKeyPairSync('ec', { namedCurve: nodeCurve }).publicKey.export({ type: 'spki', format: 'der' });
  return Buffer.concat([template.subarray(0, template.length - point.length), point]);
}

describe('ECDH in the simulator', () => {
  it('DERIVE_ECDH gives node\'s shared secret; a point off the curve is INVALID_DATA', async () => {
    const s = await session();
    const id = await cmd.generateAsymmetricKey(s, { id: 0, label: 'ecdh', domains: 1, capabilities: capabilities('DERIVE_ECDH'), algorithm: Algorithm.EC_P256 });
    const devicePoint = Buffer.concat([Buffer.of(4), (await cmd.getPublicKey(s, id)).raw]);
    const peer = createECDH('prime256v1');
    peer.generateKeys();
    const shared = await s.send(Command.DERIVE_ECDH, concat(u16(id), peer.getPublicKey()));
    expect(Buffer.from(shared)).toEqual(peer.computeSecret(devicePoint));
    const offCurve = Buffer.concat([Buffer.of(4), Buffer.alloc(64, 0xff)]);
    expect(await code(s.send(Command.DERIVE_ECDH, concat(u16(id), offCurve)))).toBe('YUBIHSM_INVALID_DATA');
  });
});

describe('attestation in the simulator', () => {
  // Python `cryptography` makes the attesting certificate and reads the attestation's extensions: a parser
  // that is not ours.
  const py = (script: string, input: Buffer) => execFileSync('python3', ['-c', script], { input, stdio: ['pipe', 'pipe', 'pipe'] });
  const SELF_SIGNED = [
    'import sys, datetime',
    'from cryptography import x509',
    'from cryptography.x509.oid import NameOID',
    'from cryptography.hazmat.primitives import hashes, serialization',
    'k = serialization.load_der_private_key(sys.stdin.buffer.read(), None)',
    'n = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "attester")])',
    'now = datetime.datetime.now(datetime.timezone.utc)',
    'c = x509.CertificateBuilder().subject_name(n).issuer_name(n).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1)).serial_number(7).public_key(k.public_key()).sign(k, hashes.SHA256())',
    'sys.stdout.buffer.write(c.public_bytes(serialization.Encoding.DER))',
  ].join('\n');
  const EXTENSIONS = [
    'import sys',
    'from cryptography import x509',
    'c = x509.load_der_x509_certificate(sys.stdin.buffer.read())',
    'v = lambda n: c.extensions.get_extension_for_oid(x509.ObjectIdentifier("1.3.6.1.4.1.41482.4.%d" % n)).value.public_bytes()',
    'print(c.issuer.rfc4514_string(), int.from_bytes(v(2)[2:], "big"), int.from_bytes(v(6)[2:], "big"), v(9)[2:].decode())',
  ].join('\n');

  it('SIGN_ATTESTATION_CERTIFICATE: issued by the attesting key\'s certificate, for the key\'s public half, with its serial, id and label', async () => {
    const s = await session();
    const attester = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const attesterCert = py(SELF_SIGNED, attester.privateKey.export({ type: 'pkcs8', format: 'der' }));
    const attId = await cmd.putAsymmetricKey(s, { id: 0x0a00, label: 'attester', domains: 1, capabilities: capabilities('SIGN_ATTESTATION_CERTIFICATE'), key: attester.privateKey });
    await cmd.putOpaque(s, { id: attId, label: 'attester cert', domains: 1, capabilities: 0n, data: attesterCert, algorithm: Algorithm.OPAQUE_X509_CERTIFICATE });
    const keyId = await cmd.generateAsymmetricKey(s, { id: 0x0b00, label: 'attested key', domains: 1, capabilities: capabilities('SIGN_ECDSA'), algorithm: Algorithm.EC_P384 });

    const der = await s.send(Command.SIGN_ATTESTATION_CERTIFICATE, concat(u16(keyId), u16(attId)));
    const cert = new X509Certificate(Buffer.from(der));
    expect(cert.verify(attester.publicKey)).toBe(true);
    expect(cert.publicKey.export({ type: 'spki', format: 'der' })).toEqual(Buffer.from((await cmd.getPublicKey(s, keyId)).spki));
    expect(py(EXTENSIONS, Buffer.from(der)).toString().trim()).toBe(`CN=attester 3333333 ${0x0b00} attested key`);
    // The attesting key must hold the capability.
    const plain = await cmd.putAsymmetricKey(s, { id: 0x0a01, label: 'no attest', domains: 1, capabilities: capabilities('SIGN_ECDSA'), key: attester.privateKey });
    await cmd.putOpaque(s, { id: plain, label: 'cert', domains: 1, capabilities: 0n, data: attesterCert, algorithm: Algorithm.OPAQUE_X509_CERTIFICATE });
    expect(await code(s.send(Command.SIGN_ATTESTATION_CERTIFICATE, concat(u16(keyId), u16(plain))))).toBe('YUBIHSM_INSUFFICIENT_PERMISSIONS');
  });
});

describe('Yubico OTP in the simulator', () => {
  /** A Yubico OTP token made by node: private id, counters, random, CRC-16 (ISO 13239, LE, complemented), AES-ECB. */
  function otp(key: Buffer, privateId: Buffer, useCounter: number, sessionCounter: number): Buffer {
    const token = Buffer.concat([privateId, Buffer.from([useCounter & 0xff, useCounter >> 8, 0x34, 0x12, 0x56, sessionCounter, 0x99, 0x88])]);
    let crc = 0xffff;
    for (const b of token) {
      crc ^= b;
      for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >> 1) ^ 0x8408 : crc >> 1;
    }
    const full = Buffer.concat([token, Buffer.from([~crc & 0xff, (~crc >> 8) & 0xff])]);
    const c = createCipheriv('aes-128-ecb', key, null).setAutoPadding(false);
    return Buffer.concat([c.update(full), c.final()]);
  }

  it('an AEAD made by CREATE_OTP_AEAD opens with node\'s AES-CCM; DECRYPT_OTP reads the counters of a node-made OTP and refuses a wrong one', async () => {
    const s = await session();
    const aeadKey = randomBytes(16);
    const nonceId = Buffer.from([0x67, 0x45, 0x23, 0x01]);
    const header = concat(u16(0x0c00), Buffer.concat([Buffer.from('otp'), Buffer.alloc(37)]), u16(1), Buffer.from(capabilities('CREATE_OTP_AEAD', 'DECRYPT_OTP').toString(16).padStart(16, '0'), 'hex'), u8(Algorithm.AES128_YUBICO_OTP));
    expect(Buffer.from(await s.send(Command.PUT_OTP_AEAD_KEY, concat(header, nonceId, aeadKey)))).toEqual(Buffer.from([0x0c, 0x00]));
    const tokenKey = randomBytes(16);
    const privateId = randomBytes(6);
    const aead = await s.send(Command.CREATE_OTP_AEAD, concat(u16(0x0c00), tokenKey, privateId));
    expect(aead).toHaveLength(36);
    const d = createDecipheriv('aes-128-ccm', aeadKey, Buffer.concat([nonceId, aead.subarray(0, 6), Buffer.alloc(3)]), { authTagLength: 8 });
    d.setAuthTag(aead.subarray(28));
    expect(Buffer.concat([d.update(aead.subarray(6, 28)), d.final()])).toEqual(Buffer.concat([tokenKey, privateId]));

    const counters = await s.send(Command.DECRYPT_OTP, concat(u16(0x0c00), aead, otp(tokenKey, privateId, 0x0203, 7)));
    // use counter (LE), session counter, timestamp high, timestamp low (LE)
    expect(Buffer.from(counters)).toEqual(Buffer.from([0x03, 0x02, 7, 0x56, 0x34, 0x12]));
    expect(await code(s.send(Command.DECRYPT_OTP, concat(u16(0x0c00), aead, otp(tokenKey, randomBytes(6), 1, 1))))).toBe('YUBIHSM_INVALID_OTP');
  });
});

describe('asymmetric authentication in the simulator', () => {
  // The host half written here from python-yubihsm's description (core.py AsymmetricAuth): node's ECDH and
  // SHA-256 for the X9.63 KDF; the receipt's AES-CMAC is the driver's (checked against RFC 4493 elsewhere).
  function x963(z: Buffer, length: number): Buffer {
    const out: Buffer[] = [];
    for (let c = 1; out.length * 32 < length; c++) out.push(createHash('sha256').update(z).update(Buffer.from([0, 0, 0, c])).update(Buffer.from([0x3c, 0x88, 0x10])).digest());
    return Buffer.concat(out).subarray(0, length);
  }

  it('a session opened with an EC P-256 authentication key: the receipt verifies, ECHO round-trips, a changed key opens the next one', async () => {
    const hsm = await YubiHsm.connect(new SimulatorTransport(new YubiHsmSimulator({ serial: 4444444 })));
    const admin = await hsm.openSession(1, 'password');
    const devicePub = await hsm.sendPlain(Command.GET_DEVICE_PUBLIC_KEY);
    expect(devicePub[0]).toBe(Algorithm.EC_P256_YUBICO_AUTHENTICATION);
    expect(devicePub).toHaveLength(65);

    const open = async (authId: number, own: ReturnType<typeof createECDH>) => {
      const eph = createECDH('prime256v1');
      const hostPoint = eph.generateKeys();
      const created = await hsm.sendPlain(Command.CREATE_SESSION, concat(u16(authId), hostPoint));
      const devicePoint = created.subarray(1, 66);
      const receipt = created.subarray(66);
      const shs = x963(Buffer.concat([eph.computeSecret(devicePoint), own.computeSecret(Buffer.concat([Buffer.of(4), devicePub.subarray(1)]))]), 64);
      expect(Buffer.from(aesCmac(shs.subarray(0, 16), concat(devicePoint, hostPoint)))).toEqual(Buffer.from(receipt));
      return new YubiHsmSession(hsm, created[0] as number, authId, { sEnc: shs.subarray(16, 32), sMac: shs.subarray(32, 48), sRmac: shs.subarray(48, 64) }, receipt, () => undefined);
    };

    const first = createECDH('prime256v1');
    first.generateKeys();
    const header = concat(u16(0x0d00), Buffer.concat([Buffer.from('asym auth'), Buffer.alloc(31)]), u16(1), Buffer.from(capabilities('CHANGE_AUTHENTICATION_KEY').toString(16).padStart(16, '0'), 'hex'), u8(Algorithm.EC_P256_YUBICO_AUTHENTICATION), new Uint8Array(8));
    await admin.send(Command.PUT_AUTHENTICATION_KEY, concat(header, first.getPublicKey().subarray(1)));
    const s1 = await open(0x0d00, first);
    const message = randomBytes(200);
    expect(Buffer.from(await s1.send(Command.ECHO, message))).toEqual(message);

    const second = createECDH('prime256v1');
    second.generateKeys();
    await s1.send(Command.CHANGE_AUTHENTICATION_KEY, concat(u16(0x0d00), u8(Algorithm.EC_P256_YUBICO_AUTHENTICATION), second.getPublicKey().subarray(1)));
    const s2 = await open(0x0d00, second);
    expect(Buffer.from(await s2.send(Command.ECHO, message))).toEqual(message);
    // The old key no longer agrees on the keys: the receipt differs.
    await expect(open(0x0d00, first)).rejects.toThrow();
  });
});

