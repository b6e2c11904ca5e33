// The strictest receiver's view of unwrapped private key material, independent of this application's code:
// the outer DER SEQUENCE must cover exactly the bytes given (read here from the header alone), and Python
// `cryptography`'s load_der_private_key (which, like AWS KMS and Go, rejects trailing bytes) must load it
// as the key spec's algorithm and size. openssl pkey and node's createPrivateKey ignore trailing bytes, so
// they never judge exactness on their own.
import { execFileSync } from 'node:child_process';

const EXPECT: Record<string, string> = {
  RSA_2048: 'RSA 2048',
  RSA_3072: 'RSA 3072',
  RSA_4096: 'RSA 4096',
  ECC_NIST_P256: 'EC secp256r1',
  ECC_NIST_P384: 'EC secp384r1',
  ECC_NIST_P521: 'EC secp521r1',
  ECC_SECG_P256K1: 'EC secp256k1',
};

/** The length the outer DER header claims, header included. */
export function outerDerLength(der: Uint8Array): number {
  if (der.length < 2 || der[0] !== 0x30) throw new Error(`not a DER SEQUENCE (first byte 0x${(der[0] ?? 0).toString(16)})`);
  const first = der[1] as number;
  if (first < 0x80) return 2 + first;
  const n = first & 0x7f;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + (der[2 + i] as number);
  return 2 + n + len;
}

const PY = [
  'import sys',
  'from cryptography.hazmat.primitives.asymmetric import ec, rsa',
  'from cryptography.hazmat.primitives.serialization import load_der_private_key',
  'k = load_der_private_key(sys.stdin.buffer.read(), None)',
  'print("RSA %d" % k.key_size if isinstance(k, rsa.RSAPrivateKey) else "EC %s" % k.curve.name if isinstance(k, ec.EllipticCurvePrivateKey) else type(k).__name__)',
].join('\n');

/** Python's verdict: "RSA 2048", "EC secp256r1", ...; throws with Python's words when it refuses the bytes. */
export function pythonLoadPrivateKey(der: Uint8Array): string {
  try {
    return execFileSync('python3', ['-c', PY], { input: Buffer.from(der), encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] }).trim();
  } catch (e) {
    const stderr = String((e as { stderr?: unknown }).stderr ?? e).trim().split('\n').at(-1);
    throw new Error(`load_der_private_key refused ${der.length} bytes: ${stderr}`);
  }
}

/** Throws unless `material` is exactly one PKCS#8 PrivateKeyInfo of `keySpec` that Python loads. */
export function expectStrictPkcs8(keySpec: string, material: Uint8Array): void {
  const der = outerDerLength(material);
  if (der !== material.length) throw new Error(`${keySpec}: the DER says ${der} bytes but ${material.length} were unwrapped (${material.length - der} trailing)`);
  const got = pythonLoadPrivateKey(material);
  if (got !== EXPECT[keySpec]) throw new Error(`${keySpec}: Python loaded ${got}, expected ${EXPECT[keySpec]}`);
}
