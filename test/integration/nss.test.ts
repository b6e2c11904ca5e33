// The PKCS#11 driver against NSS softoken with its own temporary database: the token that does OAEP with
// SHA-256 and RFC 5649 (CKM_AES_KEY_WRAP_KWP) inside itself. Outputs are checked with node:crypto.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { constants, createDecipheriv, generateKeyPairSync, privateDecrypt } from 'node:crypto';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import { probeKmsCapabilities } from '../../hsm/capabilities.js';
import type { SecretKeyTemplate, SlotInfo } from '../../hsm/types.js';
import { NSS_DB_TOKEN_LABEL, NSS_SOFTOKEN_MODULE, createNssDb, type NssDb } from '../helpers/nss.js';

let nss: NssDb;
let layer: Pkcs11TokenLayer;
let session: string;
let dbSlot: SlotInfo;

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const spki = new Uint8Array(rsa.publicKey.export({ format: 'der', type: 'spki' }));

function secret(label: string, over: Partial<SecretKeyTemplate>): SecretKeyTemplate {
  return {
    label,
    id: new Uint8Array(),
    token: false,
    private: false,
    sensitive: false,
    extractable: true,
    encrypt: false,
    decrypt: false,
    sign: false,
    verify: false,
    wrap: false,
    unwrap: false,
    derive: false,
    ...over,
  };
}

beforeAll(async () => {
  nss = createNssDb();
  layer = new Pkcs11TokenLayer();
  const [status] = await layer.configureModules([nss.module]);
  expect(status?.loaded, JSON.stringify(status?.error)).toBe(true);
  dbSlot = (await layer.listSlots(NSS_SOFTOKEN_MODULE)).find((s) => s.token?.label === NSS_DB_TOKEN_LABEL) as SlotInfo;
  session = (await layer.openSession({ uri: 'pkcs11:token=NSS%20Certificate%20DB' }, { readWrite: true })).session;
});

afterAll(async () => {
  await layer?.close();
  nss?.cleanup();
});

describe('NSS softoken', () => {
  it('initialises with library parameters and shows its database token', async () => {
    const [status] = await layer.listModules();
    expect(status?.library).toMatchObject({ manufacturer: 'Mozilla Foundation', cryptokiVersion: '2.40' });
    expect(dbSlot.slotId).toBe('2');
    expect(dbSlot.token).toMatchObject({ initialized: true, label: NSS_DB_TOKEN_LABEL });
    const mechs = await layer.listMechanisms(dbSlot);
    expect(mechs.find((m) => m.code === 0x210b)?.name).toBe('CKM_AES_KEY_WRAP_KWP');
  });

  it('OAEP SHA-256 wrap of a secret: node:crypto decrypts exactly the key value', async () => {
    const pub = await layer.createPublicKeyFromSpki(session, spki, { label: 'kms', token: false, encrypt: true, wrap: true, verify: false });
    const key = await layer.generateSecretKey(session, { type: 'GENERIC_SECRET', bytes: 32 }, secret('hmac-material', { sign: true }));
    const { CKA_VALUE } = await layer.getAttributes(session, key, ['CKA_VALUE']);
    const wrapped = await layer.wrapKey(session, { name: 'RSA_PKCS_OAEP', hash: 'SHA-256' }, pub, key);
    const plain = privateDecrypt({ key: rsa.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, wrapped);
    expect(plain).toEqual(Buffer.from(CKA_VALUE as Uint8Array));
    // And the SHA-1 decryption of the same output must fail: the token really used SHA-256.
    expect(() => privateDecrypt({ key: rsa.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, wrapped)).toThrow();
  });

  it('CKM_AES_KEY_WRAP_KWP is RFC 5649; CKM_AES_KEY_WRAP_PAD is not (48 bytes, RFC 3394 + PKCS#7)', async () => {
    const kek = await layer.generateSecretKey(session, { type: 'AES', bits: 256 }, secret('kek', { wrap: true }));
    const material = await layer.generateSecretKey(session, { type: 'AES', bits: 256 }, secret('material', {}));
    const kekBytes = Buffer.from((await layer.getAttributes(session, kek, ['CKA_VALUE'])).CKA_VALUE as Uint8Array);
    const materialBytes = Buffer.from((await layer.getAttributes(session, material, ['CKA_VALUE'])).CKA_VALUE as Uint8Array);
    expect(kekBytes.length).toBe(32);

    const kwp = await layer.wrapKey(session, { name: 'AES_KEY_WRAP_KWP' }, kek, material);
    expect(kwp.length).toBe(40);
    const d = createDecipheriv('id-aes256-wrap-pad', kekBytes, Buffer.from('A65959A6', 'hex'));
    expect(Buffer.concat([d.update(kwp), d.final()])).toEqual(materialBytes);

    const pad = await layer.wrapKey(session, { name: 'AES_KEY_WRAP_PAD' }, kek, material);
    expect(pad.length).toBe(48);
    const asRfc5649 = () => {
      const x = createDecipheriv('id-aes256-wrap-pad', kekBytes, Buffer.from('A65959A6', 'hex'));
      return Buffer.concat([x.update(pad), x.final()]);
    };
    expect(asRfc5649).toThrow();
    const d3394 = createDecipheriv('id-aes256-wrap', kekBytes, Buffer.from('A6A6A6A6A6A6A6A6', 'hex'));
    const unwrapped = Buffer.concat([d3394.update(pad), d3394.final()]);
    expect(unwrapped).toEqual(Buffer.concat([materialBytes, Buffer.alloc(8, 8)]));
  });

  it('all four KMS wrapping algorithms inside the token, probed', async () => {
    const caps = await probeKmsCapabilities(layer, dbSlot);
    expect(caps.map((c) => [c.algorithm, c.supported, c.probed])).toEqual([
      ['RSAES_OAEP_SHA_1', true, true],
      ['RSAES_OAEP_SHA_256', true, true],
      ['RSA_AES_KEY_WRAP_SHA_1', true, true],
      ['RSA_AES_KEY_WRAP_SHA_256', true, true],
    ]);
    expect(caps[3]?.method).toBe('composed: CKM_AES_KEY_WRAP_KWP + CKM_RSA_PKCS_OAEP (SHA-256, MGF1-SHA-256)');
  });

  it('the internal crypto slot gives the same answer', async () => {
    const internal = (await layer.listSlots(NSS_SOFTOKEN_MODULE)).find((s) => s.slotId === '1') as SlotInfo;
    const caps = await probeKmsCapabilities(layer, internal);
    expect(caps.every((c) => c.supported && c.probed)).toBe(true);
    expect(caps[3]?.reason).toContain('A throw-away P-256 private key came back as exactly its 138-byte PKCS#8.');
  });
});
