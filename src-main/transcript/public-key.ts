import { createPublicKey } from 'node:crypto';

/** The DER SPKI of a P-384 public key given as PEM (or DER), or undefined when it is not one. */
export function p384SpkiFromPem(pem: string | Uint8Array): Uint8Array | undefined {
  try {
    const key = typeof pem === 'string' ? createPublicKey(pem) : createPublicKey({ key: Buffer.from(pem), format: 'der', type: 'spki' });
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'secp384r1') return undefined;
    return key.export({ type: 'spki', format: 'der' });
  } catch {
    return undefined;
  }
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}
