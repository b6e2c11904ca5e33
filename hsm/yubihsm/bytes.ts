// Small big-endian byte helpers for the YubiHSM wire format.

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export const u8 = (v: number) => Uint8Array.of(v & 0xff);
export const u16 = (v: number) => Uint8Array.of((v >>> 8) & 0xff, v & 0xff);
export const u32 = (v: number) => Uint8Array.of((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
export function u64(v: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, v));
  return out;
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export function fromHex(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

/** A label as the device stores it: UTF-8, at most 40 bytes, zero-padded to 40. */
export function packLabel(label: string): Uint8Array {
  const bytes = new TextEncoder().encode(label);
  if (bytes.length > 40) throw new RangeError(`the label "${label}" is ${bytes.length} bytes long; a YubiHSM label holds at most 40`);
  const out = new Uint8Array(40);
  out.set(bytes);
  return out;
}

export function unpackLabel(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end === -1 ? bytes : bytes.subarray(0, end));
}

/** Sequential reader that throws a RangeError when the data runs out. */
export class Reader {
  private at = 0;
  constructor(private readonly data: Uint8Array) {}

  get remaining(): number {
    return this.data.length - this.at;
  }

  bytes(n: number): Uint8Array {
    if (n < 0 || this.at + n > this.data.length) throw new RangeError(`wanted ${n} bytes at offset ${this.at}, have ${this.remaining}`);
    const out = this.data.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  rest(): Uint8Array {
    return this.bytes(this.remaining);
  }

  u8(): number {
    return this.bytes(1)[0] as number;
  }

  u16(): number {
    const b = this.bytes(2);
    return ((b[0] as number) << 8) | (b[1] as number);
  }

  u32(): number {
    const b = this.bytes(4);
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0);
  }

  u64(): bigint {
    const b = this.bytes(8);
    return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0);
  }
}
