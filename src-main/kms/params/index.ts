// Read import parameters from what the user chose on the stick: a CLI JSON file, a console zip, a folder
// (console download unpacked, or holding the JSON), or an explicit pair of public key and token files.
import { lstat, open, readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { AppError } from '../../errors.js';
import type { ImportParameters } from '../types.js';
import { KMS_PARAMS_ERROR } from './arn.js';
import { parseCliJson } from './cli-json.js';
import { classify, parseConsoleFiles, type NamedFile } from './console.js';
import { decodeImportTokenFile, decodePublicKeyFile } from './encoding.js';
import type { RawImportParameters } from './raw.js';
import { finishImportParameters, type ImportParameterOptions } from './validate.js';
import { ZIP_LIMITS, readZipEntries } from './zip.js';

export type ImportParametersInput = { path: string } | { publicKeyPath: string; importTokenPath: string };

/** Read at most `limit` bytes; a larger file is an error naming it, and nothing beyond is read. */
async function readCapped(path: string, limit: number): Promise<Uint8Array> {
  let st;
  try {
    st = await lstat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new AppError(KMS_PARAMS_ERROR, `${path} cannot be read (${code ?? String(e)}).`, 'Check that the stick is still mounted and choose the file again.');
  }
  if (st.isSymbolicLink()) throw new AppError(KMS_PARAMS_ERROR, `${path} is a symbolic link.`, 'Choose the file itself, not a link to it.');
  if (!st.isFile()) throw new AppError(KMS_PARAMS_ERROR, `${path} is not a regular file.`, 'Choose the parameters file or folder.');
  if (st.size > limit) throw new AppError(KMS_PARAMS_ERROR, `${path} is ${st.size} bytes (limit ${limit}).`, 'Choose the parameters themselves; they are a few KB.');
  const h = await open(path, 'r');
  try {
    const buf = Buffer.alloc(limit + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await h.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n > limit) throw new AppError(KMS_PARAMS_ERROR, `${path} grew past ${limit} bytes while being read.`, 'Choose the parameters themselves; they are a few KB.');
    }
    return new Uint8Array(buf.subarray(0, n));
  } finally {
    await h.close();
  }
}

async function readFolder(dir: string): Promise<NamedFile[]> {
  const names = (await readdir(dir)).sort();
  const out: NamedFile[] = [];
  // Only files named like parameters are read (the folder may be the stick's root); each one is capped.
  for (const name of names) {
    if (classify(name) === 'other') continue;
    const st = await lstat(join(dir, name));
    if (st.isDirectory()) continue;
    if (st.isSymbolicLink()) throw new AppError(KMS_PARAMS_ERROR, `${join(dir, name)} is a symbolic link.`, 'Copy the parameter files themselves into the folder.');
    out.push({ name, data: await readCapped(join(dir, name), ZIP_LIMITS.entryBytes) });
  }
  return out;
}

export async function readRawImportParameters(input: ImportParametersInput): Promise<RawImportParameters> {
  if ('publicKeyPath' in input) {
    const pub = decodePublicKeyFile(await readCapped(input.publicKeyPath, ZIP_LIMITS.entryBytes), input.publicKeyPath);
    const tok = decodeImportTokenFile(await readCapped(input.importTokenPath, ZIP_LIMITS.entryBytes), input.importTokenPath);
    return {
      kind: 'files',
      path: input.publicKeyPath,
      publicKey: { der: pub.der, encoding: pub.encoding, from: input.publicKeyPath },
      importToken: { token: tok.token, encoding: tok.encoding, from: input.importTokenPath },
      notes: [],
    };
  }
  const path = input.path;
  let st;
  try {
    st = await lstat(path);
  } catch (e) {
    throw new AppError(KMS_PARAMS_ERROR, `${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)}).`, 'Check that the stick is still mounted and choose the parameters again.');
  }
  if (st.isDirectory()) return parseConsoleFiles(await readFolder(path), 'console-folder', path);
  const data = await readCapped(path, ZIP_LIMITS.fileBytes);
  if (data[0] === 0x50 && data[1] === 0x4b && data[2] === 0x03 && data[3] === 0x04) {
    return parseConsoleFiles(readZipEntries(data, basename(path)), 'console-zip', path);
  }
  const text = Buffer.from(data).toString('utf8').trimStart();
  if (text.startsWith('{')) return parseCliJson(text, path);
  throw new AppError(
    KMS_PARAMS_ERROR,
    `${path} is neither the JSON printed by get-parameters-for-import nor a console zip.`,
    'Choose params.json from `aws kms get-parameters-for-import --output json`, the console zip, or the folder holding WrappingPublicKey.bin and ImportToken.bin.',
  );
}

export async function readImportParameters(input: ImportParametersInput, options: ImportParameterOptions): Promise<ImportParameters> {
  return finishImportParameters(await readRawImportParameters(input), options);
}

export { finishImportParameters, type ImportParameterOptions } from './validate.js';
export { parseCliJson } from './cli-json.js';
export { parseConsoleFiles } from './console.js';
export { readZipEntries, ZIP_LIMITS } from './zip.js';
export { parseKeyRef, KMS_PARAMS_ERROR } from './arn.js';
