// Asymmetric authentication (firmware 2.3+), as python-yubihsm's AsymmetricAuth does its half: the host
// sends its ephemeral P-256 point; the device answers its own ephemeral point and a receipt. Keys: X9.63 KDF
// (SHA-256, shared info 3c 88 10) over ECDH(ephemeral, ephemeral) || ECDH(device static, authentication key)
// gives four AES-128 keys: receipt key, S-ENC, S-MAC, S-RMAC. Receipt = AES-CMAC(receipt key, device point ||
// host point); it also starts the MAC chain, and the session is authenticated at once.
import { createECDH, createHash, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { concat, u32 } from '../../hsm/yubihsm/bytes.js';
import { DeviceError } from '../../hsm/yubihsm/constants.js';
import { aesCmac, type SessionKeys } from '../../hsm/yubihsm/crypto.js';
import { ecPoint, ecScalar } from './ec-curves.js';
import { fail } from './failure.js';

export function newDeviceKey(): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
}

/** X || Y of the device's static public key (GET_DEVICE_PUBLIC_KEY). */
export const devicePublicPoint = (deviceKey: KeyObject) => ecPoint(createPublicKey(deviceKey), 32);

/** A 64-byte X || Y must be a point on P-256 (else INVALID_DATA). */
export function checkAuthPublicKey(xy: Uint8Array): Uint8Array {
  if (xy.length !== 64) fail(DeviceError.INVALID_DATA);
  try {
    createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: Buffer.from(xy.subarray(0, 32)).toString('base64url'), y: Buffer.from(xy.subarray(32)).toString('base64url') }, format: 'jwk' });
  } catch {
    fail(DeviceError.INVALID_DATA);
  }
  return xy.slice();
}

function x963(z: Uint8Array, sharedInfo: Uint8Array, length: number): Uint8Array {
  const out: Buffer[] = [];
  for (let counter = 1; out.length * 32 < length; counter++) out.push(createHash('sha256').update(z).update(u32(counter)).update(sharedInfo).digest());
  return new Uint8Array(Buffer.concat(out).subarray(0, length));
}

export function asymmetricSession(deviceKey: KeyObject, authPublic: Uint8Array, hostPoint: Uint8Array): { devicePoint: Uint8Array; receipt: Uint8Array; keys: SessionKeys } {
  const static_ = createECDH('prime256v1');
  static_.setPrivateKey(ecScalar(deviceKey, 32));
  const ephemeral = createECDH('prime256v1');
  const devicePoint = new Uint8Array(ephemeral.generateKeys());
  let shsss: Buffer;
  let shsee: Buffer;
  try {
    shsss = static_.computeSecret(concat(Uint8Array.of(4), authPublic));
    shsee = ephemeral.computeSecret(hostPoint);
  } catch {
    return fail(DeviceError.INVALID_DATA);
  }
  const shs = x963(concat(shsee, shsss), Uint8Array.of(0x3c, 0x88, 0x10), 64);
  const receipt = aesCmac(shs.subarray(0, 16), concat(devicePoint, hostPoint));
  return { devicePoint, receipt, keys: { sEnc: shs.slice(16, 32), sMac: shs.slice(32, 48), sRmac: shs.slice(48, 64) } };
}
