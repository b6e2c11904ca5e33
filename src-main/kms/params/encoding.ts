// The two parts of the parameters arrive as raw binary (console download), base64 text (CLI output copied
// into a file) or PEM (the public key, converted by someone with openssl). Decide by content, strictly:
// a file that is half one and half the other is an error, never a guess.
import { AppError } from '../../errors.js';
import { KMS_PARAMS_ERROR } from './arn.js';

const BASE64_TEXT = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;

/** Strict base64: canonical alphabet, correct padding, re-encodes to the same text. */
export function decodeBase64Strict(text: string, field: string): Uint8Array {
  const compact = text.replace(/\s+/g, '');
  if (compact === '' || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 !== 0) {
    throw new AppError(KMS_PARAMS_ERROR, `${field} is not valid base64.`, 'Copy the value again exactly as the AWS CLI printed it, without quotes or line breaks in the middle of characters.');
  }
  const bytes = Buffer.from(compact, 'base64');
  if (bytes.toString('base64') !== compact) {
    throw new AppError(KMS_PARAMS_ERROR, `${field} is not valid base64 (it does not decode cleanly).`, 'Copy the value again exactly as the AWS CLI printed it.');
  }
  return new Uint8Array(bytes);
}

function asText(data: Uint8Array): string | undefined {
  // Text files are ASCII here; anything with other bytes is binary.
  for (const b of data) if (b > 0x7e || (b < 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09)) return undefined;
  return Buffer.from(data).toString('ascii');
}

/** A public key file: DER (binary), PEM "PUBLIC KEY", or base64 of the DER. */
export function decodePublicKeyFile(data: Uint8Array, field: string): { der: Uint8Array; encoding: 'der' | 'pem' | 'base64' } {
  const text = asText(data);
  if (text === undefined) return { der: data, encoding: 'der' };
  const pem = /-----BEGIN ([A-Z ]+)-----([\s\S]*?)-----END \1-----/.exec(text);
  if (pem) {
    if (pem[1] !== 'PUBLIC KEY') {
      throw new AppError(
        KMS_PARAMS_ERROR,
        `${field} is a PEM "${pem[1]}", not a "PUBLIC KEY" (SubjectPublicKeyInfo).`,
        'Use the wrapping public key from the import parameters; convert with `openssl pkey -pubin -inform DER -in WrappingPublicKey.bin -out key.pem` if needed.',
      );
    }
    return { der: decodeBase64Strict(pem[2] as string, field), encoding: 'pem' };
  }
  if (BASE64_TEXT.test(text)) return { der: decodeBase64Strict(text, field), encoding: 'base64' };
  throw new AppError(KMS_PARAMS_ERROR, `${field} is text but neither PEM nor base64.`, 'Use the binary file from the KMS console, or the PublicKey value printed by the AWS CLI.');
}

/**
 * An import token file: binary (console download) or base64 text (the CLI's ImportToken copied into a
 * file). A binary token that happened to be all base64 characters is astronomically unlikely: the token is
 * ciphertext of hundreds of bytes.
 */
export function decodeImportTokenFile(data: Uint8Array, field: string): { token: Uint8Array; encoding: 'binary' | 'base64' } {
  const text = asText(data);
  if (text !== undefined && data.length > 0 && BASE64_TEXT.test(text)) return { token: decodeBase64Strict(text, field), encoding: 'base64' };
  return { token: data, encoding: 'binary' };
}
