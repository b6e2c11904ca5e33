// proveExactExport's decision for RSA, whose PKCS#8 length varies from key to key, against a scripted token
// that wraps exactly as SoftHSM's composed path does (RFC 5649 under an ephemeral AES key it RSA-OAEP-wraps
// under the probe's wrapping key), with or without SoftHSM's zero padding to a multiple of 8. A sample whose
// length is a multiple of 8 cannot show padding, so it must never decide: the next one that can, does.
import { createCipheriv, publicEncrypt, constants, randomBytes, createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { TokenLayer } from '../../hsm/token.js';
import type { KmsCapability, SlotRef, WrapMechanism } from '../../hsm/types.js';
import { AppError } from '../../src-main/errors.js';
import { EXPORT_NOT_EXACT, proveExactExport } from '../../src-main/kms/exactness.js';

const slot: SlotRef = { moduleId: '/scripted.so', slotId: '7' };
const capability: KmsCapability = { algorithm: 'RSA_AES_KEY_WRAP_SHA_1', supported: true, method: 'composed: CKM_AES_KEY_WRAP_PAD (RFC 5649 here) + CKM_RSA_PKCS_OAEP (SHA-1, MGF1-SHA-1)', reason: '', probed: true };

const der = (tag: number, body: Buffer) => {
  const n = body.length;
  const len = n < 0x80 ? Buffer.of(n) : n < 0x100 ? Buffer.of(0x81, n) : Buffer.of(0x82, n >> 8, n & 0xff);
  return Buffer.concat([Buffer.of(tag), len, body]);
};
/** A positive INTEGER of `bytes` magnitude bytes, top bit set (so DER adds a 0x00). */
const int = (bytes: number) => der(0x02, Buffer.concat([Buffer.of(0), Buffer.of(0x80 | 1), randomBytes(bytes - 1)]));
/**
 * An RSA-2048 PrivateKeyInfo whose length the test chooses (by the size of d): structurally what a token
 * emits, not a working key; the strict check judges structure and length, which is what is tested here.
 */
function rsaPkcs8(length: number): Buffer {
  // d of 200..256 bytes gives 1163..1217, 1219, 1220 bytes.
  for (let dBytes = 200; dBytes <= 256; dBytes++) {
    const rsa = der(0x30, Buffer.concat([der(0x02, Buffer.of(0)), int(256), der(0x02, Buffer.of(1, 0, 1)), int(dBytes), int(128), int(128), int(128), int(128), int(128)]));
    const pki = der(0x30, Buffer.concat([der(0x02, Buffer.of(0)), der(0x30, Buffer.concat([der(0x06, Buffer.from('2a864886f70d010101', 'hex')), Buffer.of(5, 0)])), der(0x04, rsa)]));
    if (pki.length === length) return pki;
  }
  throw new Error(`no length ${length}`);
}

/** A token that hands out the scripted PKCS#8s in order, zero-padding them to a multiple of 8 if `pads`. */
function scriptedToken(lengths: number[], pads: boolean): { layer: TokenLayer; samples: () => number } {
  let spki: Buffer | undefined;
  let aes: Buffer | undefined;
  let made = 0;
  const layer = {
    openSession: async () => ({ session: 's', moduleId: slot.moduleId, slotId: slot.slotId, token: { label: 'scripted', manufacturer: 'Test', model: 'Pads' } }),
    closeSession: async () => undefined,
    listSlots: async () => [{ ...slot, token: { label: 'scripted' } }],
    destroyObject: async () => undefined,
    createPublicKeyFromSpki: async (_s: string, k: Uint8Array) => {
      spki = Buffer.from(k);
      return 'kms';
    },
    generateKeyPair: async () => ({ privateKey: `priv-${made++}`, publicKey: 'pub' }),
    generateSecretKey: async () => {
      aes = randomBytes(32);
      return 'ephemeral';
    },
    wrapKey: async (_s: string, m: WrapMechanism, _w: string, key: string) => {
      if (m.name === 'RSA_PKCS_OAEP') return new Uint8Array(publicEncrypt({ key: createPublicKey({ key: spki as Buffer, format: 'der', type: 'spki' }), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, aes as Buffer));
      const plain = rsaPkcs8(lengths[Number(key.slice(5))] as number);
      const padded = pads ? Buffer.concat([plain, Buffer.alloc((8 - (plain.length % 8)) % 8)]) : plain;
      const c = createCipheriv('id-aes256-wrap-pad', aes as Buffer, Buffer.from('A65959A6', 'hex'));
      return new Uint8Array(Buffer.concat([c.update(padded), c.final()]));
    },
  } as unknown as TokenLayer;
  return { layer, samples: () => made };
}

const prove = (layer: TokenLayer) => proveExactExport(layer, slot, { capability, keySpec: 'RSA_2048', wrappingKeyBits: 2048 });

describe('proveExactExport on RSA: padding must not pass by luck', () => {
  it('a padding token whose first key is a multiple of 8 is still caught by the next one', async () => {
    const t = scriptedToken([1216, 1217], true);
    const e = (await prove(t.layer).catch((x: unknown) => x)) as AppError;
    expect(e).toBeInstanceOf(AppError);
    expect(e.code).toBe(EXPORT_NOT_EXACT);
    expect(e.message).toMatch(/^The token "scripted" \(slot 7, Test Pads\) pads the PKCS#8 of a private key with zero bytes to a multiple of 8 before its RFC 5649 wrap \(a throw-away key of this spec came back as 1217 bytes of DER \+ 7 zero bytes = 1224\)\./);
    expect(t.samples()).toBe(2);
  });

  it('an exact token whose first key is a multiple of 8 passes on the next one, recording both', async () => {
    const t = scriptedToken([1216, 1219], false);
    const r = await prove(t.layer);
    expect(r).toMatchObject({
      ran: true,
      samples: [{ unwrapped: 1216, derLength: 1216, exact: true }, { unwrapped: 1219, derLength: 1219, exact: true }],
      conclusion: 'throw-away RSA_2048 keys unwrapped exactly; one of 1219 bytes (not a multiple of 8) shows the token does not pad',
    });
  });

  it('one key that is not a multiple of 8 decides at once', async () => {
    const t = scriptedToken([1217], false);
    const r = await prove(t.layer);
    expect(r.ran && r.samples).toEqual([{ unwrapped: 1217, derLength: 1217, exact: true }]);
  });

  it('six keys all a multiple of 8: it cannot tell, so it refuses (run again), never passes', async () => {
    const t = scriptedToken([1216, 1216, 1216, 1216, 1216, 1216], false);
    const e = (await prove(t.layer).catch((x: unknown) => x)) as AppError;
    expect(e.code).toBe(EXPORT_NOT_EXACT);
    expect(e.message).toBe('The token "scripted" (slot 7, Test Pads): 6 throw-away RSA_2048 keys all encoded to a multiple of 8 bytes, so whether the token pads PKCS#8 before its RFC 5649 wrap could not be told; nothing was generated.');
    expect(e.remedy).toMatch(/^Run the step again/);
  });
});
