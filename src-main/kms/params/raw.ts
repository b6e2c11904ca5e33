// What a reader found, before validation: each part with the file it came from, so every later error can
// name that file.
import type { ParamsSource } from '../types.js';

export interface RawImportParameters {
  kind: ParamsSource['kind'];
  path: string;
  /** The key ARN or id as found, and where. */
  keyRef?: { value: string; from: string };
  publicKey: { der: Uint8Array; encoding: ParamsSource['publicKeyEncoding']; from: string };
  importToken: { token: Uint8Array; encoding: ParamsSource['importTokenEncoding']; from: string };
  /** ISO 8601 UTC, and where it was read. */
  validTo?: { iso: string; from: string };
  /** Notes for the room (unknown fields, things inferred from file names). */
  notes: string[];
}
