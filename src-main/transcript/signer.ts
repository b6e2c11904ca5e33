// The audit signer: the key that signs exported transcripts. In production it lives in the token
// (token-signer.ts); tests and rehearsals may use the node:crypto one here.
import { createPrivateKey, createPublicKey, createVerify, generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';

export interface AuditSigner {
  /** DER SubjectPublicKeyInfo of the P-384 public key. */
  spkiDer(): Uint8Array;
  /** DER ECDSA signature with SHA-384 over `data`, as `openssl dgst -sha384 -sign` would produce. */
  sign(data: Uint8Array): Promise<Uint8Array>;
}

/** A software audit key (node:crypto). For tests and rehearsals only: its private key is in host memory. */
export class NodeAuditSigner implements AuditSigner {
  private constructor(
    private readonly privateKey: KeyObject,
    private readonly spki: Uint8Array,
  ) {}

  static generate(): NodeAuditSigner {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    return new NodeAuditSigner(privateKey, publicKey.export({ type: 'spki', format: 'der' }));
  }

  static fromPkcs8Pem(pem: string): NodeAuditSigner {
    const privateKey = createPrivateKey(pem);
    return new NodeAuditSigner(privateKey, createPublicKey(privateKey).export({ type: 'spki', format: 'der' }));
  }

  spkiDer(): Uint8Array {
    return this.spki;
  }

  async sign(data: Uint8Array): Promise<Uint8Array> {
    return cryptoSign('sha384', data, { key: this.privateKey, dsaEncoding: 'der' });
  }
}

function p384Key(spkiDer: Uint8Array): KeyObject | undefined {
  try {
    const key = createPublicKey({ key: Buffer.from(spkiDer), format: 'der', type: 'spki' });
    return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? key : undefined;
  } catch {
    return undefined;
  }
}

/** Verify a DER ECDSA-SHA384 signature against a DER SPKI with node:crypto. */
export function verifyAuditSignature(spkiDer: Uint8Array, data: Uint8Array, signatureDer: Uint8Array): boolean {
  const key = p384Key(spkiDer);
  if (!key) return false;
  try {
    return cryptoVerify('sha384', data, { key, dsaEncoding: 'der' }, signatureDer);
  } catch {
    return false;
  }
}

/** The same check over data given in chunks (a transcript read as a stream). */
export function streamingAuditVerifier(spkiDer: Uint8Array): { update(chunk: Uint8Array): void; verify(signatureDer: Uint8Array): boolean } | undefined {
  const key = p384Key(spkiDer);
  if (!key) return undefined;
  const v = createVerify('sha384');
  return {
    update: (chunk) => void v.update(chunk),
    verify: (signatureDer) => {
      try {
        return v.verify({ key, dsaEncoding: 'der' }, signatureDer);
      } catch {
        return false;
      }
    },
  };
}
