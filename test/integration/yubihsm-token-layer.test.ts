// The YubiHSM behind the token interface (hsm/token.ts), against the simulator: in-process, and over the
// connector HTTP protocol. Wrapped material is unwrapped independently (node:crypto and the openssl CLI)
// and compared with the simulator's stored key and with the check value the device computes.
import { spawnSync } from 'node:child_process';
import { constants, createCipheriv, createDecipheriv, createPublicKey, generateKeyPairSync, privateDecrypt, verify } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeKmsCapabilities } from '../../hsm/capabilities.js';
import { TokenError } from '../../hsm/errors.js';
import { ObjectType, capabilities } from '../../hsm/yubihsm/constants.js';
import * as yhc from '../../hsm/yubihsm/commands.js';
import { YubiHsm } from '../../hsm/yubihsm/session.js';
import { unplugged } from '../../hsm/yubihsm/errors.js';
import { verifyLogChain } from '../../hsm/yubihsm/log.js';
import { YubiHsmTokenLayer, type DeviceLog } from '../../hsm/yubihsm/token-layer.js';
import { decodeHandle } from '../../hsm/yubihsm/token-layer-map.js';
import type { SecretKeyTemplate, SlotRef } from '../../hsm/types.js';
import { TokenAuditSigner } from '../../src-main/transcript/token-signer.js';
import { CHAIN_HEAD_LABEL, readChainHead, writeChainHead } from '../../src-main/transcript/chain-head.js';
import { exportFromStore } from '../../src-main/transcript/export.js';
import { TranscriptStore } from '../../src-main/transcript/store.js';
import { verifyBundles } from '../../src-main/transcript/verify.js';
import { spkiToPem } from '../../src-main/transcript/ecdsa.js';
import { SimulatorTransport, YubiHsmSimulator } from '../yubihsm-sim/index.js';
import { aesCmac } from '../../hsm/yubihsm/crypto.js';
import { ZERO_BLOCK, checkTokenCanGenerate, checkValueFromMac, computeCheckValue, generateKmsKey } from '../../src-main/kms/index.js';
import { startConnectorServer, type ConnectorServer } from '../yubihsm-sim/http-server.js';
import { FakeUsb, FakeYubiHsmUsb } from '../yubihsm-sim/fake-usb.js';
import { expectStrictPkcs8 } from '../helpers/strict-pkcs8.js';

const SO_PIN = 'so-password-from-the-ceremony-secret';
const USER_PIN = 'operator-password-from-the-ceremony-secret';
const MODULE = 'yubihsm:sim';

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(TokenError);
    return (e as TokenError).code;
  }
  throw new Error('expected a TokenError');
}

const aesTemplate = (label: string, over: Partial<SecretKeyTemplate> = {}): SecretKeyTemplate => ({
  label,
  id: new Uint8Array(),
  token: true,
  private: true,
  sensitive: true,
  extractable: true,
  encrypt: false,
  decrypt: false,
  sign: false,
  verify: false,
  wrap: false,
  unwrap: false,
  derive: false,
  ...over,
});

describe('YubiHsmTokenLayer on the simulator (in-process)', () => {
  const sim = new YubiHsmSimulator({ serial: 7654321 });
  const layer = new YubiHsmTokenLayer({ transports: { [MODULE]: () => [new SimulatorTransport(sim)] }, keepAliveMs: 0 });
  const slot: SlotRef = { moduleId: MODULE, slotId: '7654321' };
  let session: string;
  const logs: DeviceLog[] = [];
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kc-yubihsm-layer-'));
  });
  afterAll(async () => {
    await layer.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('lists the device as one blank slot', async () => {
    const [status] = await layer.configureModules([{ path: MODULE }]);
    expect(status).toMatchObject({ id: MODULE, loaded: true, library: { manufacturer: 'Yubico' } });
    const slots = await layer.listSlots(MODULE);
    expect(slots).toHaveLength(1);
    expect(slots[0]).toMatchObject({ slotId: '7654321', manufacturer: 'Yubico', tokenPresent: true, hardware: true, token: { manufacturer: 'Yubico', model: 'YubiHSM 2', serial: '7654321', initialized: false, label: '' } });
  });

  it('initToken, initUserPin, login with the derived passwords; the factory key 1 is gone; wrong passwords refused', async () => {
    await layer.initToken(slot, SO_PIN, 'ceremony-2026');
    const [after] = await layer.listSlots(MODULE);
    expect(after?.token).toMatchObject({ initialized: true, label: 'ceremony-2026' });
    // PKCS#11 URIs name the device too.
    const byUri = await layer.openSession({ uri: 'pkcs11:manufacturer=Yubico;model=YubiHSM%202;serial=7654321;token=ceremony-2026' }, { readWrite: false });
    expect([byUri.moduleId, byUri.slotId]).toEqual([MODULE, '7654321']);
    await layer.closeSession(byUri.session);
    expect(await code(layer.openSession({ uri: 'pkcs11:serial=1' }, { readWrite: false }))).toBe('TOKEN_NOT_FOUND');

    const hsm = await YubiHsm.connect(new SimulatorTransport(sim));
    expect(await code(hsm.openSession(1, 'password'))).toBe('YUBIHSM_OBJECT_NOT_FOUND');
    expect(sim.inspectObject(1, ObjectType.AUTHENTICATION_KEY)).toBeUndefined();
    expect(sim.inspectObject(2, ObjectType.AUTHENTICATION_KEY)?.label).toBe('keyceremony-admin');

    session = (await layer.openSession(slot, { readWrite: true })).session;
    expect(await code(layer.random(session, 8))).toBe('CKR_USER_NOT_LOGGED_IN');
    const wrong = layer.login(session, 'so', 'not-the-pin');
    await expect(wrong).rejects.toThrow('did not accept the SO (admin authentication key 2) PIN');
    expect(await code(layer.login(session, 'so', 'not-the-pin'))).toBe('CKR_PIN_INCORRECT');
    expect(await code(layer.login(session, 'user', USER_PIN))).toBe('CKR_USER_PIN_NOT_INITIALIZED');
    await layer.login(session, 'so', SO_PIN);
    // The SO manages authentication keys; it does not generate keys.
    expect(await code(layer.generateSecretKey(session, { type: 'AES', bits: 256 }, aesTemplate('x')))).toBe('CKR_USER_NOT_LOGGED_IN');
    await layer.initUserPin(session, USER_PIN);
    logs.push(await layer.deviceLog(slot, { markConsumed: true }));
    await layer.logout(session);
    expect(await code(layer.login(session, 'user', SO_PIN))).toBe('CKR_PIN_INCORRECT');
    await layer.login(session, 'user', USER_PIN);
    expect(await layer.random(session, 32)).toHaveLength(32);
    expect(sim.inspectObject(3, ObjectType.AUTHENTICATION_KEY)?.label).toBe('keyceremony-operator');
  });

  it('reports RSA_AES_KEY_WRAP_* as possible and RSAES_OAEP_* as not possible on this device', async () => {
    const caps = await probeKmsCapabilities(layer, slot);
    expect(caps.map((c) => [c.algorithm, c.supported])).toEqual([
      ['RSAES_OAEP_SHA_1', false],
      ['RSAES_OAEP_SHA_256', false],
      ['RSA_AES_KEY_WRAP_SHA_1', true],
      ['RSA_AES_KEY_WRAP_SHA_256', true],
    ]);
    expect(caps[0]?.reason).toContain('RSAES_OAEP_* is not possible on this device');
    expect(caps[3]?.method).toContain('WRAP_KEY_RSA');
    const mechs = await layer.listMechanisms(slot);
    expect(mechs.find((m) => m.name === 'CKM_RSA_AES_KEY_WRAP')?.flags.wrap).toBe(true);
    expect(mechs.some((m) => m.name === 'CKM_RSA_PKCS_OAEP')).toBe(false);
  });

  it('AES-256 wrapped with RSA_AES_KEY_WRAP SHA-1 and SHA-256, unwrapped independently, equals the stored key and the device check value', async () => {
    const kms = generateKeyPairSync('rsa', { modulusLength: 3072, publicExponent: 65537 });
    const spki = new Uint8Array(kms.publicKey.export({ type: 'spki', format: 'der' }));
    const wrapping = await layer.createPublicKeyFromSpki(session, spki, { label: 'kms-wrapping-key', token: true, encrypt: true, wrap: true, verify: false });
    const key = await layer.generateSecretKey(session, { type: 'AES', bits: 256 }, aesTemplate('kms-material', { encrypt: true }));
    expect(await layer.getAttributes(session, key, ['CKA_CLASS', 'CKA_KEY_TYPE', 'CKA_EXTRACTABLE', 'CKA_SENSITIVE', 'CKA_LOCAL', 'CKA_VALUE_LEN', 'CKA_VALUE', 'CKA_LABEL', 'CKA_TOKEN'])).toEqual({
      CKA_CLASS: 4,
      CKA_KEY_TYPE: 0x1f,
      CKA_EXTRACTABLE: true,
      CKA_SENSITIVE: true,
      CKA_LOCAL: true,
      CKA_VALUE_LEN: 32,
      CKA_VALUE: null,
      CKA_LABEL: 'kms-material',
      CKA_TOKEN: true,
    });
    const stored = Buffer.from(sim.inspectObject(decodeHandle(key).id, ObjectType.SYMMETRIC_KEY)?.secret as Uint8Array);
    const kcv = Buffer.from(await layer.keyCheckValue(session, key));

    for (const [hash, node] of [
      ['SHA-1', 'sha1'],
      ['SHA-256', 'sha256'],
    ] as const) {
      const wrapped = Buffer.from(await layer.wrapKey(session, { name: 'RSA_AES_KEY_WRAP', hash }, wrapping, key));
      expect(wrapped.length).toBe(384 + 40);
      const aesKey = privateDecrypt({ key: kms.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: node }, wrapped.subarray(0, 384));
      const d = createDecipheriv('id-aes256-wrap-pad', aesKey, Buffer.from('A65959A6', 'hex'));
      const material = Buffer.concat([d.update(wrapped.subarray(384)), d.final()]);
      expect(material.equals(stored)).toBe(true);
      // The check value the device computed (AES-ECB of a zero block) matches the unwrapped material.
      const c = createCipheriv('aes-256-ecb', material, null).setAutoPadding(false);
      expect(Buffer.concat([c.update(Buffer.alloc(16)), c.final()]).subarray(0, 3).equals(kcv)).toBe(true);

      // The openssl CLI, as a compliance team would: pkeyutl for the OAEP part, enc for the key wrap.
      const work = join(dir, hash);
      await mkdir(work);
      await writeFile(join(work, 'kms.pem'), kms.privateKey.export({ type: 'pkcs8', format: 'pem' }));
      await writeFile(join(work, 'key.bin'), wrapped.subarray(0, 384));
      await writeFile(join(work, 'material.bin'), wrapped.subarray(384));
      const md = node;
      const o1 = spawnSync('openssl', ['pkeyutl', '-decrypt', '-inkey', 'kms.pem', '-in', 'key.bin', '-out', 'aes.bin', '-pkeyopt', 'rsa_padding_mode:oaep', '-pkeyopt', `rsa_oaep_md:${md}`, '-pkeyopt', `rsa_mgf1_md:${md}`], { cwd: work, encoding: 'utf8' });
      expect(o1.status, o1.stderr).toBe(0);
      const aesHex = (await readFile(join(work, 'aes.bin'))).toString('hex');
      expect(aesHex).toBe(aesKey.toString('hex'));
      const o2 = spawnSync('openssl', ['enc', '-d', '-id-aes256-wrap-pad', '-K', aesHex, '-iv', 'A65959A6', '-in', 'material.bin'], { cwd: work });
      expect(o2.status, String(o2.stderr)).toBe(0);
      expect(Buffer.from(o2.stdout).equals(stored)).toBe(true);
    }

    // What the device cannot do is refused in words.
    await expect(layer.wrapKey(session, { name: 'RSA_PKCS_OAEP', hash: 'SHA-256' }, wrapping, key)).rejects.toThrow('RSAES_OAEP_* is not possible on this device');
    await expect(layer.generateSecretKey(session, { type: 'GENERIC_SECRET', bytes: 32 }, aesTemplate('hmac'))).rejects.toThrow('WRAP_KEY_RSA wraps only asymmetric and AES keys');
    const hmac = await layer.generateSecretKey(session, { type: 'GENERIC_SECRET', bytes: 32 }, aesTemplate('hmac', { extractable: false, sign: true }));
    await expect(layer.wrapKey(session, { name: 'RSA_AES_KEY_WRAP', hash: 'SHA-256' }, wrapping, hmac)).rejects.toThrow('cannot export an HMAC key');
    expect(await layer.sign(session, { name: 'SHA256_HMAC' }, hmac, Buffer.from('data'))).toHaveLength(32);
    const unexportable = await layer.generateSecretKey(session, { type: 'AES', bits: 256 }, aesTemplate('stays', { extractable: false }));
    expect((await layer.getAttributes(session, unexportable, ['CKA_EXTRACTABLE', 'CKA_NEVER_EXTRACTABLE']))).toEqual({ CKA_EXTRACTABLE: false, CKA_NEVER_EXTRACTABLE: true });
    expect(await code(layer.wrapKey(session, { name: 'RSA_AES_KEY_WRAP', hash: 'SHA-256' }, wrapping, unexportable))).toBe('YUBIHSM_INSUFFICIENT_PERMISSIONS');
    const ecPub = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' });
    await expect(layer.createPublicKeyFromSpki(session, ecPub, { label: 'ec', token: true, encrypt: false, wrap: true, verify: false })).rejects.toThrow('only holds public keys to wrap to');
    logs.push(await layer.deviceLog(slot, { previous: logs[0]?.entries.at(-1), markConsumed: true }));
  });

  it('the KMS core (src-main/kms) generates and checks SYMMETRIC_DEFAULT and ECC_NIST_P384 on the adapter; WRAP_KEY_RSA exports them', async () => {
    const kms = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 65537 });
    const wrapping = await layer.createPublicKeyFromSpki(session, new Uint8Array(kms.publicKey.export({ type: 'spki', format: 'der' })), { label: 'kms-2048', token: false, encrypt: true, wrap: true, verify: false });
    const unwrap = (wrapped: Uint8Array) => {
      const aesKey = privateDecrypt({ key: kms.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, wrapped.subarray(0, 256));
      const d = createDecipheriv('id-aes256-wrap-pad', aesKey, Buffer.from('A65959A6', 'hex'));
      return Buffer.concat([d.update(wrapped.subarray(256)), d.final()]);
    };

    await checkTokenCanGenerate(layer, slot, 'SYMMETRIC_DEFAULT', session);
    const aes = await generateKmsKey(layer, session, 'SYMMETRIC_DEFAULT', 'kms-aes');
    const stored = Buffer.from(sim.inspectObject(decodeHandle(aes.handle).id, ObjectType.SYMMETRIC_KEY)?.secret as Uint8Array);
    expect(await computeCheckValue(layer, session, aes)).toEqual(checkValueFromMac(aesCmac(stored, ZERO_BLOCK), 'AES-CMAC-ZERO-BLOCK'));
    const aesOut = unwrap(await layer.wrapKey(session, { name: 'RSA_AES_KEY_WRAP', hash: 'SHA-256' }, wrapping, aes.handle));
    expect(aesOut).toHaveLength(32);
    expect(aesOut.equals(stored)).toBe(true);

    await checkTokenCanGenerate(layer, slot, 'ECC_NIST_P384', session);
    const ec = await generateKmsKey(layer, session, 'ECC_NIST_P384', 'kms-ec');
    const pkcs8 = sim.inspectObject(decodeHandle(ec.handle).id, ObjectType.ASYMMETRIC_KEY)?.privateKey?.export({ type: 'pkcs8', format: 'der' }) as Buffer;
    const exported = unwrap(await layer.wrapKey(session, { name: 'RSA_AES_KEY_WRAP', hash: 'SHA-256' }, wrapping, ec.handle));
    // As strict as the KMS: exactly one DER PrivateKeyInfo (no trailing bytes), loaded by Python; and the stored key.
    expectStrictPkcs8('ECC_NIST_P384', exported);
    expect(exported.equals(pkcs8)).toBe(true);
    expect(createPublicKey({ key: Buffer.from(ec.publicKeySpkiDer as Uint8Array), format: 'der', type: 'spki' }).asymmetricKeyDetails?.namedCurve).toBe('secp384r1');

    // HMAC material cannot leave a YubiHSM for a KMS: refused before anything is generated.
    await expect(generateKmsKey(layer, session, 'HMAC_256', 'kms-hmac')).rejects.toThrow('WRAP_KEY_RSA wraps only asymmetric and AES keys');
  });

  it('EC P-384 audit key: ECDSA r||s verified by node:crypto against CKA_EC_POINT', async () => {
    const { publicKey, privateKey } = await layer.generateKeyPair(
      session,
      { type: 'EC', curve: 'P-384' },
      { label: 'p384-test', id: new Uint8Array([0x12, 0x34]), token: true, encrypt: false, verify: true, wrap: false },
      { label: 'p384-test', id: new Uint8Array([0x12, 0x34]), token: true, private: true, sensitive: true, extractable: false, decrypt: false, sign: true, unwrap: false, derive: false },
    );
    const pub = await layer.getAttributes(session, publicKey, ['CKA_EC_POINT', 'CKA_EC_PARAMS', 'CKA_ID', 'CKA_CLASS', 'CKA_VERIFY']);
    expect(pub).toMatchObject({ CKA_ID: new Uint8Array([0x12, 0x34]), CKA_CLASS: 2, CKA_VERIFY: true, CKA_EC_PARAMS: new Uint8Array(Buffer.from('06052b81040022', 'hex')) });
    const point = pub.CKA_EC_POINT as Uint8Array;
    expect([point[0], point[1], point[2]]).toEqual([0x04, 97, 0x04]);
    const xy = Buffer.from(point.subarray(3));
    const key = createPublicKey({ key: { kty: 'EC', crv: 'P-384', x: xy.subarray(0, 48).toString('base64url'), y: xy.subarray(48).toString('base64url') }, format: 'jwk' });
    const data = Buffer.from('transcript head');
    const sig = await layer.sign(session, { name: 'ECDSA_SHA384' }, privateKey, data);
    expect(sig).toHaveLength(96);
    expect(verify('sha384', data, { key, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
    expect(await layer.findAll(session, { id: new Uint8Array([0x12, 0x34]) })).toEqual([privateKey, publicKey]);
    expect(await code(layer.destroyObject(session, publicKey))).toBe('CKR_ACTION_PROHIBITED');
    await layer.destroyObject(session, privateKey);
    await layer.destroyObject(session, publicKey);
    expect(await layer.findAll(session, { label: 'p384-test' })).toEqual([]);
  });

  it('data objects: create, read, replace; findOne with none and with several', async () => {
    await layer.createDataObject(session, { label: 'chain-head', application: 'keyceremony', token: true, private: true }, Buffer.from('head 1'));
    expect(Buffer.from(await layer.readDataObject(session, 'chain-head')).toString()).toBe('head 1');
    await layer.replaceDataObject(session, 'chain-head', Buffer.from('head 2'));
    expect(Buffer.from(await layer.readDataObject(session, 'chain-head')).toString()).toBe('head 2');
    expect(await layer.findAll(session, { label: 'chain-head', class: 'DATA' })).toHaveLength(1);
    // The label object is not an object the ceremony sees.
    expect(await layer.findAll(session, { label: 'keyceremony-label' })).toEqual([]);

    const none = layer.findOne(session, { label: 'nothing-here' });
    await expect(none).rejects.toThrow("The YubiHSM holds no object with label 'nothing-here'");
    expect(await code(layer.findOne(session, { label: 'nothing-here' }))).toBe('OBJECT_NOT_FOUND');
    await layer.createDataObject(session, { label: 'twice', application: '', token: true, private: true }, Buffer.from('a'));
    await layer.createDataObject(session, { label: 'twice', application: '', token: true, private: true }, Buffer.from('b'));
    expect(await code(layer.findOne(session, { label: 'twice', class: 'DATA' }))).toBe('OBJECT_AMBIGUOUS');
    await expect(layer.createDataObject(session, { label: 'x'.repeat(41), application: '', token: true, private: true }, Buffer.from('a'))).rejects.toThrow('at most 40 bytes');
  });

  it('the token audit signer runs on the adapter: bundle verifies, chain head anchored in an opaque object', async () => {
    const signer = await TokenAuditSigner.generate(layer, session);
    const opened = await layer.openSession(slot, { readWrite: true });
    const token = { manufacturer: opened.token.manufacturer, model: opened.token.model, serial: opened.token.serial, label: opened.token.label };
    await layer.closeSession(opened.session);
    const { store } = await TranscriptStore.open(join(dir, 'store'));
    await store.appendGenesis('c1', 'administrator', token, signer.spkiDer());
    await store.append({ ceremonyId: 'c1', step: 'generate', kind: 'intent', actor: 'administrator', data: { label: 'k' } });
    await store.append({ ceremonyId: 'c1', step: 'generate', kind: 'result', actor: 'token', data: { ok: true } });
    const out = join(dir, 'usb');
    await mkdir(out);
    const bundle = await exportFromStore(store, signer, { parentDir: out, range: { ceremonyId: 'c1' }, appVersion: '0.1.0' });
    const ossl = spawnSync('openssl', ['dgst', '-sha384', '-verify', 'audit-public-key.pem', '-signature', 'transcript.jsonl.sig', 'transcript.jsonl'], { cwd: bundle.path, encoding: 'utf8' });
    expect(ossl.stdout.trim()).toBe('Verified OK');
    expect((await verifyBundles([bundle.path], { expectAuditKeyPem: spkiToPem(signer.spkiDer()) })).ok).toBe(true);
    const again = await TokenAuditSigner.open(layer, session);
    expect(Buffer.from(again.spkiDer()).equals(Buffer.from(signer.spkiDer()))).toBe(true);

    expect(await readChainHead(layer, session)).toBeNull();
    const head = store.head() as { seq: number; hash: string };
    await writeChainHead(layer, session, { seq: head.seq, hash: head.hash });
    expect(await readChainHead(layer, session)).toEqual({ seq: head.seq, hash: head.hash });
    await store.append({ ceremonyId: 'c2', step: 'wrap', kind: 'intent', actor: 'administrator', data: {} });
    const h2 = store.head() as { seq: number; hash: string };
    await writeChainHead(layer, session, { seq: h2.seq, hash: h2.hash });
    expect(await layer.findAll(session, { label: CHAIN_HEAD_LABEL, class: 'DATA' })).toHaveLength(1);
    await store.close();
  });

  it("the device's own log covers the ceremony, with a verified digest chain across reads", async () => {
    logs.push(await layer.deviceLog(session, { previous: logs[1]?.entries.at(-1) }));
    const all = logs.flatMap((l) => l.entries);
    // One unbroken chain from the reset line to now.
    expect(() => verifyLogChain(all)).not.toThrow();
    expect(all[0]?.commandName).toBe('RESET');
    const names = all.map((e) => e.commandName);
    // (The SET_OPTION that turns command audit on is not itself covered: audit was off when it ran.)
    for (const c of ['PUT_OPAQUE', 'DELETE_OBJECT', 'PUT_AUTHENTICATION_KEY', 'CREATE_SESSION', 'AUTHENTICATE_SESSION', 'PUT_PUBLIC_WRAP_KEY', 'GENERATE_SYMMETRIC_KEY', 'WRAP_KEY_RSA', 'ENCRYPT_ECB', 'GENERATE_ASYMMETRIC_KEY', 'SIGN_ECDSA'])
      expect(names, c).toContain(c);
    // The factory key's deletion is on record: DELETE_OBJECT of key 1 by admin key 2.
    expect(all.some((e) => e.commandName === 'DELETE_OBJECT' && e.targetKey === 1 && e.sessionKey === 2)).toBe(true);
    // Wrong passwords are on record too.
    expect(all.some((e) => e.commandName === 'AUTHENTICATE_SESSION' && e.result === 0x7f)).toBe(true);
    // WRAP_KEY_RSA: SHA-1 and SHA-256 of the AES key, then the KMS core's AES and EC keys; failures recorded too.
    expect(all.filter((e) => e.commandName === 'WRAP_KEY_RSA' && e.result === 0xf4)).toHaveLength(4);
    expect(all.filter((e) => e.commandName === 'WRAP_KEY_RSA' && e.result === 0x7f).length).toBeGreaterThan(0);
  });

  it('initToken again needs the SO PIN, and resets the device', async () => {
    await layer.closeSession(session);
    expect(await code(layer.initToken(slot, 'wrong', 'again'))).toBe('CKR_PIN_INCORRECT');
    await layer.initToken(slot, SO_PIN, 'again');
    expect((await layer.listSlots(MODULE))[0]?.token).toMatchObject({ initialized: true, label: 'again', userPinInitialized: false });
    const s = (await layer.openSession(slot, { readWrite: false })).session;
    expect(await code(layer.login(s, 'user', USER_PIN))).toBe('CKR_USER_PIN_NOT_INITIALIZED');
    await layer.login(s, 'so', SO_PIN);
    expect(await layer.findAll(s, {})).toEqual([]);
    await layer.closeSession(s);
  });
});

/** A simulator on a cable that can be pulled: while unplugged, every transfer fails as node-usb's does. */
class Cable extends SimulatorTransport {
  plugged = true;
  override async send(frame: Uint8Array): Promise<Uint8Array> {
    if (!this.plugged) throw unplugged();
    return super.send(frame);
  }
}

describe('YubiHsmTokenLayer when the device is unplugged and plugged back in', () => {
  const sim = new YubiHsmSimulator({ serial: 99 });
  const cable = new Cable(sim);
  const layer = new YubiHsmTokenLayer({ transports: { [MODULE]: () => [cable] }, keepAliveMs: 0 });
  const slot = { moduleId: MODULE, slotId: '99' };
  afterAll(() => layer.close());

  it('says the YubiHSM was unplugged, shows the slot without a token, and works again after a replug with a new login', async () => {
    await layer.configureModules([{ path: MODULE }]);
    await layer.initToken(slot, SO_PIN, 'replug');
    const { session } = await layer.openSession(slot, { readWrite: true });
    await layer.login(session, 'so', SO_PIN);
    await layer.initUserPin(session, USER_PIN);
    await layer.logout(session);
    await layer.login(session, 'user', USER_PIN);
    await layer.random(session, 4);

    cable.plugged = false;
    const failed = layer.random(session, 4);
    await expect(failed).rejects.toThrow('YubiHSM 2 serial 99 was unplugged: its login ended with it');
    // The session had a login: what is lost is the login (the ceremony engine then lets the run go).
    expect(await code(failed)).toBe('CKR_USER_NOT_LOGGED_IN');
    expect(await code(layer.random(session, 4))).toBe('CKR_USER_NOT_LOGGED_IN');
    expect(await layer.listSlots(MODULE)).toMatchObject([{ slotId: '99', tokenPresent: false }]);
    expect(await code(layer.openSession(slot, { readWrite: true }))).toBe('CKR_DEVICE_REMOVED');

    sim.powerCycle();
    cable.plugged = true;
    expect(await layer.listSlots(MODULE)).toMatchObject([{ slotId: '99', tokenPresent: true, token: { initialized: true } }]);
    // The old session ended with the device; a new one needs a new login.
    expect(await code(layer.random(session, 4))).toBe('CKR_USER_NOT_LOGGED_IN');
    await layer.closeSession(session);
    const again = (await layer.openSession(slot, { readWrite: true })).session;
    expect(await code(layer.random(again, 4))).toBe('CKR_USER_NOT_LOGGED_IN');
    await layer.login(again, 'user', USER_PIN);
    expect(await layer.random(again, 4)).toHaveLength(4);
    await layer.closeSession(again);
  });
});

describe('YubiHsmTokenLayer after an interrupted initialisation', () => {
  it('a device whose key 1 still opens but which holds other objects is reset before it is set up', async () => {
    const sim = new YubiHsmSimulator({ serial: 8 });
    const raw = await YubiHsm.connect(new SimulatorTransport(sim));
    const s1 = await raw.openSession(1, 'password');
    await yhc.putAuthenticationKey(s1, { id: 2, label: 'half-done', domains: 1, capabilities: capabilities('GET_PSEUDO_RANDOM'), delegatedCapabilities: 0n, credential: 'old' });
    await yhc.putOpaque(s1, { id: 5, label: 'stray', domains: 1, capabilities: 0n, data: Uint8Array.of(1) });
    await s1.close();
    const layer = new YubiHsmTokenLayer({ transports: { [MODULE]: () => [new SimulatorTransport(sim)] }, keepAliveMs: 0 });
    try {
      await layer.configureModules([{ path: MODULE }]);
      await layer.initToken({ moduleId: MODULE, slotId: '8' }, SO_PIN, 'clean');
      expect(sim.inspectObject(2, ObjectType.AUTHENTICATION_KEY)?.label).toBe('keyceremony-admin');
      expect(sim.inspectObject(5, ObjectType.OPAQUE)).toBeUndefined();
      expect(sim.inspectObject(1, ObjectType.AUTHENTICATION_KEY)).toBeUndefined();
    } finally {
      await layer.close();
    }
  });
});

describe('YubiHsmTokenLayer on yubihsm:usb (fake WebUSB devices backed by simulators)', () => {
  it('enumerates the devices as slots, and follows an unplug and a replug', async () => {
    const simA = new YubiHsmSimulator({ serial: 11 });
    const simB = new YubiHsmSimulator({ serial: 22 });
    const a = new FakeYubiHsmUsb('0000000011', simA);
    const usb = new FakeUsb([a, new FakeYubiHsmUsb('0000000022', simB)]);
    const layer = new YubiHsmTokenLayer({ usb: async () => usb, keepAliveMs: 0 });
    try {
      expect(await layer.configureModules([{ path: 'yubihsm:usb' }])).toMatchObject([{ id: 'yubihsm:usb', loaded: true, library: { description: 'YubiHSM 2 over USB' } }]);
      expect((await layer.listSlots('yubihsm:usb')).map((s) => [s.slotId, s.tokenPresent, s.token?.initialized])).toEqual([
        ['11', true, false],
        ['22', true, false],
      ]);
      const ref = { moduleId: 'yubihsm:usb', slotId: '11' };
      await layer.initToken(ref, SO_PIN, 'usb');
      const { session } = await layer.openSession(ref, { readWrite: true });
      await layer.login(session, 'so', SO_PIN);

      usb.unplug(a);
      usb.devices.splice(usb.devices.indexOf(a), 1);
      await expect(layer.random(session, 4)).rejects.toThrow('YubiHSM 2 serial 11 was unplugged: its login ended with it');
      expect((await layer.listSlots('yubihsm:usb')).map((s) => [s.slotId, s.tokenPresent])).toEqual([
        ['11', false],
        ['22', true],
      ]);

      simA.powerCycle();
      usb.devices.push(new FakeYubiHsmUsb('0000000011', simA));
      expect((await layer.listSlots('yubihsm:usb')).map((s) => [s.slotId, s.tokenPresent, s.token?.initialized])).toEqual([
        ['11', true, true],
        ['22', true, false],
      ]);
      expect(await code(layer.random(session, 4))).toBe('CKR_USER_NOT_LOGGED_IN');
      await layer.closeSession(session);
      const again = (await layer.openSession(ref, { readWrite: true })).session;
      await layer.login(again, 'so', SO_PIN);
      expect(await layer.random(again, 4)).toHaveLength(4);
    } finally {
      await layer.close();
    }
  });
});

describe('YubiHsmTokenLayer and the idle timeout of device sessions', () => {
  it('keeps a logged-in session alive with ECHO; without it the device drops the session and the layer says to log in again', async () => {
    for (const keepAliveMs of [40, 0]) {
      const sim = new YubiHsmSimulator({ serial: 5, sessionTimeoutMs: 150 });
      const layer = new YubiHsmTokenLayer({ transports: { [MODULE]: () => [new SimulatorTransport(sim)] }, keepAliveMs });
      await layer.configureModules([{ path: MODULE }]);
      const ref = { moduleId: MODULE, slotId: '5' };
      await layer.initToken(ref, SO_PIN, 'idle');
      const { session } = await layer.openSession(ref, { readWrite: true });
      await layer.login(session, 'so', SO_PIN);
      await new Promise((r) => setTimeout(r, 400));
      if (keepAliveMs > 0) expect(await layer.random(session, 4)).toHaveLength(4);
      else {
        const lost = layer.random(session, 4);
        await expect(lost).rejects.toThrow('ended the session (timeout, reset or replug)');
        expect(await code(layer.random(session, 4))).toBe('CKR_USER_NOT_LOGGED_IN');
      }
      await layer.close();
    }
  });
});

describe('YubiHsmTokenLayer over the connector HTTP protocol', () => {
  let server: ConnectorServer;
  const layer = new YubiHsmTokenLayer({ keepAliveMs: 0 });
  beforeAll(async () => {
    server = await startConnectorServer({ device: new YubiHsmSimulator({ serial: 42 }) });
  });
  afterAll(async () => {
    await layer.close();
    await server?.close();
  });

  it('init, login, setPin, EC key, signature, and a refused non-loopback connector', async () => {
    const moduleId = `yubihsm:${server.url}`;
    const statuses = await layer.configureModules([{ path: moduleId, kind: 'yubihsm' }, { path: 'yubihsm:http://192.0.2.1:12345' }]);
    expect(statuses[0]).toMatchObject({ loaded: true });
    expect(statuses[1]).toMatchObject({ loaded: false, error: { code: 'YUBIHSM_CONNECTOR_NOT_LOOPBACK' } });
    const [slot] = await layer.listSlots(moduleId);
    expect(slot).toMatchObject({ slotId: '42', token: { initialized: false } });
    const ref = { moduleId, slotId: '42' };
    await layer.initToken(ref, SO_PIN, 'http');
    const { session } = await layer.openSession(ref, { readWrite: true });
    await layer.login(session, 'so', SO_PIN);
    await layer.initUserPin(session, USER_PIN);
    await layer.logout(session);
    await layer.login(session, 'user', USER_PIN);
    // setPin checks the old password itself (the device would not), then changes the operator key.
    expect(await code(layer.setPin(session, 'not-the-old-pin', 'new-user-pin'))).toBe('CKR_PIN_INCORRECT');
    await layer.setPin(session, USER_PIN, 'new-user-pin');
    await layer.logout(session);
    expect(await code(layer.login(session, 'user', USER_PIN))).toBe('CKR_PIN_INCORRECT');
    await layer.login(session, 'user', 'new-user-pin');
    const { publicKey, privateKey } = await layer.generateKeyPair(
      session,
      { type: 'EC', curve: 'P-256' },
      { label: 'k', id: new Uint8Array(), token: true, encrypt: false, verify: true, wrap: false },
      { label: 'k', id: new Uint8Array(), token: true, private: true, sensitive: true, extractable: false, decrypt: false, sign: true, unwrap: false, derive: false },
    );
    const { CKA_EC_POINT } = await layer.getAttributes(session, publicKey, ['CKA_EC_POINT']);
    const xy = Buffer.from((CKA_EC_POINT as Uint8Array).subarray(3));
    const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: xy.subarray(0, 32).toString('base64url'), y: xy.subarray(32).toString('base64url') }, format: 'jwk' });
    const sig = await layer.sign(session, { name: 'ECDSA_SHA256' }, privateKey, Buffer.from('over http'));
    expect(verify('sha256', Buffer.from('over http'), { key, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
    await layer.closeSession(session);
  });
});
