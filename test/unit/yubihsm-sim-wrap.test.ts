// The device's wrap commands through our driver (hsm/yubihsm/wrap.ts) against two simulated YubiHSMs:
// a key carried from device A to device B under the domain's wrap key is the same key (same public key, a
// signature made on B verifies with A's public key), the wrapped blob opens with node:crypto's AES-CCM into
// Yubico's documented object layout, the permission rules hold, forced audit stops commands when the log
// is full and SET_LOG_INDEX frees it, and firmware 2.4's RSA-wrapped import takes CKM_RSA_AES_KEY_WRAP made
// by node:crypto (what a PKCS#11 token's backup would carry).
import { describe, expect, it } from 'vitest';
import {
  constants,
  createCipheriv,
  createDecipheriv,
  createECDH,
  createHash,
  createPublicKey,
  generateKeyPairSync,
  publicEncrypt,
  randomBytes,
  verify,
} from 'node:crypto';
import { TokenError } from '../../hsm/errors.js';
import { Algorithm, AuditSetting, Command, LOG_STORE_SIZE, ObjectType, Origin, capabilities } from '../../hsm/yubihsm/constants.js';
import * as cmd from '../../hsm/yubihsm/commands.js';
import * as wrap from '../../hsm/yubihsm/wrap.js';
import { YubiHsm, type YubiHsmSession } from '../../hsm/yubihsm/session.js';
import { YubiHsmSimulator, SimulatorTransport } from '../yubihsm-sim/index.js';
import { domainYubihsmWrapKey } from '../../src-main/ceremony/quorum/domain.js';
import { DOMAIN_WRAP_KEY_LABEL, exportUnderDomainWrapKey } from '../../hsm/yubihsm/domain-wrap.js';

async function device(serial: number): Promise<{ hsm: YubiHsm; s: YubiHsmSession; sim: YubiHsmSimulator }> {
  const sim = new YubiHsmSimulator({ serial });
  const hsm = await YubiHsm.connect(new SimulatorTransport(sim));
  return { hsm, s: await hsm.openSession(1, 'password'), sim };
}

async function rejection(p: Promise<unknown>): Promise<TokenError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(TokenError);
  return e as TokenError;
}

const DOMAIN_SECRET = new Uint8Array(32).fill(7);
const WRAP_KEY = new Uint8Array(domainYubihsmWrapKey(DOMAIN_SECRET));
const WRAP_ID = 0x0100;
const CARRIED = capabilities('SIGN_ECDSA', 'ENCRYPT_ECB', 'EXPORTABLE_UNDER_WRAP');

async function putDomainWrapKey(s: YubiHsmSession, delegated = CARRIED, caps = capabilities('EXPORT_WRAPPED', 'IMPORT_WRAPPED'), id = WRAP_ID) {
  return wrap.putWrapKey(s, { id, label: 'domain wrap key', domains: 1, capabilities: caps, algorithm: Algorithm.AES256_CCM_WRAP, delegatedCapabilities: delegated, key: WRAP_KEY });
}

/** Opens a wrapped object with node:crypto alone and splits Yubico's 59-byte header from the body. */
function openWithNode(key: Uint8Array, wrapped: Uint8Array) {
  const nonce = wrapped.subarray(0, 13);
  const d = createDecipheriv('aes-256-ccm', key, nonce, { authTagLength: 16 });
  d.setAuthTag(wrapped.subarray(wrapped.length - 16));
  const plain = Buffer.concat([d.update(wrapped.subarray(13, wrapped.length - 16)), d.final()]);
  const v = new DataView(plain.buffer, plain.byteOffset, plain.length);
  const length = v.getUint16(11);
  return {
    wrapAlgorithm: plain[0],
    capabilities: v.getBigUint64(1),
    id: v.getUint16(9),
    length,
    domains: v.getUint16(13),
    type: plain[15],
    algorithm: plain[16],
    origin: plain[18],
    label: plain.subarray(19, 59).toString('utf8').replace(/\0+$/, ''),
    body: plain.subarray(59),
  };
}

describe('EXPORT WRAPPED / IMPORT WRAPPED between two YubiHSMs of one domain', () => {
  it('an EC key generated on A, exported under the domain wrap key and imported on B, is the same key', async () => {
    const a = await device(1111111);
    const b = await device(2222222);
    await putDomainWrapKey(a.s);
    await putDomainWrapKey(b.s);
    const keyId = await cmd.generateAsymmetricKey(a.s, { id: 0x0200, label: 'root key', domains: 1, capabilities: capabilities('SIGN_ECDSA', 'EXPORTABLE_UNDER_WRAP'), algorithm: Algorithm.EC_P256 });
    const pubA = await cmd.getPublicKey(a.s, keyId);

    const wrapped = await wrap.exportWrapped(a.s, WRAP_ID, ObjectType.ASYMMETRIC_KEY, keyId);
    expect(await wrap.exportWrapped(a.s, WRAP_ID, ObjectType.ASYMMETRIC_KEY, keyId)).not.toEqual(wrapped); // a fresh nonce each time

    expect(await wrap.importWrapped(b.s, WRAP_ID, wrapped)).toEqual({ type: ObjectType.ASYMMETRIC_KEY, id: keyId });
    const pubB = await cmd.getPublicKey(b.s, keyId);
    expect(Buffer.from(pubB.spki)).toEqual(Buffer.from(pubA.spki));
    const info = await cmd.getObjectInfo(b.s, keyId, ObjectType.ASYMMETRIC_KEY);
    expect(info).toMatchObject({ label: 'root key', domains: 1, algorithm: Algorithm.EC_P256, capabilities: capabilities('SIGN_ECDSA', 'EXPORTABLE_UNDER_WRAP'), origin: Origin.IMPORTED_WRAPPED | Origin.GENERATED });

    // A signature made on B verifies under A's public key, checked by node:crypto.
    const message = randomBytes(64);
    const signature = await cmd.signEcdsa(b.s, keyId, new Uint8Array(createHash('sha256').update(message).digest()));
    expect(verify('sha256', message, pubA.key, signature)).toBe(true);
  });

  it('the wrapped blob is nonce || AES-CCM(header, body) || MAC: node opens it and finds the key whose public half A reports', async () => {
    const a = await device(1111112);
    await putDomainWrapKey(a.s);
    const keyId = await cmd.generateAsymmetricKey(a.s, { id: 0x0201, label: 'format check', domains: 1, capabilities: capabilities('SIGN_ECDSA', 'EXPORTABLE_UNDER_WRAP'), algorithm: Algorithm.EC_P256 });
    const pub = await cmd.getPublicKey(a.s, keyId);
    const opened = openWithNode(WRAP_KEY, await wrap.exportWrapped(a.s, WRAP_ID, ObjectType.ASYMMETRIC_KEY, keyId));
    expect(opened).toMatchObject({ wrapAlgorithm: Algorithm.AES256_CCM_WRAP, id: keyId, domains: 1, type: ObjectType.ASYMMETRIC_KEY, algorithm: Algorithm.EC_P256, origin: Origin.GENERATED, label: 'format check', length: 96 });
    expect(opened.capabilities).toBe(capabilities('SIGN_ECDSA', 'EXPORTABLE_UNDER_WRAP'));
    // Body d || x || y: x || y is the device's public key, and d * G (node's ECDH) is that point.
    expect(Buffer.from(opened.body.subarray(32))).toEqual(Buffer.from(pub.raw));
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(opened.body.subarray(0, 32));
    expect(ecdh.getPublicKey().subarray(1)).toEqual(Buffer.from(pub.raw));
  });

  it('an AES-256 key carried across encrypts the same on both devices, as node computes with the wrapped body', async () => {
    const a = await device(1111113);
    const b = await device(2222223);
    await putDomainWrapKey(a.s);
    await putDomainWrapKey(b.s);
    const keyId = await cmd.generateSymmetricKey(a.s, { id: 0x0300, label: 'aes key', domains: 1, capabilities: capabilities('ENCRYPT_ECB', 'EXPORTABLE_UNDER_WRAP'), algorithm: Algorithm.AES256 });
    const wrapped = await wrap.exportWrapped(a.s, WRAP_ID, ObjectType.SYMMETRIC_KEY, keyId);
    await wrap.importWrapped(b.s, WRAP_ID, wrapped);
    const block = randomBytes(32);
    const onA = await cmd.encryptEcb(a.s, keyId, block);
    expect(await cmd.encryptEcb(b.s, keyId, block)).toEqual(onA);
    const { body } = openWithNode(WRAP_KEY, wrapped);
    const c = createCipheriv('aes-256-ecb', body, null).setAutoPadding(false);
    expect(Buffer.concat([c.update(block), c.final()])).toEqual(Buffer.from(onA));
  });

  it('an RSA-2048 key carried across has the same public key', async () => {
    const a = await device(1111114);
    const b = await device(2222224);
    const delegated = capabilities('SIGN_PKCS', 'EXPORTABLE_UNDER_WRAP');
    await putDomainWrapKey(a.s, delegated);
    await putDomainWrapKey(b.s, delegated);
    const keyId = await cmd.generateAsymmetricKey(a.s, { id: 0x0400, label: 'rsa', domains: 1, capabilities: delegated, algorithm: Algorithm.RSA_2048 });
    await wrap.importWrapped(b.s, WRAP_ID, await wrap.exportWrapped(a.s, WRAP_ID, ObjectType.ASYMMETRIC_KEY, keyId));
    expect(Buffer.from((await cmd.getPublicKey(b.s, keyId)).spki)).toEqual(Buffer.from((await cmd.getPublicKey(a.s, keyId)).spki));
  });
});

describe('Ed25519 under wrap (the simulator\'s model; the driver has no Ed25519 commands, so raw frames)', () => {
  it('both export formats (legacy, and format 1 "with seed") import on another device and sign as the original key', async () => {
    const a = await device(1111130);
    const b = await device(2222230);
    const delegated = capabilities('SIGN_EDDSA', 'EXPORTABLE_UNDER_WRAP');
    await putDomainWrapKey(a.s, delegated);
    await putDomainWrapKey(b.s, delegated);
    const ed = generateKeyPairSync('ed25519');
    const seed = Buffer.from(ed.privateKey.export({ format: 'jwk' }).d ?? '', 'base64url');
    const label = new Uint8Array(40);
    label.set(Buffer.from('ed key'));
    const put = Buffer.concat([Buffer.from([0x08, 0x00]), label, Buffer.from([0x00, 0x01]), Buffer.from(delegated.toString(16).padStart(16, '0'), 'hex'), Buffer.from([Algorithm.EC_ED25519]), seed]);
    expect(Buffer.from(await a.s.send(Command.PUT_ASYMMETRIC_KEY, put))).toEqual(Buffer.from([0x08, 0x00]));
    const legacy = await wrap.exportWrapped(a.s, WRAP_ID, ObjectType.ASYMMETRIC_KEY, 0x0800);
    const withSeed = await a.s.send(Command.EXPORT_WRAPPED, Buffer.from([WRAP_ID >> 8, WRAP_ID & 0xff, ObjectType.ASYMMETRIC_KEY, 0x08, 0x00, 1]));
    // The legacy body is the seed, as Yubico's yubihsm-wrap builds it.
    expect(openWithNode(WRAP_KEY, legacy).body).toEqual(seed);
    for (const blob of [legacy, withSeed]) {
      await wrap.importWrapped(b.s, WRAP_ID, blob);
      const message = randomBytes(50);
      const signature = await b.s.send(Command.SIGN_EDDSA, Buffer.concat([Buffer.from([0x08, 0x00]), message]));
      expect(verify(null, message, ed.publicKey, signature)).toBe(true);
      await cmd.deleteObject(b.s, 0x0800, ObjectType.ASYMMETRIC_KEY);
    }
  });
});

describe('wrap refusals', () => {
  it('refuses to export an object without EXPORTABLE_UNDER_WRAP, or with a capability the wrap key was not delegated', async () => {
    const a = await device(1111115);
    await putDomainWrapKey(a.s, capabilities('SIGN_ECDSA', 'EXPORTABLE_UNDER_WRAP'));
    const fixed = await cmd.generateAsymmetricKey(a.s, { id: 0, label: 'stays', domains: 1, capabilities: capabilities('SIGN_ECDSA'), algorithm: Algorithm.EC_P256 });
    expect((await rejection(wrap.exportWrapped(a.s, WRAP_ID, ObjectType.ASYMMETRIC_KEY, fixed))).code).toBe('YUBIHSM_INSUFFICIENT_PERMISSIONS');
    const wider = await cmd.generateAsymmetricKey(a.s, { id: 0, label: 'wider', domains: 1, capabilities: capabilities('SIGN_ECDSA', 'DERIVE_ECDH', 'EXPORTABLE_UNDER_WRAP'), algorithm: Algorithm.EC_P256 });
    expect((await rejection(wrap.exportWrapped(a.s, WRAP_ID, ObjectType.ASYMMETRIC_KEY, wider))).code).toBe('YUBIHSM_INSUFFICIENT_PERMISSIONS');
    expect((await rejection(wrap.exportWrapped(a.s, WRAP_ID + 1, ObjectType.ASYMMETRIC_KEY, wider))).code).toBe('YUBIHSM_OBJECT_NOT_FOUND');
  });

  it('import: an existing object, a changed byte, another wrap key, or a wrap key without IMPORT_WRAPPED is refused', async () => {
    const a = await device(1111116);
    const b = await device(2222226);
    await putDomainWrapKey(a.s);
    const keyId = await cmd.generateAsymmetricKey(a.s, { id: 0x0500, label: 'k', domains: 1, capabilities: capabilities('SIGN_ECDSA', 'EXPORTABLE_UNDER_WRAP'), algorithm: Algorithm.EC_P256 });
    const wrapped = await wrap.exportWrapped(a.s, WRAP_ID, ObjectType.ASYMMETRIC_KEY, keyId);
    expect((await rejection(wrap.importWrapped(a.s, WRAP_ID, wrapped))).code).toBe('YUBIHSM_OBJECT_EXISTS');

    await putDomainWrapKey(b.s);
    const changed = wrapped.slice();
    changed[40] = (changed[40] as number) ^ 1;
    expect((await rejection(wrap.importWrapped(b.s, WRAP_ID, changed))).code).toBe('YUBIHSM_INVALID_DATA');
    await wrap.putWrapKey(b.s, { id: 0x0101, label: 'other domain', domains: 1, capabilities: capabilities('IMPORT_WRAPPED'), algorithm: Algorithm.AES256_CCM_WRAP, delegatedCapabilities: CARRIED, key: new Uint8Array(randomBytes(32)) });
    expect((await rejection(wrap.importWrapped(b.s, 0x0101, wrapped))).code).toBe('YUBIHSM_INVALID_DATA');
    await putDomainWrapKey(b.s, CARRIED, capabilities('EXPORT_WRAPPED'), 0x0102);
    expect((await rejection(wrap.importWrapped(b.s, 0x0102, wrapped))).code).toBe('YUBIHSM_INSUFFICIENT_PERMISSIONS');
    expect(b.sim.listObjectsForTest().filter((o) => o.type === ObjectType.ASYMMETRIC_KEY)).toEqual([]);

    // Deleted on A, the same blob brings it back.
    await cmd.deleteObject(a.s, keyId, ObjectType.ASYMMETRIC_KEY);
    expect(await wrap.importWrapped(a.s, WRAP_ID, wrapped)).toEqual({ type: ObjectType.ASYMMETRIC_KEY, id: keyId });
  });

  it('putWrapKey refuses a key whose length does not match the algorithm before asking the device', async () => {
    const a = await device(1111117);
    const e = await rejection(wrap.putWrapKey(a.s, { id: 0, label: 'w', domains: 1, capabilities: 0n, algorithm: Algorithm.AES128_CCM_WRAP, delegatedCapabilities: 0n, key: new Uint8Array(24) }));
    expect(e.code).toBe('YUBIHSM_INVALID_ARGUMENT');
    expect(e.message).toBe('The wrap key is 24 bytes; algorithm 29 takes 16.');
    expect(a.sim.listObjectsForTest().filter((o) => o.type === ObjectType.WRAP_KEY)).toEqual([]);
  });
});

describe('WRAP DATA / UNWRAP DATA', () => {
  it('round-trips, and node opens the device output with the wrap key', async () => {
    const a = await device(1111118);
    await putDomainWrapKey(a.s, 0n, capabilities('WRAP_DATA', 'UNWRAP_DATA'));
    const data = randomBytes(300);
    const sealed = await wrap.wrapData(a.s, WRAP_ID, data);
    expect(sealed).toHaveLength(13 + 300 + 16);
    expect(Buffer.from(await wrap.unwrapData(a.s, WRAP_ID, sealed))).toEqual(data);
    const d = createDecipheriv('aes-256-ccm', WRAP_KEY, sealed.subarray(0, 13), { authTagLength: 16 });
    d.setAuthTag(sealed.subarray(sealed.length - 16));
    expect(Buffer.concat([d.update(sealed.subarray(13, sealed.length - 16)), d.final()])).toEqual(data);
  });
});

describe('forced audit', () => {
  it('with FORCE_AUDIT on, a full log refuses audited commands (LOG_FULL) until SET_LOG_INDEX frees it', async () => {
    const a = await device(1111119);
    await cmd.setCommandAudit(a.s, new Map([[Command.GET_PSEUDO_RANDOM, AuditSetting.ON], [Command.SET_LOG_INDEX, AuditSetting.ON], [Command.SET_OPTION, AuditSetting.ON]]));
    await cmd.setForceAudit(a.s, AuditSetting.ON);
    expect(await cmd.getForceAudit(a.s)).toBe(AuditSetting.ON);
    let refused: TokenError | undefined;
    for (let i = 0; i < LOG_STORE_SIZE + 2 && !refused; i++) {
      await cmd.getPseudoRandom(a.s, 4).catch((e: unknown) => {
        refused = e as TokenError;
      });
    }
    expect(refused?.code).toBe('YUBIHSM_LOG_FULL');
    const info = await a.hsm.deviceInfo();
    expect(info.logUsed).toBe(info.logSize);
    // Commands that are not audited still run.
    expect(await cmd.getObjectInfo(a.s, 1, ObjectType.AUTHENTICATION_KEY)).toMatchObject({ id: 1 });

    const { entries } = await cmd.getLogEntries(a.s);
    await cmd.setLogIndex(a.s, (entries.at(-1) as { number: number }).number);
    expect(await cmd.getPseudoRandom(a.s, 4)).toHaveLength(4);
    await cmd.setForceAudit(a.s, AuditSetting.OFF);
    expect(await cmd.getForceAudit(a.s)).toBe(AuditSetting.OFF);
  });
});

describe('RSA-wrapped import (firmware 2.4 UNWRAP_KEY_RSA), CKM_RSA_AES_KEY_WRAP made by node:crypto', () => {
  /** RSA-OAEP-SHA256(AES-256 key) || RFC 5649(material), computed without the device. */
  function rsaAesKeyWrap(publicKey: ReturnType<typeof createPublicKey>, material: Uint8Array): Uint8Array {
    const aes = randomBytes(32);
    const head = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, aes);
    const c = createCipheriv('id-aes256-wrap-pad', aes, Buffer.from('a65959a6', 'hex'));
    return new Uint8Array(Buffer.concat([head, c.update(material), c.final()]));
  }

  async function withRsaWrapKey(serial: number, delegated: bigint) {
    const a = await device(serial);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 65537 });
    const wrapId = await wrap.putWrapKey(a.s, { id: 0x0600, label: 'rsa import', domains: 1, capabilities: capabilities('IMPORT_WRAPPED'), algorithm: Algorithm.RSA_2048, delegatedCapabilities: delegated, key: rsa.privateKey });
    // The device reports the public half of the wrap key it holds.
    expect(Buffer.from((await cmd.getPublicKey(a.s, wrapId, ObjectType.WRAP_KEY)).spki)).toEqual(rsa.publicKey.export({ type: 'spki', format: 'der' }));
    return { ...a, wrapId, rsa };
  }

  it('imports an EC private key given as PKCS#8: same public key, signatures verify', async () => {
    const { s, wrapId, rsa } = await withRsaWrapKey(1111120, capabilities('SIGN_ECDSA'));
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const pkcs8 = new Uint8Array(ec.privateKey.export({ type: 'pkcs8', format: 'der' }));
    const got = await wrap.unwrapKeyRsa(s, { wrapKeyId: wrapId, objectType: ObjectType.ASYMMETRIC_KEY, object: { id: 0x0700, label: 'restored', domains: 1, capabilities: capabilities('SIGN_ECDSA'), algorithm: Algorithm.EC_P384 }, wrapped: rsaAesKeyWrap(rsa.publicKey, pkcs8), hash: 'SHA-256' });
    expect(got).toEqual({ type: ObjectType.ASYMMETRIC_KEY, id: 0x0700 });
    expect(Buffer.from((await cmd.getPublicKey(s, 0x0700)).spki)).toEqual(ec.publicKey.export({ type: 'spki', format: 'der' }));
    expect(await cmd.getObjectInfo(s, 0x0700, ObjectType.ASYMMETRIC_KEY)).toMatchObject({ origin: Origin.IMPORTED_WRAPPED | Origin.IMPORTED });
    const message = randomBytes(40);
    const sig = await cmd.signEcdsa(s, 0x0700, new Uint8Array(createHash('sha384').update(message).digest()));
    expect(verify('sha384', message, ec.publicKey, sig)).toBe(true);
  });

  it('imports an AES-256 key: it encrypts as node does with the same bytes', async () => {
    const { s, wrapId, rsa } = await withRsaWrapKey(1111121, capabilities('ENCRYPT_ECB'));
    const key = randomBytes(32);
    await wrap.unwrapKeyRsa(s, { wrapKeyId: wrapId, objectType: ObjectType.SYMMETRIC_KEY, object: { id: 0x0701, label: 'aes', domains: 1, capabilities: capabilities('ENCRYPT_ECB'), algorithm: Algorithm.AES256 }, wrapped: rsaAesKeyWrap(rsa.publicKey, key), hash: 'SHA-256' });
    const block = randomBytes(16);
    const c = createCipheriv('aes-256-ecb', key, null).setAutoPadding(false);
    expect(Buffer.from(await cmd.encryptEcb(s, 0x0701, block))).toEqual(Buffer.concat([c.update(block), c.final()]));
  });

  it('refuses PKCS#8 with trailing zero bytes (SoftHSM 2.6 pads it so), a wrong algorithm, and undelegated capabilities', async () => {
    const { s, wrapId, rsa, sim } = await withRsaWrapKey(1111122, capabilities('SIGN_ECDSA'));
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pkcs8 = new Uint8Array(ec.privateKey.export({ type: 'pkcs8', format: 'der' }));
    const object = { id: 0x0702, label: 'x', domains: 1, capabilities: capabilities('SIGN_ECDSA'), algorithm: Algorithm.EC_P256 };
    const padded = new Uint8Array([...pkcs8, 0, 0, 0, 0, 0]);
    expect((await rejection(wrap.unwrapKeyRsa(s, { wrapKeyId: wrapId, objectType: ObjectType.ASYMMETRIC_KEY, object, wrapped: rsaAesKeyWrap(rsa.publicKey, padded), hash: 'SHA-256' }))).code).toBe('YUBIHSM_INVALID_DATA');
    expect((await rejection(wrap.unwrapKeyRsa(s, { wrapKeyId: wrapId, objectType: ObjectType.ASYMMETRIC_KEY, object: { ...object, algorithm: Algorithm.EC_P384 }, wrapped: rsaAesKeyWrap(rsa.publicKey, pkcs8), hash: 'SHA-256' }))).code).toBe('YUBIHSM_INVALID_DATA');
    expect((await rejection(wrap.unwrapKeyRsa(s, { wrapKeyId: wrapId, objectType: ObjectType.ASYMMETRIC_KEY, object: { ...object, capabilities: capabilities('SIGN_ECDSA', 'EXPORTABLE_UNDER_WRAP') }, wrapped: rsaAesKeyWrap(rsa.publicKey, pkcs8), hash: 'SHA-256' }))).code).toBe('YUBIHSM_INSUFFICIENT_PERMISSIONS');
    // SHA-1 OAEP sent, SHA-256 declared: the OAEP check fails inside the device.
    const sha1 = (() => {
      const aes = randomBytes(32);
      const head = publicEncrypt({ key: rsa.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, aes);
      const c = createCipheriv('id-aes256-wrap-pad', aes, Buffer.from('a65959a6', 'hex'));
      return new Uint8Array(Buffer.concat([head, c.update(pkcs8), c.final()]));
    })();
    expect((await rejection(wrap.unwrapKeyRsa(s, { wrapKeyId: wrapId, objectType: ObjectType.ASYMMETRIC_KEY, object, wrapped: sha1, hash: 'SHA-256' }))).code).toBe('YUBIHSM_INVALID_DATA');
    expect(await wrap.unwrapKeyRsa(s, { wrapKeyId: wrapId, objectType: ObjectType.ASYMMETRIC_KEY, object, wrapped: sha1, hash: 'SHA-1' })).toEqual({ type: ObjectType.ASYMMETRIC_KEY, id: 0x0702 });
    expect(sim.listObjectsForTest().filter((o) => o.type === ObjectType.ASYMMETRIC_KEY)).toHaveLength(1);
  });
});

describe('a temporary domain wrap key left behind by a crash', () => {
  it('is deleted by the next export under the domain wrap key, which then works and leaves no wrap key', async () => {
    const a = await device(3333333);
    const keyId = await cmd.generateAsymmetricKey(a.s, { id: 0x0300, label: 'kept key', domains: 1, capabilities: capabilities('SIGN_ECDSA', 'EXPORTABLE_UNDER_WRAP'), algorithm: Algorithm.EC_P256 });
    // What a process killed between PUT WRAP KEY and its delete leaves: a wrap key with our label.
    await wrap.putWrapKey(a.s, { id: 0x0777, label: DOMAIN_WRAP_KEY_LABEL, domains: 1, capabilities: capabilities('EXPORT_WRAPPED'), algorithm: Algorithm.AES256_CCM_WRAP, delegatedCapabilities: CARRIED, key: WRAP_KEY });
    // A wrap key of the user's own, under another label, is not ours to delete.
    await putDomainWrapKey(a.s);
    const wrapped = await exportUnderDomainWrapKey(a.s, ObjectType.ASYMMETRIC_KEY, keyId, WRAP_KEY);
    expect(openWithNode(WRAP_KEY, wrapped)).toBeTruthy();
    const wrapKeys = a.sim.listObjectsForTest().filter((o) => o.type === ObjectType.WRAP_KEY);
    expect(wrapKeys.map((o) => o.id)).toEqual([WRAP_ID]);
  });
});
