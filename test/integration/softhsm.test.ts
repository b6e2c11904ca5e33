// The PKCS#11 driver against a real SoftHSM 2 token in a private directory. Every cryptographic output is
// checked with node:crypto, never only by this code.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { constants, createDecipheriv, createHash, createPublicKey, generateKeyPairSync, privateDecrypt, verify } from 'node:crypto';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import { probeKmsCapabilities } from '../../hsm/capabilities.js';
import { TokenError } from '../../hsm/errors.js';
import { unwrapEcPoint } from '../../hsm/pkcs11/templates.js';
import type { SecretKeyTemplate, SlotInfo } from '../../hsm/types.js';
import { SOFTHSM_MODULE, createSoftHsmEnv, initSoftHsmToken, type SoftHsmEnv } from '../helpers/softhsm.js';
import { aesCmac } from '../helpers/aes-cmac.js';

const SO_PIN = '87654321';
const USER_PIN = '12345678';
const MISSING = '/nonexistent/libpkcs11-missing.so';
const NOT_PKCS11 = '/usr/lib/x86_64-linux-gnu/libz.so.1';

let env: SoftHsmEnv;
let layer: Pkcs11TokenLayer;
let slotA: string;
let session: string;

async function rejection(p: Promise<unknown>): Promise<TokenError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(TokenError);
    return e as TokenError;
  }
  throw new Error('expected a TokenError, got success');
}

function aesTemplate(label: string, over: Partial<SecretKeyTemplate> = {}): SecretKeyTemplate {
  return {
    label,
    id: new Uint8Array([0x42]),
    token: false,
    private: true,
    sensitive: true,
    extractable: true,
    encrypt: false,
    decrypt: false,
    sign: true,
    verify: true,
    wrap: false,
    unwrap: false,
    derive: false,
    ...over,
  };
}

beforeAll(async () => {
  env = createSoftHsmEnv();
  slotA = initSoftHsmToken('ceremony-a', SO_PIN, USER_PIN);
  initSoftHsmToken('ceremony-b', SO_PIN, USER_PIN);
  layer = new Pkcs11TokenLayer();
  await layer.configureModules([{ path: SOFTHSM_MODULE, source: 'default' }, { path: MISSING }, { path: NOT_PKCS11 }]);
});

afterAll(async () => {
  await layer?.close();
  env?.cleanup();
});

describe('modules and slots', () => {
  it('a missing path and a non-PKCS#11 library are reported while SoftHSM loads', async () => {
    const [softhsm, missing, notPkcs11] = await layer.listModules();
    expect(softhsm).toMatchObject({ id: SOFTHSM_MODULE, loaded: true, source: 'default', library: { manufacturer: 'SoftHSM', cryptokiVersion: '2.40' } });
    expect(missing).toMatchObject({ id: MISSING, loaded: false, error: { code: 'MODULE_NOT_FOUND', message: `No PKCS#11 module at ${MISSING}: the file does not exist` } });
    expect(notPkcs11?.loaded).toBe(false);
    expect(notPkcs11?.error?.code).toBe('MODULE_LOAD_FAILED');
    expect(notPkcs11?.error?.message).toContain(`${NOT_PKCS11} is not a PKCS#11 module`);
    expect(notPkcs11?.error?.message).toContain('C_GetFunctionList');
    expect(notPkcs11?.error?.remedy).toBeTruthy();
  });

  it('lists both tokens and the free slot, with blank padding trimmed', async () => {
    const slots = await layer.listSlots(SOFTHSM_MODULE);
    const labels = slots.map((s) => s.token?.label);
    expect(labels).toContain('ceremony-a');
    expect(labels).toContain('ceremony-b');
    const a = slots.find((s) => s.token?.label === 'ceremony-a') as SlotInfo;
    expect(a.slotId).toBe(slotA);
    expect(a.tokenPresent).toBe(true);
    expect(a.token).toMatchObject({ model: 'SoftHSM v2', manufacturer: 'SoftHSM project', initialized: true, userPinInitialized: true, loginRequired: true });
    expect(a.token?.serial).toMatch(/^[0-9a-f]{16}$/);
    expect(a.description).toMatch(/^SoftHSM slot ID 0x[0-9a-f]+$/);
    const free = slots.find((s) => s.token && !s.token.initialized);
    expect(free?.token?.label).toBe('');
  });

  it('names the mechanisms, including CKM_AES_KEY_WRAP_PAD with its wrap flag', async () => {
    const mechs = await layer.listMechanisms({ moduleId: SOFTHSM_MODULE, slotId: slotA });
    const pad = mechs.find((m) => m.name === 'CKM_AES_KEY_WRAP_PAD');
    expect(pad?.code).toBe(0x210a);
    expect(pad?.flags.wrap).toBe(true);
    expect(mechs.find((m) => m.name === 'CKM_RSA_PKCS_OAEP')?.flags.wrap).toBe(true);
    expect(mechs.some((m) => m.name === 'CKM_RSA_AES_KEY_WRAP')).toBe(false);
    expect(mechs.every((m) => m.name.startsWith('CKM_') || m.name.startsWith('0x'))).toBe(true);
  });
});

describe('sessions', () => {
  it('opens by PKCS#11 URI', async () => {
    const opened = await layer.openSession({ uri: 'pkcs11:token=ceremony-a' }, { readWrite: true });
    expect(opened).toMatchObject({ moduleId: SOFTHSM_MODULE, slotId: slotA, token: { label: 'ceremony-a' } });
    session = opened.session;
  });

  it('a URI that matches nothing lists what is attached', async () => {
    const e = await rejection(layer.openSession({ uri: 'pkcs11:token=nope' }, { readWrite: false }));
    expect(e.code).toBe('TOKEN_NOT_FOUND');
    expect(e.message).toMatch(/^No token matches pkcs11:token=nope\. Attached: /);
    expect(e.message).toContain(`"ceremony-a" (SoftHSM slot ${slotA} via ${SOFTHSM_MODULE})`);
  });

  it('a URI that matches two tokens is ambiguous', async () => {
    const e = await rejection(layer.openSession({ uri: 'pkcs11:token=ceremony-a?module-name=softhsm2' }, { readWrite: false }).then(async (s) => {
      await layer.closeSession(s.session);
      return layer.openSession({ uri: 'pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project' }, { readWrite: false });
    }));
    expect(e.code).toBe('TOKEN_AMBIGUOUS');
    expect(e.message).toMatch(/^3 tokens match pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project: /);
  });

  it('a bad URI is a URI_INVALID error', async () => {
    expect((await rejection(layer.openSession({ uri: 'pkcs11:token=a b' }, { readWrite: false }))).code).toBe('URI_INVALID');
  });

  it('an uninitialised token says to run init-token', async () => {
    const free = (await layer.listSlots(SOFTHSM_MODULE)).find((s) => s.token && !s.token.initialized) as SlotInfo;
    const e = await rejection(layer.openSession(free, { readWrite: true }));
    expect(e.code).toBe('CKR_TOKEN_NOT_RECOGNIZED');
    expect(e.message).toBe(`SoftHSM slot ${free.slotId} via ${SOFTHSM_MODULE}: the token has not been initialised`);
    expect(e.remedy).toMatch(/init-token/);
  });

  it('a wrong PIN is CKR_PIN_INCORRECT in words, then the right PIN works', async () => {
    const e = await rejection(layer.login(session, 'user', '0000'));
    expect(e.code).toBe('CKR_PIN_INCORRECT');
    expect(e.message).toBe(`SoftHSM slot ${slotA} (token "ceremony-a") via ${SOFTHSM_MODULE}: the token did not accept the PIN`);
    await layer.login(session, 'user', USER_PIN);
  });

  it('initToken refuses while a session is open on the slot', async () => {
    const e = await rejection(layer.initToken({ moduleId: SOFTHSM_MODULE, slotId: slotA }, SO_PIN, 'erased'));
    expect(e.code).toBe('CKR_SESSION_EXISTS');
    expect(e.message).toContain('1 session(s) of this application are still open');
  });

  it('initToken, initUserPin and setPin through the driver', async () => {
    const free = (await layer.listSlots(SOFTHSM_MODULE)).find((s) => s.token && !s.token.initialized) as SlotInfo;
    await layer.initToken(free, SO_PIN, 'via-driver');
    // SoftHSM moves an initialised token to a new slot id derived from its serial.
    const slot = (await layer.listSlots(SOFTHSM_MODULE)).find((s) => s.token?.label === 'via-driver') as SlotInfo;
    expect(slot.token?.initialized).toBe(true);
    expect(slot.token?.userPinInitialized).toBe(false);
    const s = (await layer.openSession({ uri: 'pkcs11:token=via-driver' }, { readWrite: true })).session;
    expect((await rejection(layer.login(s, 'user', USER_PIN))).code).toBe('CKR_USER_PIN_NOT_INITIALIZED');
    await layer.login(s, 'so', SO_PIN);
    await layer.initUserPin(s, USER_PIN);
    await layer.logout(s);
    await layer.login(s, 'user', USER_PIN);
    await layer.setPin(s, USER_PIN, '11112222');
    await layer.logout(s);
    expect((await rejection(layer.login(s, 'user', USER_PIN))).code).toBe('CKR_PIN_INCORRECT');
    await layer.login(s, 'user', '11112222');
    await layer.closeSession(s);
    expect((await rejection(layer.logout(s))).code).toBe('SESSION_UNKNOWN');
  });
});

describe('keys, wrapping and signatures', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const spki = new Uint8Array(rsa.publicKey.export({ format: 'der', type: 'spki' }));
  let wrappingKey: string;
  let kek: string;
  let kekBytes: Buffer;

  it('generates an AES-256 key whose attributes say so, and whose value stays inside', async () => {
    const key = await layer.generateSecretKey(session, { type: 'AES', bits: 256 }, aesTemplate('attr-check', { token: true }));
    const a = await layer.getAttributes(session, key, ['CKA_LOCAL', 'CKA_SENSITIVE', 'CKA_EXTRACTABLE', 'CKA_VALUE', 'CKA_VALUE_LEN', 'CKA_LABEL', 'CKA_ID', 'CKA_TOKEN', 'CKA_KEY_GEN_MECHANISM', 'CKA_MODULUS', 'CKA_NEVER_EXTRACTABLE']);
    expect(a).toEqual({
      CKA_LOCAL: true,
      CKA_SENSITIVE: true,
      CKA_EXTRACTABLE: true,
      CKA_VALUE: null,
      CKA_VALUE_LEN: 32,
      CKA_LABEL: 'attr-check',
      CKA_ID: new Uint8Array([0x42]),
      CKA_TOKEN: true,
      CKA_KEY_GEN_MECHANISM: 0x1080,
      CKA_MODULUS: null,
      CKA_NEVER_EXTRACTABLE: false,
    });
    await layer.destroyObject(session, key);
    expect(await layer.findAll(session, { label: 'attr-check' })).toEqual([]);
  });

  it('wraps an AES key under an RSA key made from an SPKI (OAEP SHA-1); node:crypto decrypts it and the CMACs agree', async () => {
    wrappingKey = await layer.createPublicKeyFromSpki(session, spki, { label: 'kms-wrapping', token: false, encrypt: true, wrap: true, verify: false });
    const attrs = await layer.getAttributes(session, wrappingKey, ['CKA_MODULUS', 'CKA_PUBLIC_EXPONENT']);
    expect(Buffer.from(attrs.CKA_MODULUS as Uint8Array).toString('base64url')).toBe(rsa.publicKey.export({ format: 'jwk' }).n);
    kek = await layer.generateSecretKey(session, { type: 'AES', bits: 256 }, aesTemplate('kek', { wrap: true }));
    const wrapped = await layer.wrapKey(session, { name: 'RSA_PKCS_OAEP', hash: 'SHA-1' }, wrappingKey, kek);
    expect(wrapped.length).toBe(256);
    kekBytes = privateDecrypt({ key: rsa.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, wrapped);
    expect(kekBytes.length).toBe(32);
    const message = Buffer.from('the wrapped key is the key in the token');
    const tokenMac = await layer.sign(session, { name: 'AES_CMAC' }, kek, message);
    expect(Buffer.from(tokenMac).toString('hex')).toBe(aesCmac(kekBytes, message).toString('hex'));
  });

  it('SoftHSM 2.6.1 refuses OAEP with SHA-256 (CKR_ARGUMENTS_BAD)', async () => {
    const e = await rejection(layer.wrapKey(session, { name: 'RSA_PKCS_OAEP', hash: 'SHA-256' }, wrappingKey, kek));
    expect(e.code).toBe('CKR_ARGUMENTS_BAD');
  });

  it('CKM_AES_KEY_WRAP_PAD is RFC 5649 here: node unwraps it with id-aes256-wrap-pad', async () => {
    const material = await layer.generateSecretKey(session, { type: 'AES', bits: 256 }, aesTemplate('material'));
    const wrapped = await layer.wrapKey(session, { name: 'AES_KEY_WRAP_PAD' }, kek, material);
    expect(wrapped.length).toBe(40);
    const d = createDecipheriv('id-aes256-wrap-pad', kekBytes, Buffer.from('A65959A6', 'hex'));
    const materialBytes = Buffer.concat([d.update(wrapped), d.final()]);
    expect(materialBytes.length).toBe(32);
    const msg = Buffer.from('x'.repeat(33));
    expect(Buffer.from(await layer.sign(session, { name: 'AES_CMAC' }, material, msg))).toEqual(aesCmac(materialBytes, msg));
    // RFC 3394 as well, for comparison: same key, different framing.
    const w3394 = await layer.wrapKey(session, { name: 'AES_KEY_WRAP' }, kek, material);
    const d2 = createDecipheriv('id-aes256-wrap', kekBytes, Buffer.from('A6A6A6A6A6A6A6A6', 'hex'));
    expect(Buffer.concat([d2.update(w3394), d2.final()])).toEqual(materialBytes);
  });

  it('refuses to wrap a non-extractable key with CKR_KEY_UNEXTRACTABLE', async () => {
    const locked = await layer.generateSecretKey(session, { type: 'AES', bits: 256 }, aesTemplate('locked', { extractable: false }));
    const e = await rejection(layer.wrapKey(session, { name: 'AES_KEY_WRAP_PAD' }, kek, locked));
    expect(e.code).toBe('CKR_KEY_UNEXTRACTABLE');
    expect(e.message).toContain('the key was created as non-extractable');
  });

  it('ECDSA P-384 over a SHA-384 digest verifies in node:crypto with the key read from CKA_EC_POINT', async () => {
    const pair = await layer.generateKeyPair(
      session,
      { type: 'EC', curve: 'P-384' },
      { label: 'ec', id: new Uint8Array([7]), token: false, encrypt: false, verify: true, wrap: false },
      { label: 'ec', id: new Uint8Array([7]), token: false, private: true, sensitive: true, extractable: false, decrypt: false, sign: true, unwrap: false, derive: false },
    );
    const { CKA_EC_POINT } = await layer.getAttributes(session, pair.publicKey, ['CKA_EC_POINT']);
    const point = unwrapEcPoint(CKA_EC_POINT as Uint8Array);
    expect(point.length).toBe(97);
    const publicKey = createPublicKey({
      key: { kty: 'EC', crv: 'P-384', x: Buffer.from(point.subarray(1, 49)).toString('base64url'), y: Buffer.from(point.subarray(49)).toString('base64url') },
      format: 'jwk',
    });
    const message = Buffer.from('transcript head');
    const digest = await layer.digest(session, 'SHA-384', message);
    expect(Buffer.from(digest)).toEqual(createHash('sha384').update(message).digest());
    const sig = await layer.sign(session, { name: 'ECDSA' }, pair.privateKey, digest);
    expect(sig.length).toBe(96);
    expect(verify('sha384', message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
    expect(verify('sha384', Buffer.from('other'), { key: publicKey, dsaEncoding: 'ieee-p1363' }, sig)).toBe(false);
    const attrs = await layer.getAttributes(session, pair.privateKey, ['CKA_LOCAL', 'CKA_ALWAYS_SENSITIVE', 'CKA_NEVER_EXTRACTABLE', 'CKA_EC_PARAMS']);
    expect(attrs).toEqual({ CKA_LOCAL: true, CKA_ALWAYS_SENSITIVE: true, CKA_NEVER_EXTRACTABLE: true, CKA_EC_PARAMS: new Uint8Array(Buffer.from('06052b81040022', 'hex')) });
  });

  it('RSA-2048 key pair: SHA256_RSA_PKCS verifies in node:crypto with the modulus read back', async () => {
    const pair = await layer.generateKeyPair(
      session,
      { type: 'RSA', bits: 2048 },
      { label: 'rsa', id: new Uint8Array([8]), token: false, encrypt: false, verify: true, wrap: false },
      { label: 'rsa', id: new Uint8Array([8]), token: false, private: true, sensitive: true, extractable: false, decrypt: false, sign: true, unwrap: false, derive: false },
    );
    const a = await layer.getAttributes(session, pair.publicKey, ['CKA_MODULUS', 'CKA_PUBLIC_EXPONENT', 'CKA_MODULUS_BITS']);
    expect(a.CKA_MODULUS_BITS).toBe(2048);
    expect(Buffer.from(a.CKA_PUBLIC_EXPONENT as Uint8Array).toString('hex')).toBe('010001');
    const publicKey = createPublicKey({ key: { kty: 'RSA', n: Buffer.from(a.CKA_MODULUS as Uint8Array).toString('base64url'), e: 'AQAB' }, format: 'jwk' });
    const message = Buffer.from('approve step 3');
    const sig = await layer.sign(session, { name: 'SHA256_RSA_PKCS' }, pair.privateKey, message);
    expect(verify('sha256', message, publicKey, sig)).toBe(true);
  });

  it('random bytes differ between calls', async () => {
    const [a, b] = [await layer.random(session, 32), await layer.random(session, 32)];
    expect(a.length).toBe(32);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
  });
});

describe('recovery', () => {
  it('AES-CMAC over an empty message fails clearly, and the next CMAC on the same handle works', async () => {
    const key = await layer.generateSecretKey(session, { type: 'AES', bits: 256 }, aesTemplate('cmac', { sensitive: false }));
    const { CKA_VALUE } = await layer.getAttributes(session, key, ['CKA_VALUE']);
    const e = await rejection(layer.sign(session, { name: 'AES_CMAC' }, key, new Uint8Array()));
    expect(e.code).toBe('CKR_ARGUMENTS_BAD');
    expect(e.message).toBe(`SoftHSM slot ${slotA} (token "ceremony-a") via ${SOFTHSM_MODULE}: the token does not accept an empty message for AES_CMAC`);
    const msg = Buffer.from('after the failure');
    const mac = await layer.sign(session, { name: 'AES_CMAC' }, key, msg);
    expect(Buffer.from(mac)).toEqual(aesCmac(CKA_VALUE as Uint8Array, msg));
    // And once more, so a half-recovered session would show.
    expect(Buffer.from(await layer.sign(session, { name: 'AES_CMAC' }, key, msg))).toEqual(Buffer.from(mac));
  });

  it('an unknown object handle is an INVALID_ARGUMENT, not a crash', async () => {
    expect((await rejection(layer.destroyObject(session, 'not-a-handle'))).code).toBe('INVALID_ARGUMENT');
    expect((await rejection(layer.destroyObject(session, 'ffffffff00000000'))).code).toBe('CKR_OBJECT_HANDLE_INVALID');
  });
});

describe('data objects and finding', () => {
  it('create, read, replace', async () => {
    await layer.createDataObject(session, { label: 'transcript-head', application: 'keyceremony', token: true, private: true }, Buffer.from('v1'));
    expect(Buffer.from(await layer.readDataObject(session, 'transcript-head')).toString()).toBe('v1');
    await layer.replaceDataObject(session, 'transcript-head', Buffer.from('v2, longer than before'));
    expect(Buffer.from(await layer.readDataObject(session, 'transcript-head')).toString()).toBe('v2, longer than before');
    const [obj] = await layer.findAll(session, { class: 'DATA', label: 'transcript-head' });
    expect(await layer.getAttributes(session, obj as string, ['CKA_APPLICATION', 'CKA_TOKEN', 'CKA_PRIVATE'])).toEqual({
      CKA_APPLICATION: 'keyceremony',
      CKA_TOKEN: true,
      CKA_PRIVATE: true,
    });
  });

  it('findOne: none and several are errors that say how many and what was asked', async () => {
    const none = await rejection(layer.findOne(session, { label: 'absent', class: 'SECRET_KEY' }));
    expect(none.code).toBe('OBJECT_NOT_FOUND');
    expect(none.message).toBe(`SoftHSM slot ${slotA} (token "ceremony-a") via ${SOFTHSM_MODULE}: no object matches class SECRET_KEY, label "absent"`);
    for (const v of ['a', 'b']) await layer.createDataObject(session, { label: 'twin', application: 'test', token: false, private: false }, Buffer.from(v));
    const twins = await rejection(layer.findOne(session, { label: 'twin' }));
    expect(twins.code).toBe('OBJECT_AMBIGUOUS');
    expect(twins.message).toContain('2 objects match label "twin", expected exactly one');
    const idMatch = await layer.findOne(session, { class: 'SECRET_KEY', label: 'kek', id: new Uint8Array([0x42]) });
    expect(idMatch).toMatch(/^[0-9a-f]+$/);
  });
});

describe('capabilities', () => {
  it('SoftHSM 2.6.1 can do the two SHA-1 algorithms inside the token, probed', async () => {
    const caps = await probeKmsCapabilities(layer, { moduleId: SOFTHSM_MODULE, slotId: slotA });
    expect(Object.fromEntries(caps.map((c) => [c.algorithm, c.supported]))).toEqual({
      RSAES_OAEP_SHA_1: true,
      RSAES_OAEP_SHA_256: false,
      RSA_AES_KEY_WRAP_SHA_1: true,
      RSA_AES_KEY_WRAP_SHA_256: false,
    });
    expect(caps.every((c) => c.probed)).toBe(true);
    expect(caps[2]?.method).toContain('CKM_AES_KEY_WRAP_PAD');
    // The table says what the composed path does to private keys (SoftHSM pads their PKCS#8).
    expect(caps[2]?.reason).toContain('But it pads private keys: a throw-away P-256 PKCS#8 of 67 bytes came back as 72, which strict receivers reject');
  });

  it('an uninitialised token is decided from the mechanism list, saying why', async () => {
    initSoftHsmToken('unused', SO_PIN, USER_PIN); // leaves a fresh free slot
    const free = (await layer.listSlots(SOFTHSM_MODULE)).find((s) => s.token && !s.token.initialized) as SlotInfo;
    const caps = await probeKmsCapabilities(layer, free);
    expect(caps.every((c) => !c.probed)).toBe(true);
    expect(caps[0]?.reason).toBe('Untested (the token is blank: nothing can be tried on it before it is initialised): CKM_RSA_PKCS_OAEP is listed, but only a probe can tell whether it does SHA-1.');
  });
});

describe('unloading', () => {
  it('reconfiguring without the module closes its sessions and unloads it', async () => {
    await layer.configureModules([]);
    expect(await layer.listModules()).toEqual([]);
    expect((await rejection(layer.random(session, 8))).code).toBe('SESSION_UNKNOWN');
    expect((await rejection(layer.listSlots(SOFTHSM_MODULE))).code).toBe('MODULE_NOT_LOADED');
  });
});
