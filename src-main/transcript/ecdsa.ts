// ECDSA signature encodings (raw r||s as PKCS#11 returns it, DER as OpenSSL expects it) and P-384 keys.

/** DER SEQUENCE { INTEGER r, INTEGER s } from a raw r||s signature of two equal halves. */
export function rawToDer(raw: Uint8Array): Uint8Array {
  if (raw.length === 0 || raw.length % 2 !== 0) throw new Error(`a raw ECDSA signature has an even, non-zero length, not ${raw.length}`);
  const half = raw.length / 2;
  const integer = (bytes: Uint8Array): number[] => {
    let i = 0;
    while (i < bytes.length - 1 && bytes[i] === 0) i += 1;
    const body = Array.from(bytes.subarray(i));
    if ((body[0] ?? 0) & 0x80) body.unshift(0);
    return [0x02, ...derLength(body.length), ...body];
  };
  const content = [...integer(raw.subarray(0, half)), ...integer(raw.subarray(half))];
  return Uint8Array.from([0x30, ...derLength(content.length), ...content]);
}

function derLength(n: number): number[] {
  if (n < 0x80) return [n];
  if (n < 0x100) return [0x81, n];
  return [0x82, n >> 8, n & 0xff];
}

/** The DER SubjectPublicKeyInfo prefix of an uncompressed P-384 point (id-ecPublicKey, secp384r1). */
const P384_SPKI_PREFIX = Buffer.from('3076301006072a8648ce3d020106052b81040022036200', 'hex');
/** DER of the secp384r1 OID, as CKA_EC_PARAMS holds it. */
export const P384_EC_PARAMS = Buffer.from('06052b81040022', 'hex');

/**
 * The SPKI of a P-384 public key from CKA_EC_POINT, which PKCS#11 defines as a DER OCTET STRING holding the
 * uncompressed point (some tokens return the bare point: both are accepted).
 */
export function p384SpkiFromEcPoint(ecPoint: Uint8Array): Uint8Array {
  let point: Uint8Array;
  if (ecPoint.length === 99 && ecPoint[0] === 0x04 && ecPoint[1] === 0x61) point = ecPoint.subarray(2);
  else if (ecPoint.length === 97) point = ecPoint;
  else throw new Error(`CKA_EC_POINT of ${ecPoint.length} bytes is not an uncompressed P-384 point`);
  if (point[0] !== 0x04) throw new Error('CKA_EC_POINT is not an uncompressed point (first byte 0x04)');
  return Uint8Array.from(Buffer.concat([P384_SPKI_PREFIX, point]));
}

export function spkiToPem(spkiDer: Uint8Array): string {
  const b64 = Buffer.from(spkiDer).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN PUBLIC KEY-----\n${lines.join('\n')}\n-----END PUBLIC KEY-----\n`;
}
