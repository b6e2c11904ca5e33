// The EC curves the simulated device holds keys on (the firmware's P-224, P-256, P-384, P-521, secp256k1 and
// Brainpool P-256/384/512), with DER-based conversions: node's JWK does not know P-224 or Brainpool.
import { createECDH, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { Algorithm, DeviceError } from '../../hsm/yubihsm/constants.js';
import { fail } from './failure.js';

export interface SimCurve {
  bytes: number;
  nodeCurve: string;
  /** DER OBJECT IDENTIFIER of the named curve. */
  oid: string;
}

export const SIM_EC: Readonly<Record<number, SimCurve>> = {
  [Algorithm.EC_P224]: { bytes: 28, nodeCurve: 'secp224r1', oid: '06052b81040021' },
  [Algorithm.EC_P256]: { bytes: 32, nodeCurve: 'prime256v1', oid: '06082a8648ce3d030107' },
  [Algorithm.EC_P384]: { bytes: 48, nodeCurve: 'secp384r1', oid: '06052b81040022' },
  [Algorithm.EC_P521]: { bytes: 66, nodeCurve: 'secp521r1', oid: '06052b81040023' },
  [Algorithm.EC_K256]: { bytes: 32, nodeCurve: 'secp256k1', oid: '06052b8104000a' },
  [Algorithm.EC_BP256]: { bytes: 32, nodeCurve: 'brainpoolP256r1', oid: '06092b2403030208010107' },
  [Algorithm.EC_BP384]: { bytes: 48, nodeCurve: 'brainpoolP384r1', oid: '06092b240303020801010b' },
  [Algorithm.EC_BP512]: { bytes: 64, nodeCurve: 'brainpoolP512r1', oid: '06092b240303020801010d' },
};

function derLength(n: number): Buffer {
  return n < 0x80 ? Buffer.of(n) : n < 0x100 ? Buffer.of(0x81, n) : Buffer.of(0x82, n >> 8, n & 0xff);
}
const tlv = (tag: number, body: Buffer) => Buffer.concat([Buffer.of(tag), derLength(body.length), body]);

/** The private key with scalar `d` (SEC1 ECPrivateKey, the public point computed with ECDH). */
export function ecPrivateFromScalar(algorithm: number, d: Uint8Array): KeyObject {
  const curve = SIM_EC[algorithm] ?? fail(DeviceError.INVALID_DATA);
  if (d.length !== curve.bytes) fail(DeviceError.INVALID_DATA);
  let point: Buffer;
  try {
    const ecdh = createECDH(curve.nodeCurve);
    ecdh.setPrivateKey(Buffer.from(d));
    point = ecdh.getPublicKey();
  } catch {
    return fail(DeviceError.INVALID_DATA); // zero, or not below the group order
  }
  const sec1 = tlv(0x30, Buffer.concat([Buffer.from('020101', 'hex'), tlv(0x04, Buffer.from(d)), tlv(0xa0, Buffer.from(curve.oid, 'hex')), tlv(0xa1, tlv(0x03, Buffer.concat([Buffer.of(0), point])))]));
  return createPrivateKey({ key: sec1, format: 'der', type: 'sec1' });
}

/** Skips one DER tag and length at `at`; answers where the contents start and how long they are. */
function header(der: Buffer, at: number): { start: number; length: number } {
  const first = der[at + 1] as number;
  if (first < 0x80) return { start: at + 2, length: first };
  const n = first & 0x7f;
  let length = 0;
  for (let i = 0; i < n; i++) length = length * 256 + (der[at + 2 + i] as number);
  return { start: at + 2 + n, length };
}

/** The private scalar, left-padded to the curve size (read from the SEC1 encoding). */
export function ecScalar(key: KeyObject, bytes: number): Uint8Array {
  const der = key.export({ type: 'sec1', format: 'der' });
  const seq = header(der, 0);
  const version = header(der, seq.start);
  const octets = header(der, version.start + version.length);
  const d = der.subarray(octets.start, octets.start + octets.length);
  return new Uint8Array(Buffer.concat([Buffer.alloc(bytes - d.length), d]));
}

/** X || Y of the public point (the uncompressed point ends the SubjectPublicKeyInfo). */
export function ecPoint(key: KeyObject, bytes: number): Uint8Array {
  const spki = (key.type === 'public' ? key : createPublicKey(key)).export({ type: 'spki', format: 'der' });
  return new Uint8Array(spki.subarray(spki.length - 2 * bytes));
}
