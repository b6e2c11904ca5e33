// Mechanism structures for the operations the ceremony performs, and SPKI -> public key template. Pure:
// no token access here, so the parameter choices are unit-testable.
import { createPublicKey } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import type { Mechanism, RsaOAEP, Template } from 'pkcs11js';
import { ErrorCodes, TokenError } from '../errors.js';
import type { EncryptMechanism } from '../token.js';
import type { Bytes, EcCurve, HashName, PublicKeyObjectTemplate, SignMechanism, WrapMechanism } from '../types.js';
import { CKM, CKZ_DATA_SPECIFIED, HASH_MECHANISM, MGF1 } from './mechanisms.js';
import { EC_FIELD_BYTES, derOctetString, ecPublicKeyTemplate, rsaPublicKeyTemplate } from './templates.js';

const HASHES: readonly HashName[] = ['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512'];

function badArgument(message: string, remedy?: string): TokenError {
  return new TokenError(ErrorCodes.INVALID_ARGUMENT, message, remedy);
}

export function hashMechanism(hash: HashName): number {
  const m = HASH_MECHANISM[hash];
  if (m === undefined) throw badArgument(`hash "${String(hash)}" is not one of ${HASHES.join(', ')}`);
  return m;
}

export function wrapMechanism(m: WrapMechanism): Mechanism {
  switch (m?.name) {
    case 'RSA_PKCS_OAEP': {
      // MGF1 over the same hash and an empty label: what AWS KMS, GCP and Azure expect.
      const parameter: RsaOAEP = { type: pkcs11js.CK_PARAMS_RSA_OAEP, hashAlg: hashMechanism(m.hash), mgf: MGF1[m.hash], source: CKZ_DATA_SPECIFIED };
      return { mechanism: CKM.RSA_PKCS_OAEP, parameter };
    }
    case 'AES_KEY_WRAP':
      return { mechanism: CKM.AES_KEY_WRAP };
    case 'AES_KEY_WRAP_PAD':
      return { mechanism: CKM.AES_KEY_WRAP_PAD };
    case 'AES_KEY_WRAP_KWP':
      return { mechanism: CKM.AES_KEY_WRAP_KWP };
    case 'RSA_AES_KEY_WRAP':
      throw new TokenError(
        'CKR_MECHANISM_INVALID',
        'RSA_AES_KEY_WRAP in one step is not available through a PKCS#11 module here: pkcs11js cannot pass CK_RSA_AES_KEY_WRAP_PARAMS.',
        'Use the composed path (AES_KEY_WRAP_KWP under a fresh AES key, then RSA_PKCS_OAEP of that key), or a YubiHSM 2, which does it in the device.',
      );
    default:
      throw badArgument(`mechanism.name "${String((m as { name?: unknown })?.name)}" is not a wrapping mechanism`, 'Use RSA_PKCS_OAEP, AES_KEY_WRAP, AES_KEY_WRAP_PAD or AES_KEY_WRAP_KWP.');
  }
}

export function encryptMechanism(m: EncryptMechanism): Mechanism {
  if (m?.name === 'AES_ECB') return { mechanism: CKM.AES_ECB };
  throw badArgument(`mechanism.name "${String((m as { name?: unknown })?.name)}" is not an encryption mechanism`, 'Use AES_ECB.');
}

export function signMechanism(m: SignMechanism): Mechanism {
  switch (m?.name) {
    case 'ECDSA':
      return { mechanism: CKM.ECDSA };
    case 'ECDSA_SHA256':
      return { mechanism: CKM.ECDSA_SHA256 };
    case 'ECDSA_SHA384':
      return { mechanism: CKM.ECDSA_SHA384 };
    case 'SHA256_RSA_PKCS':
      return { mechanism: CKM.SHA256_RSA_PKCS };
    case 'AES_CMAC':
      return { mechanism: CKM.AES_CMAC };
    case 'SHA256_HMAC':
      return { mechanism: CKM.SHA256_HMAC };
    default:
      throw badArgument(`mechanism.name "${String((m as { name?: unknown })?.name)}" is not a signing mechanism`, 'Use ECDSA, ECDSA_SHA256, ECDSA_SHA384, SHA256_RSA_PKCS, AES_CMAC or SHA256_HMAC.');
  }
}

const JWK_CURVES: Record<string, EcCurve> = { 'P-256': 'P-256', 'P-384': 'P-384', 'P-521': 'P-521', secp256k1: 'secp256k1' };

function b64url(s: string | undefined, field: string): Buffer {
  if (typeof s !== 'string') throw badArgument(`spki: the key has no ${field}`);
  return Buffer.from(s, 'base64url');
}

function leftPad(b: Buffer, size: number): Buffer {
  if (b.length >= size) return b;
  return Buffer.concat([Buffer.alloc(size - b.length), b]);
}

/** The public key object template for a DER SubjectPublicKeyInfo (e.g. a KMS wrapping key). */
export function spkiToTemplate(spki: Bytes, template: PublicKeyObjectTemplate): { template: Template; keyType: 'RSA' | 'EC' } {
  let key;
  try {
    key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch (e) {
    throw badArgument(
      `spki is not a DER SubjectPublicKeyInfo (${e instanceof Error ? e.message : String(e)})`,
      'Use the PublicKey from the KMS import parameters, decoded from base64 to DER.',
    );
  }
  const jwk = key.export({ format: 'jwk' });
  if (key.asymmetricKeyType === 'rsa') {
    return { keyType: 'RSA', template: rsaPublicKeyTemplate(template, b64url(jwk.n, 'modulus'), b64url(jwk.e, 'exponent')) };
  }
  if (key.asymmetricKeyType === 'ec') {
    const curve = JWK_CURVES[jwk.crv ?? ''];
    if (!curve) throw badArgument(`spki holds an EC key on curve ${String(jwk.crv)}, which is not supported`, 'Use P-256, P-384, P-521 or secp256k1.');
    const size = EC_FIELD_BYTES[curve];
    const point = Buffer.concat([Buffer.from([0x04]), leftPad(b64url(jwk.x, 'x coordinate'), size), leftPad(b64url(jwk.y, 'y coordinate'), size)]);
    return { keyType: 'EC', template: ecPublicKeyTemplate(template, curve, derOctetString(point)) };
  }
  throw badArgument(`spki holds a ${String(key.asymmetricKeyType)} key; only RSA and EC public keys are supported`);
}
