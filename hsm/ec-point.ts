// Free of pkcs11js so that code reading attributes through the TokenLayer (kms/, transcript/) can use it.

/**
 * The raw point inside CKA_EC_POINT. PKCS#11 says DER OCTET STRING, but some modules (NSS with
 * NSS_USE_DECODED_CKA_EC_POINT, some vendors) return the bare point: accept both.
 */
export function unwrapEcPoint(value: Uint8Array): Uint8Array {
  const v = Buffer.from(value);
  if (v[0] === 0x04 && v.length >= 2) {
    let len = v[1] as number;
    let off = 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + (v[2 + i] as number);
      off = 2 + n;
    }
    // An uncompressed point is odd-length (0x04 || X || Y); a DER wrapper makes the total fit exactly.
    if (off + len === v.length && v[off] === 0x04) return new Uint8Array(v.subarray(off));
  }
  return new Uint8Array(v);
}
