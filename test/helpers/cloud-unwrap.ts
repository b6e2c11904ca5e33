// The receiving cloud's side of CKM_RSA_AES_KEY_WRAP, in Python `cryptography` (not this application's
// code, not node:crypto): RSA-OAEP with the given hash for both OAEP and MGF1 and an empty label recovers
// the AES-256 key from the first modulus-length bytes, then RFC 5649 (aes_key_unwrap_with_padding) the
// material from the rest. With aesWrap false it is plain RSA-OAEP (Google's direct methods).
import { execFileSync } from 'node:child_process';
import type { KeyObject } from 'node:crypto';

const PY = [
  'import sys, json, base64',
  'from cryptography.hazmat.primitives import hashes, serialization',
  'from cryptography.hazmat.primitives.asymmetric import padding',
  'from cryptography.hazmat.primitives.keywrap import aes_key_unwrap_with_padding',
  'a = json.loads(sys.stdin.read())',
  'k = serialization.load_pem_private_key(a["key"].encode(), None)',
  'h = {"SHA1": hashes.SHA1(), "SHA256": hashes.SHA256()}[a["hash"]]',
  'ct = base64.b64decode(a["ct"])',
  'n = k.key_size // 8',
  'oaep = padding.OAEP(mgf=padding.MGF1(algorithm=h), algorithm=h, label=None)',
  'if not a["aes"]:',
  '    out = k.decrypt(ct, oaep)',
  'else:',
  '    aes = k.decrypt(ct[:n], oaep)',
  '    assert len(aes) == 32, "the RSA part is not an AES-256 key"',
  '    out = aes_key_unwrap_with_padding(aes, ct[n:])',
  'sys.stdout.write(base64.b64encode(out).decode())',
].join('\n');

export function pythonUnwrap(privateKey: KeyObject, hash: 'SHA1' | 'SHA256', ciphertext: Uint8Array, aesWrap = true): Buffer {
  const input = JSON.stringify({ key: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), hash, ct: Buffer.from(ciphertext).toString('base64'), aes: aesWrap });
  try {
    return Buffer.from(execFileSync('python3', ['-c', PY], { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] }), 'base64');
  } catch (e) {
    throw new Error(`Python refused to unwrap: ${String((e as { stderr?: unknown }).stderr ?? e).trim().split('\n').at(-1)}`);
  }
}
