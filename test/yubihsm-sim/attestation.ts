// SIGN_ATTESTATION_CERTIFICATE in the simulated device: an X.509 v3 certificate for a key's public half,
// issued by an attesting key whose certificate is stored as the opaque object of the same id, carrying
// Yubico's attestation extensions (1.3.6.1.4.1.41482.4.N as python-yubihsm's AttestationExtensions reads
// them: 1 firmware version, 2 serial, 3 origin, 4 domains, 5 capabilities, 6 object id, 9 label).
// MODEL: the device's own attestation key (attesting key id 0) is not simulated; the certificate's
// validity is the attesting certificate's; the subject is "YubiHSM Attestation id:0x<id>".
import { randomBytes, sign, type KeyObject } from 'node:crypto';
import { u16, u32, u64 } from '../../hsm/yubihsm/bytes.js';
import { Algorithm, Capability, DeviceError, ObjectType } from '../../hsm/yubihsm/constants.js';
import { RSA_ALGORITHMS } from '../../hsm/yubihsm/keys.js';
import type { SimObject } from './device.js';
import { fail } from './failure.js';

export interface AttestHost {
  require(capability: bigint): SimObject;
  visible(id: number, type: number): SimObject;
  serial: number;
  version: { major: number; minor: number; patch: number };
}

const len = (n: number) => (n < 0x80 ? Buffer.of(n) : n < 0x100 ? Buffer.of(0x81, n) : Buffer.of(0x82, n >> 8, n & 0xff));
const tlv = (tag: number, ...parts: Buffer[]) => {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.of(tag), len(body.length), body]);
};
const seq = (...parts: Buffer[]) => tlv(0x30, ...parts);
const oid = (hex: string) => tlv(0x06, Buffer.from(hex, 'hex'));

function integer(bytes: Uint8Array): Buffer {
  let b = Buffer.from(bytes);
  while (b.length > 1 && b[0] === 0 && ((b[1] as number) & 0x80) === 0) b = b.subarray(1);
  if (((b[0] as number) & 0x80) !== 0) b = Buffer.concat([Buffer.of(0), b]);
  return tlv(0x02, b);
}

/** The elements of the DER SEQUENCE at `der` (tag, length, contents, and the whole encoding). */
function children(der: Buffer): Buffer[] {
  const out: Buffer[] = [];
  const outer = header(der, 0);
  for (let at = outer.start; at < outer.start + outer.length; ) {
    const h = header(der, at);
    out.push(der.subarray(at, h.start + h.length));
    at = h.start + h.length;
  }
  return out;
}

function header(der: Buffer, at: number): { start: number; length: number } {
  if (at + 2 > der.length) fail(DeviceError.INVALID_DATA);
  const first = der[at + 1] as number;
  if (first < 0x80) return { start: at + 2, length: first };
  const n = first & 0x7f;
  let length = 0;
  for (let i = 0; i < n; i++) length = length * 256 + (der[at + 2 + i] as number);
  return { start: at + 2 + n, length };
}

/** Issuer name and validity for certificates the attesting key signs: its own certificate's subject and validity. */
function attesterNameAndValidity(certificate: Uint8Array): { subject: Buffer; validity: Buffer } {
  try {
    const tbs = children(children(Buffer.from(certificate))[0] as Buffer);
    const fields = tbs[0]?.[0] === 0xa0 ? tbs.slice(1) : tbs;
    // serialNumber, signature, issuer, validity, subject
    return { validity: fields[3] as Buffer, subject: fields[4] as Buffer };
  } catch {
    return fail(DeviceError.INVALID_DATA);
  }
}

const SHA256_WITH_RSA = seq(oid('2a864886f70d01010b'), Buffer.from('0500', 'hex'));
const ECDSA_WITH_SHA256 = seq(oid('2a8648ce3d040302'));

function extension(n: number, value: Buffer): Buffer {
  return seq(oid(`2b0601040182c40a04${n.toString(16).padStart(2, '0')}`), tlv(0x04, value));
}

export function signAttestationCertificate(host: AttestHost, keyId: number, attestingId: number, spki: Uint8Array): Uint8Array {
  host.require(Capability.SIGN_ATTESTATION_CERTIFICATE);
  const key = host.visible(keyId, ObjectType.ASYMMETRIC_KEY);
  if (attestingId === 0) return fail(DeviceError.OBJECT_NOT_FOUND);
  const attester = host.visible(attestingId, ObjectType.ASYMMETRIC_KEY);
  if ((attester.capabilities & Capability.SIGN_ATTESTATION_CERTIFICATE) === 0n) fail(DeviceError.INSUFFICIENT_PERMISSIONS);
  const certificate = host.visible(attestingId, ObjectType.OPAQUE);
  if (certificate.algorithm !== Algorithm.OPAQUE_X509_CERTIFICATE) fail(DeviceError.INVALID_DATA);
  const { subject: issuer, validity } = attesterNameAndValidity(certificate.secret as Uint8Array);
  const rsa = RSA_ALGORITHMS[attester.algorithm] !== undefined;
  const signatureAlgorithm = rsa ? SHA256_WITH_RSA : ECDSA_WITH_SHA256;
  const subject = seq(tlv(0x31, seq(oid('550403'), tlv(0x0c, Buffer.from(`YubiHSM Attestation id:0x${keyId.toString(16).padStart(4, '0')}`)))));
  const { major, minor, patch } = host.version;
  const bits = (b: Uint8Array) => tlv(0x03, Buffer.of(0), Buffer.from(b));
  const extensions = tlv(
    0xa3,
    seq(
      extension(1, tlv(0x04, Buffer.of(major, minor, patch))),
      extension(2, integer(u32(host.serial))),
      extension(3, bits(Uint8Array.of(key.origin))),
      extension(4, bits(u16(key.domains))),
      extension(5, bits(u64(key.capabilities))),
      extension(6, integer(u16(key.id))),
      extension(9, tlv(0x0c, Buffer.from(key.label))),
    ),
  );
  const serialNumber = new Uint8Array(randomBytes(16));
  serialNumber[0] = (serialNumber[0] as number) & 0x7f;
  const tbs = seq(tlv(0xa0, integer(Uint8Array.of(2))), integer(serialNumber), signatureAlgorithm, issuer, validity, subject, Buffer.from(spki), extensions);
  const signature = sign('sha256', tbs, attester.privateKey as KeyObject);
  return new Uint8Array(seq(tbs, signatureAlgorithm, tlv(0x03, Buffer.of(0), signature)));
}
