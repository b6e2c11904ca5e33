// The KMS core flow (src-main/kms) on a YubiHSM 2, against the in-process simulator: the device does
// RSA_AES_KEY_WRAP_* in one command (WRAP_KEY_RSA), wrapForKms takes that path from the capability's
// method, and the exported EncryptedKeyMaterial.bin is unwrapped INDEPENDENTLY (openssl + python) and
// compared with the check value the token computed.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectType } from '../../hsm/yubihsm/constants.js';
import { YubiHsmTokenLayer } from '../../hsm/yubihsm/token-layer.js';
import { decodeHandle } from '../../hsm/yubihsm/token-layer-map.js';
import type { SlotRef } from '../../hsm/types.js';
import { checkTokenCanGenerate, checkTokenCanWrap, computeCheckValue, exportImportBundle, generateKmsKey, wrapForKms } from '../../src-main/kms/index.js';
import { isOneStepRsaAes } from '../../src-main/kms/wrap.js';
import { SimulatorTransport, YubiHsmSimulator } from '../yubihsm-sim/index.js';
import { NOW, checkRecovered, independentUnwrap, kmsLikeKey, paramsFor } from '../fixtures/kms/harness.js';

const SO_PIN = 'so-password-from-the-ceremony-secret';
const USER_PIN = 'operator-password-from-the-ceremony-secret';
const MODULE = 'yubihsm:sim';

describe('KMS core flow on a YubiHSM 2 (simulator, in-process)', () => {
  const sim = new YubiHsmSimulator({ serial: 7654322 });
  const layer = new YubiHsmTokenLayer({ transports: { [MODULE]: () => [new SimulatorTransport(sim)] }, keepAliveMs: 0 });
  const slot: SlotRef = { moduleId: MODULE, slotId: '7654322' };
  let session: string;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kc-kms-yubihsm-'));
    await layer.configureModules([{ path: MODULE }]);
    await layer.initToken(slot, SO_PIN, 'kms-ceremony');
    session = (await layer.openSession(slot, { readWrite: true })).session;
    await layer.login(session, 'so', SO_PIN);
    await layer.initUserPin(session, USER_PIN);
    await layer.logout(session);
    await layer.login(session, 'user', USER_PIN);
  });
  afterAll(async () => {
    await layer.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const algorithm of ['RSA_AES_KEY_WRAP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_1'] as const) {
    it(`SYMMETRIC_DEFAULT with ${algorithm}: one-step wrap, unwrapped by openssl/python, matches the check value`, async () => {
      const cap = await checkTokenCanWrap(layer, slot, algorithm, 'SYMMETRIC_DEFAULT');
      expect(isOneStepRsaAes(cap)).toBe(true);
      const kms = kmsLikeKey(3072);
      const params = paramsFor(kms, algorithm, 'SYMMETRIC_DEFAULT');
      await checkTokenCanGenerate(layer, slot, 'SYMMETRIC_DEFAULT', session);
      // A YubiHSM label holds at most 40 bytes.
      const label = `kms-aes-${algorithm.endsWith('SHA_1') ? 'sha1' : 'sha256'}`;
      const key = await generateKmsKey(layer, session, 'SYMMETRIC_DEFAULT', label);
      const checkValue = await computeCheckValue(layer, session, key);
      const wrap = await wrapForKms(layer, session, { capability: cap, wrappingPublicKeySpkiDer: params.publicKeySpkiDer, key: key.handle });
      expect(wrap).toMatchObject({ algorithm, rsaPartLength: 384, aesPartLength: 40 });
      expect(wrap.method.startsWith('RSA_AES_KEY_WRAP')).toBe(true);
      // The public wrap key wrapForKms stored for the wrap is gone again.
      expect(await layer.findAll(session, { label: 'kms-wrapping-key' })).toEqual([]);
      const bundle = await exportImportBundle({
        parentDir: dir,
        name: label,
        params,
        keySpec: 'SYMMETRIC_DEFAULT',
        keyLabel: label,
        keyIdHex: key.idHex,
        checkValue,
        wrap,
        ceremonyId: 'ceremony-test',
        createdAt: NOW,
      });
      const encrypted = new Uint8Array(await readFile(join(bundle.dir, 'EncryptedKeyMaterial.bin')));
      const r = { key, checkValue, encrypted };

      // The token kept a 2-byte CKA_ID (its object id), and that is what was recorded.
      expect(r.key.idHex).toMatch(/^[0-9a-f]{4}$/);
      expect(r.key.idHex).toBe(decodeHandle(r.key.handle).id.toString(16).padStart(4, '0'));

      expect(r.encrypted.length).toBe(384 + 40);
      const material = independentUnwrap(kms, algorithm, r.encrypted);
      checkRecovered('SYMMETRIC_DEFAULT', material, r.checkValue);
      const stored = Buffer.from(sim.inspectObject(decodeHandle(r.key.handle).id, ObjectType.SYMMETRIC_KEY)?.secret as Uint8Array);
      expect(material.equals(stored)).toBe(true);
    });
  }

  it('RSAES_OAEP_SHA_1 is refused before anything is generated, in words', async () => {
    const e = await checkTokenCanWrap(layer, slot, 'RSAES_OAEP_SHA_1', 'SYMMETRIC_DEFAULT').catch((x: unknown) => x as Error);
    expect(e).toBeInstanceOf(Error);
    expect((e as Error).message).toContain('cannot wrap with RSAES_OAEP_SHA_1');
    expect((e as Error).message).toContain('RSAES_OAEP_* is not possible on this device');
    expect((e as Error).message).toContain('RSA_AES_KEY_WRAP_SHA_256');
  });
});
