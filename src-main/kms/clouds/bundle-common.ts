// What every cloud's import folder says the same way: the key spec and how to recognise the material (its
// check value, or for a key pair the SHA-256 of its public key), and the sha256sum lines for its files.
import type { CheckValue } from '../kcv.js';
import type { KmsKeySpec } from '../types.js';
import { shellWord } from './shell.js';

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
  return hashes.filter((f) => names.includes(f.name)).map((f) => `echo ${shellWord(`${f.sha256}  ${f.name}`)} | sha256sum -c`);
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

/** Names Windows reserves whatever the extension (the stick may be read there): CON.byok cannot be opened. */
const WINDOWS_RESERVED = /^(?:CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])$/i;

/**
 * A file name stem from the key label. The shipped scripts' label pattern already keeps labels plain, but a
 * custom script may not, so whatever the label: only letters, digits, dot, dash and underscore (a path
 * separator, NUL, a space or a non-ASCII letter becomes _), never hidden (leading dot) nor read as an option
 * (leading dash), never empty or a Windows device name, at most 100 characters.
 */
export function safeFileStem(label: string): string {
  const plain = Array.from(label, (c) => (/^[A-Za-z0-9._-]$/.test(c) ? c : '_'))
    .join('')
    .replace(/^[.-]/, '_')
    .slice(0, 100);
  if (plain === '') return 'key';
  return WINDOWS_RESERVED.test(plain.replace(/\..*$/, '')) ? `_${plain}`.slice(0, 100) : plain;
}
