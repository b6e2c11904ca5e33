// The KMS console download, as a zip or unpacked into a folder: the wrapping public key and the import
// token as binary files whose names vary by console version (`wrappingKey_<key id>_<time>`,
// `importToken_<key id>_<time>`, `WrappingPublicKey.bin`, `ImportToken.bin`), possibly a README. Files
// are classified by name only; two candidates for one part is an error that lists both, never a pick.
import { basename } from 'node:path';
import { AppError } from '../../errors.js';
import { KMS_PARAMS_ERROR } from './arn.js';
import { parseCliJson } from './cli-json.js';
import { decodeImportTokenFile, decodePublicKeyFile } from './encoding.js';
import type { RawImportParameters } from './raw.js';

export interface NamedFile {
  /** Path inside the zip or file name in the folder. */
  name: string;
  data: Uint8Array;
}

type Role = 'publicKey' | 'importToken' | 'readme' | 'json' | 'other';

const ID = '([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})';
const NAMED_ID = new RegExp(`^(?:wrappingKey|importToken)_${ID}_`, 'i');

export function classify(name: string): Role {
  const b = basename(name.replace(/\\/g, '/'));
  if (b.startsWith('.')) return 'other';
  if (/^wrapping_?key|^wrapping_?public_?key|public_?key/i.test(b)) return 'publicKey';
  if (/^import_?token/i.test(b)) return 'importToken';
  if (/^readme/i.test(b)) return 'readme';
  if (/\.json$/i.test(b)) return 'json';
  return 'other';
}

const ARN_IN_TEXT = /arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-z-]+/g;

export function parseConsoleFiles(files: readonly NamedFile[], kind: 'console-zip' | 'console-folder', path: string): RawImportParameters {
  const by: Record<Role, NamedFile[]> = { publicKey: [], importToken: [], readme: [], json: [], other: [] };
  for (const f of files) by[classify(f.name)].push(f);
  const list = (fs: NamedFile[]) => fs.map((f) => f.name).join(', ');
  const found = files.length === 0 ? 'nothing' : list([...files]);

  // A folder holding only the CLI's JSON output is that, not a console download.
  if (by.publicKey.length === 0 && by.importToken.length === 0 && by.json.length === 1) {
    const j = by.json[0] as NamedFile;
    return { ...parseCliJson(Buffer.from(j.data).toString('utf8'), `${path}/${j.name}`, path), path };
  }
  for (const [role, label, remedyName] of [
    ['publicKey', 'wrapping public key', 'WrappingPublicKey.bin (or wrappingKey_<key id>_<time>)'],
    ['importToken', 'import token', 'ImportToken.bin (or importToken_<key id>_<time>)'],
  ] as const) {
    const c = by[role];
    if (c.length === 0) {
      throw new AppError(KMS_PARAMS_ERROR, `${path} holds no ${label} file (found: ${found}).`, `Bring the complete console download; the ${label} is ${remedyName}.`);
    }
    if (c.length > 1) {
      throw new AppError(
        KMS_PARAMS_ERROR,
        `${path} holds ${c.length} candidate ${label} files: ${list(c)}.`,
        'Keep only the files of one GetParametersForImport download in the folder (the token and key must come from the same request).',
      );
    }
  }
  const pk = by.publicKey[0] as NamedFile;
  const tok = by.importToken[0] as NamedFile;
  const notes: string[] = [];
  const pub = decodePublicKeyFile(pk.data, `${path}/${pk.name}`);
  const token = decodeImportTokenFile(tok.data, `${path}/${tok.name}`);

  // The key the download belongs to: from the old-style file names and any ARN in a README.
  let keyRef: RawImportParameters['keyRef'];
  const ids = new Set<string>();
  for (const f of [pk, tok]) {
    const m = NAMED_ID.exec(basename(f.name));
    if (m) ids.add((m[1] as string).toLowerCase());
  }
  if (ids.size > 1) {
    throw new AppError(
      KMS_PARAMS_ERROR,
      `${path}: ${pk.name} and ${tok.name} name different keys.`,
      'The wrapping key and import token must come from the same download; download the parameters again.',
    );
  }
  const arns = new Set<string>();
  for (const r of by.readme) for (const m of Buffer.from(r.data).toString('utf8').matchAll(ARN_IN_TEXT)) arns.add(m[0]);
  if (arns.size === 1) {
    const arn = [...arns][0] as string;
    keyRef = { value: arn, from: `${path}/${(by.readme[0] as NamedFile).name}` };
    if (ids.size === 1 && !arn.endsWith(`/${[...ids][0]}`)) {
      throw new AppError(KMS_PARAMS_ERROR, `${path}: the README names ${arn} but the file names name key ${[...ids][0]}.`, 'Download the parameters again; these files do not belong together.');
    }
  } else if (ids.size === 1) {
    keyRef = { value: [...ids][0] as string, from: `the file name ${pk.name}` };
  }
  if (arns.size > 1) notes.push(`${path}: the README mentions several key ARNs (${[...arns].join(', ')}); none was taken.`);
  return {
    kind,
    path,
    ...(keyRef ? { keyRef } : {}),
    publicKey: { der: pub.der, encoding: pub.encoding, from: `${path}/${pk.name}` },
    importToken: { token: token.token, encoding: token.encoding, from: `${path}/${tok.name}` },
    notes,
  };
}
