// The KMS console download is a small zip. We read it from a stick someone else handed us, so before
// inflating anything we walk the central directory ourselves: entry count, declared sizes, names (no
// absolute paths, no `..`, no drive letters) and unix modes (no symlinks). Each vetted entry is then
// inflated with zlib told to stop at the size its header declares, and its CRC-32 checked, so a header
// that lies about its size (a zip bomb) is refused after at most that many bytes, never inflated whole.
import { crc32, inflateRawSync } from 'node:zlib';
import { AppError } from '../../errors.js';
import { describeCap, FILE_CAPS } from '../../files/read-bounded.js';
import { KMS_PARAMS_ERROR } from './arn.js';

export const ZIP_LIMITS = {
  /** The zip file itself. */
  fileBytes: FILE_CAPS.importParametersZip,
  entries: 32,
  /** Per entry, uncompressed: an import token is at most 6144 bytes, a public key under 1 KB. */
  entryBytes: FILE_CAPS.importParametersPart,
  totalBytes: 256 * 1024,
};

export interface ZipEntry {
  /** The path inside the zip, as stored. */
  name: string;
  data: Uint8Array;
}

interface CentralEntry {
  name: string;
  /** General purpose flags; bit 0 is encryption. */
  flags: number;
  /** 0 stored, 8 deflate. */
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  symlink: boolean;
  directory: boolean;
  localOffset: number;
}

const REMEDY = 'Use the zip exactly as the KMS console downloaded it, or unpack the wrapping key and import token into a folder and choose that.';

function bad(file: string, what: string, remedy = REMEDY): AppError {
  return new AppError(KMS_PARAMS_ERROR, `${file}: ${what}`, remedy);
}

/** Unsafe names are refused outright, not skipped: a hostile zip is not a parameters download. */
export function checkEntryName(name: string): string | undefined {
  if (name.includes('\0')) return 'contains a NUL character';
  if (name.startsWith('/') || name.startsWith('\\')) return 'is an absolute path';
  if (/^[A-Za-z]:/.test(name)) return 'names a drive';
  if (name.split(/[\\/]/).includes('..')) return 'climbs out of the folder with ..';
  return undefined;
}

function readCentralDirectory(zip: Buffer, file: string): CentralEntry[] {
  // End of central directory: 22 bytes + a comment of up to 65535 bytes.
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw bad(file, 'is not a zip file (no end of central directory).');
  const count = zip.readUInt16LE(eocd + 10);
  const cdSize = zip.readUInt32LE(eocd + 12);
  const cdOffset = zip.readUInt32LE(eocd + 16);
  if (count === 0xffff || cdOffset === 0xffffffff) throw bad(file, 'is a ZIP64 archive, far larger than a parameters download.');
  if (count > ZIP_LIMITS.entries) throw bad(file, `has ${count} entries; a parameters download has a few (limit ${ZIP_LIMITS.entries}).`);
  if (cdOffset + cdSize > eocd) throw bad(file, 'is truncated or corrupt (central directory out of range).');
  const entries: CentralEntry[] = [];
  let p = cdOffset;
  for (let n = 0; n < count; n++) {
    if (p + 46 > eocd || zip.readUInt32LE(p) !== 0x02014b50) throw bad(file, 'is truncated or corrupt (bad central directory entry).');
    const madeBy = zip.readUInt16LE(p + 4);
    const flags = zip.readUInt16LE(p + 8);
    const method = zip.readUInt16LE(p + 10);
    const crc = zip.readUInt32LE(p + 16);
    const compressedSize = zip.readUInt32LE(p + 20);
    const size = zip.readUInt32LE(p + 24);
    const nameLen = zip.readUInt16LE(p + 28);
    const extraLen = zip.readUInt16LE(p + 30);
    const commentLen = zip.readUInt16LE(p + 32);
    const external = zip.readUInt32LE(p + 38);
    const localOffset = zip.readUInt32LE(p + 42);
    const name = zip.subarray(p + 46, p + 46 + nameLen).toString('utf8');
    // Unix host (3): the high 16 bits of the external attributes are st_mode.
    const mode = madeBy >> 8 === 3 ? external >>> 16 : 0;
    entries.push({ name, flags, method, crc, compressedSize, size, symlink: (mode & 0o170000) === 0o120000, directory: name.endsWith('/') || (mode & 0o170000) === 0o040000, localOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

export function readZipEntries(zipBytes: Uint8Array, file: string): ZipEntry[] {
  if (zipBytes.length > ZIP_LIMITS.fileBytes) throw bad(file, `is ${zipBytes.length} bytes; a console download zip is at most ${describeCap(ZIP_LIMITS.fileBytes)}.`);
  const zip = Buffer.from(zipBytes.buffer, zipBytes.byteOffset, zipBytes.byteLength);
  const central = readCentralDirectory(zip, file);
  let total = 0;
  const wanted = new Map<string, CentralEntry>();
  for (const e of central) {
    const unsafe = checkEntryName(e.name);
    if (unsafe) throw bad(file, `entry ${JSON.stringify(e.name)} ${unsafe}.`);
    if (e.symlink) throw bad(file, `entry ${JSON.stringify(e.name)} is a symbolic link.`);
    if (e.directory) continue;
    if (e.size > ZIP_LIMITS.entryBytes) throw bad(file, `entry ${JSON.stringify(e.name)} is ${e.size} bytes uncompressed; an entry of a parameters download is at most ${describeCap(ZIP_LIMITS.entryBytes)}.`);
    total += e.size;
    if (total > ZIP_LIMITS.totalBytes) throw bad(file, `entries add up to more than ${describeCap(ZIP_LIMITS.totalBytes)} uncompressed.`);
    if (wanted.has(e.name)) throw bad(file, `holds entry ${JSON.stringify(e.name)} twice.`);
    wanted.set(e.name, e);
  }
  const out: ZipEntry[] = [];
  for (const [name, e] of wanted) {
    const data = inflateEntry(zip, e, file);
    if (data.length !== e.size || crc32(data) >>> 0 !== e.crc >>> 0) throw bad(file, `entry ${JSON.stringify(name)} is corrupt (size or CRC-32 does not match).`);
    out.push({ name, data: new Uint8Array(data) });
  }
  return out;
}

/** The entry's bytes, never more than its declared (and already capped) size. */
function inflateEntry(zip: Buffer, e: CentralEntry, file: string): Buffer {
  const entry = `entry ${JSON.stringify(e.name)}`;
  if (e.flags & 1) throw bad(file, `${entry} is encrypted; a parameters download is not.`);
  const p = e.localOffset;
  if (p + 30 > zip.length || zip.readUInt32LE(p) !== 0x04034b50) throw bad(file, `${entry} is truncated or corrupt (bad local header).`);
  const start = p + 30 + zip.readUInt16LE(p + 26) + zip.readUInt16LE(p + 28);
  const end = start + e.compressedSize;
  if (end > zip.length) throw bad(file, `${entry} is truncated or corrupt (its data runs past the end of the file).`);
  const raw = zip.subarray(start, end);
  if (e.method === 0) return raw;
  if (e.method !== 8) throw bad(file, `${entry} uses compression method ${e.method}; a parameters download uses deflate (8) or none (0).`);
  try {
    // zlib stops as soon as the output passes this, so a lying header costs at most one chunk more.
    return inflateRawSync(raw, { maxOutputLength: Math.max(1, e.size) });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw bad(file, `${entry} inflates to more than the ${e.size} bytes its header declares.`);
    throw bad(file, `${entry} could not be inflated (${error instanceof Error ? error.message : String(error)}).`);
  }
}
