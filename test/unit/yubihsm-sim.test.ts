// The YubiHSM client against the in-process simulator: sessions, commands, refusals, integrity, the audit
// log and RSA wrapping, with outputs checked by node:crypto (never only by our own code).
import { describe, expect, it, beforeEach } from 'vitest';
import { constants, createDecipheriv, createHash, createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, privateDecrypt, randomBytes, verify } from 'node:crypto';
import { TokenError } from '../../hsm/errors.js';
import { Algorithm, Command, ObjectType, Origin, capabilities, ALL_CAPABILITIES, AuditSetting, MAX_SESSIONS } from '../../hsm/yubihsm/constants.js';
import * as cmd from '../../hsm/yubihsm/commands.js';
import { YubiHsm, type YubiHsmSession } from '../../hsm/yubihsm/session.js';
import { verifyLogChain } from '../../hsm/yubihsm/log.js';
import { YubiHsmSimulator, SimulatorTransport, FACTORY_AUTH_KEY_LABEL } from '../yubihsm-sim/index.js';

async function setup(opts: ConstructorParameters<typeof YubiHsmSimulator>[0] = {}) {
  const device = new YubiHsmSimulator({ serial: 7654321, ...opts });
  const transport = new SimulatorTransport(device);
  const hsm = await YubiHsm.connect(transport);
  const session = await hsm.openSession(1, 'password');
  return { device, transport, hsm, session };
}

async function rejection(p: Promise<unknown>): Promise<TokenError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(TokenError);
  return e as TokenError;
}

const obj = (label: string, caps: bigint, id = 0, domains = 1) => ({ id, label, domains, capabilities: caps });

describe('device info and sessions', () => {
  it('reports firmware 2.4, the serial and the part number; allows 3136-byte messages', async () => {
    const { hsm } = await setup();
    expect(hsm.info).toMatchObject({ version: { major: 2, minor: 4, patch: 0 }, serial: 7654321, logSize: 62, logUsed: 2 });
    expect(hsm.info?.partNumber).toMatch(/simulator/);
    expect(hsm.info?.algorithms).toContain(Algorithm.AES_KWP);
    expect(hsm.maxMessageSize).toBe(3136);
  });

  it('opens, uses and closes a session; a closed session refuses further use', async () => {
    const { session, device } = await setup();
    expect(await cmd.getPseudoRandom(session, 48)).toHaveLength(48);
    expect(device.openSessionCount).toBe(1);
    await session.close();
    expect(device.openSessionCount).toBe(0);
    expect((await rejection(cmd.getPseudoRandom(session, 8))).code).toBe('YUBIHSM_SESSION_CLOSED');
  });

  it('refuses a wrong password and frees the half-open session', async () => {
    const { hsm, device } = await setup();
    const e = await rejection(hsm.openSession(1, 'wrong'));
    expect(e.code).toBe('YUBIHSM_WRONG_PASSWORD');
    expect(e.message).toBe('The YubiHSM did not accept the password of authentication key 1.');
    expect(device.openSessionCount).toBe(1); // only the one setup() opened
  });

  it('an unknown authentication key is OBJECT_NOT_FOUND', async () => {
    const { hsm } = await setup();
    expect((await rejection(hsm.openSession(0x4242, 'password'))).code).toBe('YUBIHSM_OBJECT_NOT_FOUND');
  });

  it('allows 16 sessions and refuses the 17th', async () => {
    const { hsm } = await setup();
    const more: YubiHsmSession[] = [];
    for (let i = 1; i < MAX_SESSIONS; i++) more.push(await hsm.openSession(1, 'password'));
    const e = await rejection(hsm.openSession(1, 'password'));
    expect(e.code).toBe('YUBIHSM_SESSIONS_FULL');
    expect(e.message).toBe('All 16 sessions of the YubiHSM are in use.');
    await more[0]?.close();
    await expect(hsm.openSession(1, 'password')).resolves.toBeTruthy();
  });

  it('idle sessions expire after 30 seconds', async () => {
    let now = 1_000_000;
    const { session } = await setup({ now: () => now });
    now += 31_000;
    const e = await rejection(cmd.getPseudoRandom(session, 8));
    expect(e.code).toBe('YUBIHSM_INVALID_SESSION');
  });
});

describe('integrity in transit', () => {
  it('the host detects an altered response MAC and uses nothing from it', async () => {
    const { session, transport } = await setup();
    transport.options.alterResponse = (f) => {
      f[f.length - 1] = (f[f.length - 1] as number) ^ 0x01;
      return f;
    };
    const e = await rejection(cmd.getPseudoRandom(session, 16));
    expect(e.code).toBe('YUBIHSM_RESPONSE_MAC_MISMATCH');
    expect(e.message).toMatch(/failed its integrity check \(MAC\)/);
    expect(session.isOpen).toBe(false);
  });

  it('the host detects an altered response ciphertext', async () => {
    const { session, transport } = await setup();
    transport.options.alterResponse = (f) => {
      f[5] = (f[5] as number) ^ 0x80;
      return f;
    };
    expect((await rejection(cmd.getPseudoRandom(session, 16))).code).toBe('YUBIHSM_RESPONSE_MAC_MISMATCH');
  });

  it('the device rejects an altered command and closes the session', async () => {
    const { session, transport, device } = await setup();
    transport.options.alterRequest = (f) => {
      f[4] = (f[4] as number) ^ 0x01; // a ciphertext byte
      return f;
    };
    const e = await rejection(cmd.getPseudoRandom(session, 16));
    expect(e.code).toBe('YUBIHSM_AUTHENTICATION_FAILED');
    expect(e.message).toMatch(/integrity check \(MAC\) did not verify/);
    expect(device.openSessionCount).toBe(0);
    transport.options = {};
    expect((await rejection(cmd.getPseudoRandom(session, 16))).code).toBe('YUBIHSM_SESSION_CLOSED');
  });

  it('a replayed command is refused (the MAC chain moved on)', async () => {
    const { session, transport } = await setup();
    let last: Uint8Array | undefined;
    transport.options.alterRequest = (f) => (last = f);
    await cmd.getPseudoRandom(session, 4);
    transport.options = {};
    const answer = await transport.send(last as Uint8Array);
    expect(Array.from(answer)).toEqual([0x7f, 0x00, 0x01, 0x04]);
  });
});

describe('objects, capabilities and domains', () => {
  let s: YubiHsmSession;
  let device: YubiHsmSimulator;
  beforeEach(async () => ({ session: s, device } = await setup()));

  it('the factory authentication key', async () => {
    expect(await cmd.listObjects(s)).toEqual([{ id: 1, type: ObjectType.AUTHENTICATION_KEY, sequence: 0 }]);
    const info = await cmd.getObjectInfo(s, 1, ObjectType.AUTHENTICATION_KEY);
    expect(info).toMatchObject({ id: 1, size: 40, domains: 0xffff, capabilities: ALL_CAPABILITIES, delegatedCapabilities: ALL_CAPABILITIES, origin: Origin.IMPORTED, label: FACTORY_AUTH_KEY_LABEL, algorithm: Algorithm.AES128_YUBICO_AUTHENTICATION });
  });

  it.each([
    ['EC P-256', Algorithm.EC_P256, 'sha256', 'prime256v1'],
    ['EC P-384', Algorithm.EC_P384, 'sha384', 'secp384r1'],
    ['EC P-521', Algorithm.EC_P521, 'sha512', 'secp521r1'],
    ['EC K-256', Algorithm.EC_K256, 'sha256', 'secp256k1'],
  ])('%s: generate, public key, ECDSA verified by node:crypto', async (_n, algorithm, hash, curve) => {
    const id = await cmd.generateAsymmetricKey(s, { ...obj('audit', capabilities('SIGN_ECDSA')), algorithm });
    const pub = await cmd.getPublicKey(s, id);
    expect(pub.algorithm).toBe(algorithm);
    expect(pub.key.asymmetricKeyDetails?.namedCurve).toBe(curve);
    const data = Buffer.from('transcript chain head');
    const sig = await cmd.signEcdsa(s, id, createHash(hash).update(data).digest());
    expect(verify(hash, data, createPublicKey({ key: Buffer.from(pub.spki), format: 'der', type: 'spki' }), sig)).toBe(true);
    expect((await cmd.getObjectInfo(s, id, ObjectType.ASYMMETRIC_KEY)).origin).toBe(Origin.GENERATED);
  });

  it('RSA 2048: generate and read the public key', async () => {
    const id = await cmd.generateAsymmetricKey(s, { ...obj('rsa', capabilities('SIGN_PKCS', 'EXPORTABLE_UNDER_WRAP')), algorithm: Algorithm.RSA_2048 });
    const pub = await cmd.getPublicKey(s, id);
    expect(pub.key.asymmetricKeyDetails).toMatchObject({ modulusLength: 2048, publicExponent: 65537n });
    expect(device.inspectObject(id, ObjectType.ASYMMETRIC_KEY)?.publicKey?.export({ type: 'spki', format: 'der' })).toEqual(Buffer.from(pub.spki));
  });

  it('AES-256, wrap and HMAC keys; HMAC output checked by node:crypto', async () => {
    const aes = await cmd.generateSymmetricKey(s, { ...obj('aes', capabilities('ENCRYPT_ECB', 'EXPORTABLE_UNDER_WRAP')), algorithm: Algorithm.AES256 });
    const wrap = await cmd.generateWrapKey(s, { ...obj('wrap', capabilities('EXPORT_WRAPPED')), algorithm: Algorithm.AES256_CCM_WRAP, delegatedCapabilities: capabilities('EXPORTABLE_UNDER_WRAP') });
    const hmac = await cmd.generateHmacKey(s, { ...obj('hmac', capabilities('SIGN_HMAC')), algorithm: Algorithm.HMAC_SHA256 });
    expect((await cmd.getObjectInfo(s, aes, ObjectType.SYMMETRIC_KEY)).size).toBe(32);
    expect((await cmd.getObjectInfo(s, wrap, ObjectType.WRAP_KEY)).delegatedCapabilities).toBe(capabilities('EXPORTABLE_UNDER_WRAP'));
    const mac = await cmd.signHmac(s, hmac, Buffer.from('abc'));
    const secret = device.inspectObject(hmac, ObjectType.HMAC_KEY)?.secret as Uint8Array;
    expect(Buffer.from(mac)).toEqual(createHmac('sha256', secret).update('abc').digest());
    const listed = await cmd.listObjects(s, { type: ObjectType.SYMMETRIC_KEY });
    expect(listed.map((o) => o.id)).toEqual([aes]);
    expect((await cmd.listObjects(s, { label: 'hmac' })).map((o) => o.id)).toEqual([hmac]);
  });

  it('an id already taken is OBJECT_EXISTS; delete frees it and bumps the sequence', async () => {
    const mk = () => cmd.generateSymmetricKey(s, { ...obj('k', 0n, 0x100), algorithm: Algorithm.AES256 });
    await mk();
    expect((await rejection(mk())).code).toBe('YUBIHSM_OBJECT_EXISTS');
    await cmd.deleteObject(s, 0x100, ObjectType.SYMMETRIC_KEY);
    expect((await rejection(cmd.getObjectInfo(s, 0x100, ObjectType.SYMMETRIC_KEY))).code).toBe('YUBIHSM_OBJECT_NOT_FOUND');
    await mk();
    expect((await cmd.getObjectInfo(s, 0x100, ObjectType.SYMMETRIC_KEY)).sequence).toBe(1);
  });

  it('capability refusals: the session key lacks the command, the object lacks the use, delegation is bounded', async () => {
    // A restricted authentication key: may generate asymmetric keys and sign, may delegate only SIGN_ECDSA.
    await cmd.putAuthenticationKey(s, { id: 2, label: 'operator', domains: 1, capabilities: capabilities('GENERATE_ASYMMETRIC_KEY', 'SIGN_ECDSA'), delegatedCapabilities: capabilities('SIGN_ECDSA'), credential: 'operator pw' });
    const hsm2 = await YubiHsm.connect(new SimulatorTransport(device));
    const op = await hsm2.openSession(2, 'operator pw');
    expect((await rejection(cmd.getPseudoRandom(op, 8))).code).toBe('YUBIHSM_INSUFFICIENT_PERMISSIONS');
    const e = await rejection(cmd.generateAsymmetricKey(op, { ...obj('too much', capabilities('SIGN_ECDSA', 'EXPORTABLE_UNDER_WRAP')), algorithm: Algorithm.EC_P256 }));
    expect(e.code).toBe('YUBIHSM_INSUFFICIENT_PERMISSIONS');
    expect(e.message).toMatch(/may not delegate/);
    const ok = await cmd.generateAsymmetricKey(op, { ...obj('fine', capabilities('SIGN_ECDSA')), algorithm: Algorithm.EC_P256 });
    await expect(cmd.signEcdsa(op, ok, new Uint8Array(32))).resolves.toBeTruthy();
    // An object without SIGN_ECDSA cannot sign even for a session that may.
    const noSign = await cmd.generateAsymmetricKey(s, { ...obj('no sign', 0n), algorithm: Algorithm.EC_P256 });
    expect((await rejection(cmd.signEcdsa(s, noSign, new Uint8Array(32)))).code).toBe('YUBIHSM_INSUFFICIENT_PERMISSIONS');
    // Domain outside the operator's: invisible, and not creatable.
    const other = await cmd.generateAsymmetricKey(s, { ...obj('domain 2', capabilities('SIGN_ECDSA'), 0, 2), algorithm: Algorithm.EC_P256 });
    expect((await rejection(cmd.signEcdsa(op, other, new Uint8Array(32)))).code).toBe('YUBIHSM_OBJECT_NOT_FOUND');
    expect((await cmd.listObjects(op)).some((o) => o.id === other)).toBe(false);
    expect((await rejection(cmd.generateAsymmetricKey(op, { ...obj('d2', capabilities('SIGN_ECDSA'), 0, 2), algorithm: Algorithm.EC_P256 }))).code).toBe('YUBIHSM_INSUFFICIENT_PERMISSIONS');
    // Deleting needs DELETE_ASYMMETRIC_KEY.
    expect((await rejection(cmd.deleteObject(op, ok, ObjectType.ASYMMETRIC_KEY))).code).toBe('YUBIHSM_INSUFFICIENT_PERMISSIONS');
  });

  it('init-token shape: put a new authentication key, delete the factory key, the old password no longer opens', async () => {
    await cmd.putAuthenticationKey(s, { id: 2, label: 'ceremony', domains: 0xffff, capabilities: ALL_CAPABILITIES, delegatedCapabilities: ALL_CAPABILITIES, credential: 'derived from S' });
    await cmd.deleteObject(s, 1, ObjectType.AUTHENTICATION_KEY);
    const hsm2 = await YubiHsm.connect(new SimulatorTransport(device));
    expect((await rejection(hsm2.openSession(1, 'password'))).code).toBe('YUBIHSM_OBJECT_NOT_FOUND');
    const s2 = await hsm2.openSession(2, 'derived from S');
    await cmd.changeAuthenticationKey(s2, 2, 'rotated');
    expect((await rejection(hsm2.openSession(2, 'derived from S'))).code).toBe('YUBIHSM_WRONG_PASSWORD');
    await expect(hsm2.openSession(2, 'rotated')).resolves.toBeTruthy();
  });

  it('reset erases objects, restores the factory key and ends every session', async () => {
    await cmd.generateSymmetricKey(s, { ...obj('gone', 0n), algorithm: Algorithm.AES256 });
    await cmd.resetDevice(s);
    expect(s.isOpen).toBe(false);
    expect(device.openSessionCount).toBe(0);
    const hsm2 = await YubiHsm.connect(new SimulatorTransport(device));
    const s2 = await hsm2.openSession(1, 'password');
    expect(await cmd.listObjects(s2)).toHaveLength(1);
    const log = await cmd.getLogEntries(s2);
    expect(log.entries.map((e) => e.number)).toEqual([1, 2]);
  });
});

describe('WRAP_KEY_RSA: the KMS RSA_AES_KEY_WRAP format, unwrapped with node:crypto', () => {
  function unwrap(privateKey: ReturnType<typeof generateKeyPairSync>['privateKey'], wrapped: Uint8Array, hash: 'sha1' | 'sha256', modulusBytes: number): Buffer {
    const aesKey = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, wrapped.subarray(0, modulusBytes));
    expect(aesKey).toHaveLength(32);
    const d = createDecipheriv('id-aes256-wrap-pad', aesKey, Buffer.from('a65959a6', 'hex'));
    return Buffer.concat([d.update(wrapped.subarray(modulusBytes)), d.final()]);
  }

  const kms = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 65537 });

  async function withWrapKey() {
    const ctx = await setup();
    const wrapId = await cmd.putPublicWrapKey(ctx.session, {
      ...obj('KMS wrapping key', capabilities('EXPORT_WRAPPED')),
      delegatedCapabilities: capabilities('EXPORTABLE_UNDER_WRAP', 'SIGN_ECDSA', 'SIGN_PKCS', 'ENCRYPT_ECB', 'DECRYPT_ECB'),
      publicKey: kms.publicKey,
    });
    return { ...ctx, wrapId };
  }

  it.each(['SHA-1', 'SHA-256'] as const)('AES-256 generated in the device, OAEP %s', async (hash) => {
    const { session, device, wrapId } = await withWrapKey();
    const keyId = await cmd.generateSymmetricKey(session, { ...obj('kms key', capabilities('ENCRYPT_ECB', 'EXPORTABLE_UNDER_WRAP')), algorithm: Algorithm.AES256 });
    const wrapped = await cmd.wrapKeyRsa(session, { publicWrapKeyId: wrapId, objectType: ObjectType.SYMMETRIC_KEY, objectId: keyId, hash });
    expect(wrapped).toHaveLength(256 + 40);
    const material = unwrap(kms.privateKey, wrapped, hash === 'SHA-1' ? 'sha1' : 'sha256', 256);
    expect(material).toEqual(Buffer.from(device.inspectObject(keyId, ObjectType.SYMMETRIC_KEY)?.secret as Uint8Array));
    // The wrap key's public half reads back as what was put.
    const pub = await cmd.getPublicKey(session, wrapId, ObjectType.PUBLIC_WRAP_KEY);
    expect(Buffer.from(pub.spki)).toEqual(kms.publicKey.export({ type: 'spki', format: 'der' }));
  });

  it('a key we PUT ourselves comes back exactly (independent of the model)', async () => {
    const { session, wrapId } = await withWrapKey();
    const mine = randomBytes(32);
    const keyId = await cmd.putSymmetricKey(session, { ...obj('mine', capabilities('EXPORTABLE_UNDER_WRAP')), algorithm: Algorithm.AES256, key: mine });
    const wrapped = await cmd.wrapKeyRsa(session, { publicWrapKeyId: wrapId, objectType: ObjectType.SYMMETRIC_KEY, objectId: keyId, hash: 'SHA-256' });
    expect(unwrap(kms.privateKey, wrapped, 'sha256', 256)).toEqual(mine);
  });

  it('an EC private key comes back as PKCS#8 that signs for the device public key', async () => {
    const { session, wrapId } = await withWrapKey();
    const mine = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const keyId = await cmd.putAsymmetricKey(session, { ...obj('ec mine', capabilities('SIGN_ECDSA', 'EXPORTABLE_UNDER_WRAP')), key: mine.privateKey });
    const wrapped = await cmd.wrapKeyRsa(session, { publicWrapKeyId: wrapId, objectType: ObjectType.ASYMMETRIC_KEY, objectId: keyId, hash: 'SHA-256' });
    const pkcs8 = unwrap(kms.privateKey, wrapped, 'sha256', 256);
    const back = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
    expect(back.export({ format: 'jwk' }).d).toBe(mine.privateKey.export({ format: 'jwk' }).d);
    const pub = await cmd.getPublicKey(session, keyId);
    expect(Buffer.from(pub.spki)).toEqual(mine.publicKey.export({ type: 'spki', format: 'der' }));
  });

  it('an RSA private key put as p || q comes back as the same PKCS#8 key', async () => {
    const { session, wrapId } = await withWrapKey();
    const mine = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const keyId = await cmd.putAsymmetricKey(session, { ...obj('rsa mine', capabilities('SIGN_PKCS', 'EXPORTABLE_UNDER_WRAP')), key: mine.privateKey });
    const wrapped = await cmd.wrapKeyRsa(session, { publicWrapKeyId: wrapId, objectType: ObjectType.ASYMMETRIC_KEY, objectId: keyId, hash: 'SHA-1' });
    const back = createPrivateKey({ key: unwrap(kms.privateKey, wrapped, 'sha1', 256), format: 'der', type: 'pkcs8' });
    expect(back.export({ format: 'jwk' })).toEqual(mine.privateKey.export({ format: 'jwk' }));
  });

  it('refusals: not exportable, capabilities beyond the wrap key delegation, session without EXPORT_WRAPPED', async () => {
    const { session, device, wrapId } = await withWrapKey();
    const stuck = await cmd.generateSymmetricKey(session, { ...obj('stuck', capabilities('ENCRYPT_ECB')), algorithm: Algorithm.AES256 });
    const w = (objectId: number, s = session) => cmd.wrapKeyRsa(s, { publicWrapKeyId: wrapId, objectType: ObjectType.SYMMETRIC_KEY, objectId, hash: 'SHA-256' });
    expect((await rejection(w(stuck))).code).toBe('YUBIHSM_INSUFFICIENT_PERMISSIONS');
    const wide = await cmd.generateSymmetricKey(session, { ...obj('wide', capabilities('EXPORTABLE_UNDER_WRAP', 'ENCRYPT_CBC')), algorithm: Algorithm.AES256 });
    expect((await rejection(w(wide))).code).toBe('YUBIHSM_INSUFFICIENT_PERMISSIONS');
    expect((await rejection(w(0x7777))).code).toBe('YUBIHSM_OBJECT_NOT_FOUND');
    await cmd.putAuthenticationKey(session, { id: 3, label: 'no export', domains: 0xffff, capabilities: capabilities('GET_PSEUDO_RANDOM'), delegatedCapabilities: 0n, credential: 'x' });
    const s3 = await (await YubiHsm.connect(new SimulatorTransport(device))).openSession(3, 'x');
    const ok = await cmd.generateSymmetricKey(session, { ...obj('ok', capabilities('EXPORTABLE_UNDER_WRAP')), algorithm: Algorithm.AES256 });
    expect((await rejection(w(ok, s3))).code).toBe('YUBIHSM_INSUFFICIENT_PERMISSIONS');
    await expect(w(ok)).resolves.toHaveLength(296);
  });
});

describe('audit log', () => {
  it('is off by default (firmware >= 2.3.1): only the reset and boot lines', async () => {
    const { session } = await setup();
    await cmd.getPseudoRandom(session, 8);
    const log = await cmd.getLogEntries(session);
    expect(log.entries.map((e) => [e.number, e.command])).toEqual([[1, 0xff], [2, 0]]);
  });

  it('records audited commands with keys and results, chained; SET_LOG_INDEX consumes', async () => {
    const { session, hsm } = await setup();
    await cmd.setCommandAudit(session, new Map([[Command.CREATE_SESSION, 1], [Command.AUTHENTICATE_SESSION, 1], [Command.GENERATE_SYMMETRIC_KEY, 1], [Command.DELETE_OBJECT, 1], [Command.SET_LOG_INDEX, 1]]));
    expect((await cmd.getCommandAudit(session)).get(Command.GENERATE_SYMMETRIC_KEY)).toBe(1);
    const s2 = await hsm.openSession(1, 'password');
    const id = await cmd.generateSymmetricKey(s2, { ...obj('logged', 0n), algorithm: Algorithm.AES256 });
    await rejection(cmd.deleteObject(s2, 0x7777, ObjectType.SYMMETRIC_KEY));
    const log = await cmd.getLogEntries(session);
    const tail = log.entries.slice(2).map((e) => ({ c: e.command, sk: e.sessionKey, t: e.targetKey, r: e.result, len: e.length }));
    expect(tail).toEqual([
      { c: Command.CREATE_SESSION, sk: 0xffff, t: 1, r: 0x83, len: 10 },
      { c: Command.AUTHENTICATE_SESSION, sk: 0xffff, t: 1, r: 0x84, len: 17 },
      { c: Command.GENERATE_SYMMETRIC_KEY, sk: 1, t: id, r: 0xee, len: 53 },
      { c: Command.DELETE_OBJECT, sk: 1, t: 0x7777, r: 0x7f, len: 3 },
    ]);
    const last = log.entries[log.entries.length - 1];
    await cmd.setLogIndex(session, last?.number as number);
    await cmd.getPseudoRandom(session, 1); // not audited
    const next = await cmd.getLogEntries(session, last);
    expect(next.entries.map((e) => e.command)).toEqual([Command.SET_LOG_INDEX]);
  });

  it('a tampered entry or a gap is caught', async () => {
    const { session } = await setup();
    await cmd.setCommandAudit(session, new Map([[Command.GET_PSEUDO_RANDOM, 1]]));
    for (let i = 0; i < 3; i++) await cmd.getPseudoRandom(session, 1);
    const { entries } = await cmd.getLogEntries(session);
    const forged = entries.map((e) => ({ ...e }));
    (forged[3] as (typeof forged)[number]).targetKey = 0x1234;
    expect(() => verifyLogChain(forged)).toThrow(/does not chain/);
    expect(() => verifyLogChain([entries[0], entries[2]] as typeof entries)).toThrow(/skips from entry 1 to entry 3/);
  });

  it('forced audit with a full store refuses audited commands with LOG_FULL', async () => {
    const { session } = await setup();
    await cmd.setCommandAudit(session, new Map([[Command.GET_PSEUDO_RANDOM, 1]]));
    await cmd.setForceAudit(session, AuditSetting.ON);
    expect(await cmd.getForceAudit(session)).toBe(AuditSetting.ON);
    let err: TokenError | undefined;
    for (let i = 0; i < 70 && !err; i++) await cmd.getPseudoRandom(session, 1).catch((e: TokenError) => (err = e));
    expect(err?.code).toBe('YUBIHSM_LOG_FULL');
    const { entries } = await cmd.getLogEntries(session);
    expect(entries).toHaveLength(62);
    await cmd.setLogIndex(session, (entries[entries.length - 1] as (typeof entries)[number]).number);
    await expect(cmd.getPseudoRandom(session, 1)).resolves.toHaveLength(1);
  });

  it('without forced audit the store is circular and the chain still verifies', async () => {
    const { session } = await setup();
    await cmd.setCommandAudit(session, new Map([[Command.GET_PSEUDO_RANDOM, 1]]));
    for (let i = 0; i < 70; i++) await cmd.getPseudoRandom(session, 1);
    const { entries } = await cmd.getLogEntries(session);
    expect(entries).toHaveLength(62);
    expect(entries[0]?.number).toBe(11);
  });
});
