// Read import parameters from what the user chose on the stick: a CLI JSON file, a console zip, a folder
// (console download unpacked, or holding the JSON), or an explicit pair of public key and token files.
// Every file goes through the bounded reader: a regular file, capped for its kind, read in bounded memory.
import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { AppError } from '../../errors.js';
import { checkLength, FILE_CAPS, readBounded, type FileKind } from '../../files/read-bounded.js';
import type { ImportParameters } from '../types.js';
import { KMS_PARAMS_ERROR } from './arn.js';
import { parseCliJson } from './cli-json.js';
import { classify, parseConsoleFiles, type NamedFile } from './console.js';
import { decodeImportTokenFile, decodePublicKeyFile } from './encoding.js';
import type { RawImportParameters } from './raw.js';
import { finishImportParameters, type ImportParameterOptions } from './validate.js';
import { readZipEntries } from './zip.js';

export type ImportParametersInput = { path: string } | { publicKeyPath: string; importTokenPath: string };

const CHOOSE_PARAMS =
  'Choose the parameters themselves (a few KB): params.json from `aws kms get-parameters-for-import --output json`, the console zip, or the folder holding WrappingPublicKey.bin and ImportToken.bin.';
/** The file chosen as the parameters is read up to the zip's cap: only its first bytes say which it is. */
const PARAMS_FILE: FileKind = { what: 'import parameters file', cap: FILE_CAPS.importParametersZip, remedy: CHOOSE_PARAMS, code: KMS_PARAMS_ERROR };
const PARAMS_JSON: FileKind = { what: 'import parameters JSON file', cap: FILE_CAPS.importParametersJson, remedy: CHOOSE_PARAMS, code: KMS_PARAMS_ERROR };
/** A wrapping public key or an import token as a file of its own (in a folder, or chosen as a pair). */
const PARAMS_PART: FileKind = {
  what: 'wrapping public key or import token file',
  cap: FILE_CAPS.importParametersPart,
  remedy: 'Copy the wrapping public key and import token files themselves (not links to them) from the console download.',
  code: KMS_PARAMS_ERROR,
};

async function readFolder(dir: string): Promise<NamedFile[]> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: NamedFile[] = [];
  // Only files named like parameters are read (the folder may be the stick's root); links among them are refused.
  for (const e of entries) {
    if (classify(e.name) === 'other' || e.isDirectory()) continue;
    out.push({ name: e.name, data: new Uint8Array(await readBounded(join(dir, e.name), PARAMS_PART, { noFollow: true })) });
  }
  return out;
}

export async function readRawImportParameters(input: ImportParametersInput): Promise<RawImportParameters> {
  if ('publicKeyPath' in input) {
    const pub = decodePublicKeyFile(new Uint8Array(await readBounded(input.publicKeyPath, PARAMS_PART)), input.publicKeyPath);
    const tok = decodeImportTokenFile(new Uint8Array(await readBounded(input.importTokenPath, PARAMS_PART)), input.importTokenPath);
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
    st = await stat(path);
  } catch (e) {
    throw new AppError(KMS_PARAMS_ERROR, `${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)}).`, 'Check that the stick is still mounted and choose the parameters again.');
  }
  if (st.isDirectory()) return parseConsoleFiles(await readFolder(path), 'console-folder', path);
  const data = new Uint8Array(await readBounded(path, PARAMS_FILE));
  if (data[0] === 0x50 && data[1] === 0x4b && data[2] === 0x03 && data[3] === 0x04) {
    return parseConsoleFiles(readZipEntries(data, basename(path)), 'console-zip', path);
  }
  checkLength(path, data.length, PARAMS_JSON);
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
