// Backup and restore of a key between two YubiHSMs of one security domain, through the token interface
// (TokenLayer.exportUnderDomainWrapKey / importUnderDomainWrapKey): the wrap key derived from the domain
// secret exists in each device only for the call, the restored key is the same key (same public point, a
// signature made on B verifies with A's public key under node:crypto; an AES key has the same check value),
// and a device of another domain cannot open the backup.
import { createPublicKey, randomBytes, verify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenError } from '../../hsm/errors.js';
import { ObjectType } from '../../hsm/yubihsm/constants.js';
import { YubiHsmTokenLayer } from '../../hsm/yubihsm/token-layer.js';
import type { SecretKeyTemplate, SlotRef } from '../../hsm/types.js';
import { domainYubihsmWrapKey } from '../../src-main/ceremony/quorum/domain.js';
import { SimulatorTransport, YubiHsmSimulator } from '../yubihsm-sim/index.js';

const SO_PIN = 'so-pin-of-the-domain';
const USER_PIN = 'user-pin-of-the-domain';
const WRAP_KEY = new Uint8Array(domainYubihsmWrapKey(new Uint8Array(32).fill(0x5a)));
const OTHER_DOMAIN = new Uint8Array(domainYubihsmWrapKey(new Uint8Array(32).fill(0x33)));

const sims = { 'yubihsm:a': new YubiHsmSimulator({ serial: 100001 }), 'yubihsm:b': new YubiHsmSimulator({ serial: 100002 }), 'yubihsm:c': new YubiHsmSimulator({ serial: 100003 }) };
const layer = new YubiHsmTokenLayer({ transports: Object.fromEntries(Object.entries(sims).map(([m, sim]) => [m, () => [new SimulatorTransport(sim)]])), keepAliveMs: 0 });
const sessions: Record<string, string> = {};

async function ready(moduleId: keyof typeof sims): Promise<string> {
  const slot: SlotRef = { moduleId, slotId: String(sims[moduleId].serial) };
  await layer.initToken(slot, SO_PIN, `domain-${moduleId.slice(-1)}`);
  const { session } = await layer.openSession(slot, { readWrite: true });
  await layer.login(session, 'so', SO_PIN);
  await layer.initUserPin(session, USER_PIN);
  await layer.logout(session);
  await layer.login(session, 'user', USER_PIN);
  return session;
}

const wrapKeysLeft = (moduleId: keyof typeof sims) => sims[moduleId].listObjectsForTest().filter((o) => o.type === ObjectType.WRAP_KEY);

const aes = (label: string): SecretKeyTemplate => ({ label, id: new Uint8Array(), token: true, private: true, sensitive: true, extractable: true, encrypt: true, decrypt: false, sign: true, verify: false, wrap: false, unwrap: false, derive: false });

describe('backup and restore of a key between YubiHSMs of one domain', () => {
  beforeAll(async () => {
    await layer.configureModules(Object.keys(sims).map((path) => ({ path })));
    for (const m of Object.keys(sims) as (keyof typeof sims)[]) sessions[m] = await ready(m);
  });
  afterAll(() => layer.close());

  it('an EC key generated on A is restored on B: same public point, B signs what A\'s public key verifies', async () => {
    const a = sessions['yubihsm:a'] as string;
    const b = sessions['yubihsm:b'] as string;
    const { publicKey, privateKey } = await layer.generateKeyPair(
      a,
      { type: 'EC', curve: 'P-256' },
      { label: 'root-2026', id: Uint8Array.of(0x20, 0x26), token: true, encrypt: false, verify: true, wrap: false },
      { label: 'root-2026', id: Uint8Array.of(0x20, 0x26), token: true, private: true, sensitive: true, extractable: true, decrypt: false, sign: true, unwrap: false, derive: false },
    );
    const backup = await layer.exportUnderDomainWrapKey(a, privateKey, WRAP_KEY);
    expect(wrapKeysLeft('yubihsm:a')).toEqual([]);

    const restored = await layer.importUnderDomainWrapKey(b, backup, WRAP_KEY);
    expect(restored).toBe(privateKey); // same object id and type on B
    expect(wrapKeysLeft('yubihsm:b')).toEqual([]);

    const attrs = ['CKA_EC_POINT', 'CKA_LABEL', 'CKA_ID'] as const;
    const onA = await layer.getAttributes(a, publicKey, attrs);
    const onB = await layer.getAttributes(b, publicKey, attrs);
    expect(onB).toEqual(onA);

    const xy = Buffer.from((onA.CKA_EC_POINT as Uint8Array).subarray(3));
    const pubA = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: xy.subarray(0, 32).toString('base64url'), y: xy.subarray(32).toString('base64url') }, format: 'jwk' });
    const message = randomBytes(100);
    const raw = await layer.sign(b, { name: 'ECDSA_SHA256' }, restored, message);
    expect(verify('sha256', message, { key: pubA, dsaEncoding: 'ieee-p1363' }, raw)).toBe(true);
  });

  it('an AES key restored on B has the same check value; a device of another domain cannot open the backup', async () => {
    const a = sessions['yubihsm:a'] as string;
    const b = sessions['yubihsm:b'] as string;
    const c = sessions['yubihsm:c'] as string;
    const key = await layer.generateSecretKey(a, { type: 'AES', bits: 256 }, aes('data-key'));
    const backup = await layer.exportUnderDomainWrapKey(a, key, WRAP_KEY);

    const e = await layer.importUnderDomainWrapKey(c, backup, OTHER_DOMAIN).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(TokenError);
    expect((e as TokenError).code).toBe('YUBIHSM_INVALID_DATA');
    expect(sims['yubihsm:c'].listObjectsForTest().filter((o) => o.type === ObjectType.SYMMETRIC_KEY || o.type === ObjectType.WRAP_KEY)).toEqual([]);

    const restored = await layer.importUnderDomainWrapKey(b, backup, WRAP_KEY);
    expect(Buffer.from(await layer.keyCheckValue(b, restored))).toEqual(Buffer.from(await layer.keyCheckValue(a, key)));
  });

  it('a key generated without extractable stays in its device', async () => {
    const a = sessions['yubihsm:a'] as string;
    const key = await layer.generateSecretKey(a, { type: 'AES', bits: 256 }, { ...aes('stays-here'), extractable: false });
    const e = await layer.exportUnderDomainWrapKey(a, key, WRAP_KEY).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect((e as TokenError).code).toBe('YUBIHSM_INSUFFICIENT_PERMISSIONS');
    expect(wrapKeysLeft('yubihsm:a')).toEqual([]);
  });
});
