// What every cloud's import folder says the same way: the key spec and how to recognise the material (its
// check value, or for a key pair the SHA-256 of its public key), and the sha256sum lines for its files.
import type { CheckValue } from '../kcv.js';
import type { KmsKeySpec } from '../types.js';

export interface FileDigest {
  name: string;
  bytes: number;
  sha256: string;
}

/** A file of the bundle before it is written: its name and exact bytes. */
export interface BundleFile {
  name: string;
  data: Uint8Array;
}

export function checkLines(hashes: readonly FileDigest[], names: readonly string[]): string[] {
  return hashes.filter((f) => names.includes(f.name)).map((f) => `echo "${f.sha256}  ${f.name}" | sha256sum -c`);
}

/** How the room recognises the material at the target afterwards, in that cloud's commands. */
export function recogniseLines(keySpec: KmsKeySpec, checkValue: CheckValue, getPublicKey: string): string[] {
  if (checkValue.method === 'SHA256-SPKI') {
    return [
      `After the import, compare the public key the cloud holds with the one the token generated:`,
      ``,
      '```',
      getPublicKey,
      `openssl pkey -pubin -in public.pem -outform DER | sha256sum   # must print ${checkValue.value.toLowerCase()}`,
      '```',
    ];
  }
  return [
    `This cloud reports no check value for ${keySpec} material. The check value ${checkValue.value} identifies the`,
    `material in the token, in the transcript and for a later kms-rewrap of the same key.`,
  ];
}

/** File names from the key label: the label may hold spaces; a file name here never does. */
export function safeFileStem(label: string): string {
  return label.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[.]/, '_').slice(0, 100);
}
